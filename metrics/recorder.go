package metrics

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/outcome"
)

// Recorder is one handler's view of the metrics: the outcome.Recorder its
// executor reports to, and the credentials and members it holds (a series
// goes once no handler holds its credential or member).
type Recorder struct {
	set  *metricSet
	pool func() *auth.Pool

	mu      sync.Mutex
	creds   []credLabels
	members []string
	keyed   map[string]bool // members, to look up
	// identities are the members admitted by client_identity that have a
	// series, up to maxIdentitySeries; the rest count as otherMember
	identities map[string]bool
}

// maxIdentitySeries bounds the member label values one handler's
// client_identity members make; an auth service in front decides how many
// members there are, and a series is kept per member and credential.
const maxIdentitySeries = 1000

// otherMember is the member label of the identities past maxIdentitySeries.
const otherMember = "(other)"

// NewRecorder registers the collectors into reg (once per registry) and
// returns a handler's recorder; pool returns the handler's current pool,
// whose credentials' health is read at scrape time.
func NewRecorder(reg *prometheus.Registry, pool func() *auth.Pool) (*Recorder, error) {
	set := metricsSet()
	if err := set.register(reg); err != nil {
		return nil, err
	}
	hm := &Recorder{set: set, pool: pool}
	set.state.add(hm)
	return hm, nil
}

// Track makes pool's credentials and members the handler's, releasing
// those it had before (the auth directory changed).
func (hm *Recorder) Track(pool *auth.Pool, members []string) {
	creds := make([]credLabels, 0, len(pool.Credentials()))
	for _, c := range pool.Credentials() {
		creds = append(creds, credLabelsOf(c))
	}
	hm.mu.Lock()
	defer hm.mu.Unlock()
	// hold before release: a credential kept must not lose its series
	hm.set.hold(creds, members)
	hm.set.release(hm.creds, hm.members)
	hm.creds, hm.members = creds, members
	hm.keyed = make(map[string]bool, len(members))
	for _, n := range members {
		hm.keyed[n] = true
	}
}

// Close releases everything the handler held.
func (hm *Recorder) Close() {
	hm.set.state.remove(hm)
	hm.mu.Lock()
	defer hm.mu.Unlock()
	hm.set.release(hm.creds, hm.members)
	hm.creds, hm.members = nil, nil
	ids := make([]string, 0, len(hm.identities))
	for n := range hm.identities {
		ids = append(ids, n)
	}
	hm.set.release(nil, ids)
	hm.identities = nil
}

// memberLabel is the member label of a request of member: its name when
// it has a client key, or is one of the first maxIdentitySeries members
// admitted by an identity; otherMember past that.
func (hm *Recorder) memberLabel(member string) string {
	hm.mu.Lock()
	defer hm.mu.Unlock()
	if hm.identities[member] || hm.keyed[member] {
		return member
	}
	if len(hm.identities) >= maxIdentitySeries {
		member = otherMember
		if hm.identities[member] {
			return member
		}
	}
	if hm.identities == nil {
		hm.identities = make(map[string]bool)
	}
	hm.identities[member] = true
	hm.set.hold(nil, []string{member})
	return member
}

// statusClasses are the status label values, by hundreds.
var statusClasses = [...]string{"error", "1xx", "2xx", "3xx", "4xx", "5xx"}

func statusClass(status int) string {
	if i := status / 100; status > 0 && i < len(statusClasses) {
		return statusClasses[i]
	}
	if status == 0 {
		return "error"
	}
	return strconv.Itoa(status/100) + "xx"
}

// Attempt implements outcome.Recorder.
func (hm *Recorder) Attempt(a outcome.Attempt) {
	p, n := a.Provider, a.Credential
	hm.set.attempts.WithLabelValues(p, n, statusClass(a.Status)).Inc()
	if a.Status != 0 {
		hm.set.ttfb.WithLabelValues(p, n).Observe(a.FirstByte.Seconds())
	}
}

// Failure implements outcome.Recorder; failures are counted as
// attempts and requests.
func (hm *Recorder) Failure(outcome.Failure) {}

// Request implements outcome.Recorder.
func (hm *Recorder) Request(r *outcome.Request) {
	for _, name := range r.Affinity {
		hm.set.affinity.WithLabelValues(name).Inc()
	}
	p, n := r.Provider, r.Credential
	hm.set.requests.WithLabelValues(p, n, statusClass(r.Status)).Inc()
	u := r.Tokens
	if n == "" || u == (outcome.Tokens{}) {
		return
	}
	member := hm.memberLabel(r.Client)
	for _, k := range [...]struct {
		kind string
		n    int64
	}{{"input", u.Input}, {"output", u.Output}, {"cache_read", u.CacheRead}, {"cache_creation", u.CacheCreation}} {
		hm.set.tokens.WithLabelValues(p, n, member, k.kind).Add(float64(max(k.n, 0)))
	}
}

// Interface guard
var _ outcome.Recorder = (*Recorder)(nil)
