package cliproxy

import (
	"errors"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/outcome"
)

// The collectors are made once per process and registered into the
// registry of every config that loads, as Caddy's own HTTP metrics are: a
// reload gets a new registry, and the counters carry on in it.
var (
	metricsOnce sync.Once
	allMetrics  *metricSet
)

// metricSet is every cliproxy collector, and which credentials and members
// the live handlers have, so that the series of one no handler has any
// more are deleted.
type metricSet struct {
	requests *prometheus.CounterVec
	attempts *prometheus.CounterVec
	affinity *prometheus.CounterVec
	ttfb     *prometheus.HistogramVec
	tokens   *prometheus.CounterVec
	state    *stateCollector

	mu      sync.Mutex
	creds   map[credLabels]int // handlers having each credential
	members map[string]int     // handlers having each member
}

// credLabels are the labels naming a credential in every series.
type credLabels struct{ provider, credential string }

func credLabelsOf(c *auth.Credential) credLabels {
	return credLabels{string(c.Provider), c.Name}
}

func metricsSet() *metricSet {
	metricsOnce.Do(func() {
		const ns, sub = "caddy", "cliproxy"
		byCredStatus := []string{"provider", "credential", "status"}
		allMetrics = &metricSet{
			requests: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "requests_total",
				Help: "Requests answered, by the provider and credential that served the answer (empty when the gateway answered itself) and status class.",
			}, byCredStatus),
			attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "attempts_total",
				Help: "Upstream attempts, by provider, credential and the upstream's status class (error: no answer).",
			}, byCredStatus),
			affinity: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "affinity_total",
				Help: "Session affinity picks of requests with a session, by outcome: hit, miss, rebind, detour.",
			}, []string{"outcome"}),
			ttfb: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Namespace: ns, Subsystem: sub, Name: "upstream_ttfb_seconds",
				Help:    "Time from sending an upstream attempt to its response header, by provider and credential.",
				Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120},
			}, []string{"provider", "credential"}),
			tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "tokens_total",
				Help: "Tokens the upstreams reported, by provider, credential, member and kind (input, output, cache_read, cache_creation).",
			}, []string{"provider", "credential", "member", "kind"}),
			state:   newStateCollector(ns, sub),
			creds:   make(map[credLabels]int),
			members: make(map[string]int),
		}
	})
	return allMetrics
}

// register adds the collectors to reg; a second handler of the same config
// finds them there already.
func (m *metricSet) register(reg *prometheus.Registry) error {
	for _, c := range []prometheus.Collector{m.requests, m.attempts, m.affinity, m.ttfb, m.tokens, m.state} {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if errors.As(err, &already) && already.ExistingCollector == c {
				continue
			}
			return err
		}
	}
	return nil
}

// hold counts one more handler having each of creds and members.
func (m *metricSet) hold(creds []credLabels, members []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range creds {
		m.creds[c]++
	}
	for _, n := range members {
		m.members[n]++
	}
}

// release counts one handler less having each of creds and members, and
// deletes the series of those no handler has any more.
func (m *metricSet) release(creds []credLabels, members []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range creds {
		if m.creds[c]--; m.creds[c] > 0 {
			continue
		}
		delete(m.creds, c)
		l := prometheus.Labels{"provider": c.provider, "credential": c.credential}
		m.requests.DeletePartialMatch(l)
		m.attempts.DeletePartialMatch(l)
		m.ttfb.DeletePartialMatch(l)
		m.tokens.DeletePartialMatch(l)
	}
	for _, n := range members {
		if m.members[n]--; m.members[n] > 0 {
			continue
		}
		delete(m.members, n)
		m.tokens.DeletePartialMatch(prometheus.Labels{"member": n})
	}
}

// handlerMetrics is one handler's view of the metrics: the observer its
// executor reports to, and the credentials and members it holds.
type handlerMetrics struct {
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

func newHandlerMetrics(reg *prometheus.Registry, pool func() *auth.Pool) (*handlerMetrics, error) {
	set := metricsSet()
	if err := set.register(reg); err != nil {
		return nil, err
	}
	hm := &handlerMetrics{set: set, pool: pool}
	set.state.add(hm)
	return hm, nil
}

// track makes pool's credentials and members the handler's, releasing
// those it had before (the auth directory changed).
func (hm *handlerMetrics) track(pool *auth.Pool, members []string) {
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

// close releases everything the handler held.
func (hm *handlerMetrics) close() {
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
func (hm *handlerMetrics) memberLabel(member string) string {
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
func (hm *handlerMetrics) Attempt(a outcome.Attempt) {
	p, n := a.Provider, a.Credential
	hm.set.attempts.WithLabelValues(p, n, statusClass(a.Status)).Inc()
	if a.Status != 0 {
		hm.set.ttfb.WithLabelValues(p, n).Observe(a.FirstByte.Seconds())
	}
}

// Failure implements outcome.Recorder; failures are counted as
// attempts and requests.
func (hm *handlerMetrics) Failure(outcome.Failure) {}

// Request implements outcome.Recorder.
func (hm *handlerMetrics) Request(r *outcome.Request) {
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
var _ outcome.Recorder = (*handlerMetrics)(nil)

// redisUp is the caddy_cliproxy_redis_up gauge of one metrics registry:
// 1 while the pool's Redis state is reachable, 0 while the pool serves
// from its local state.
func redisUp(reg *prometheus.Registry) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "caddy",
		Subsystem: "cliproxy",
		Name:      "redis_up",
		Help:      "Whether the pool's Redis state is reachable (1) or the pool serves from local state (0).",
	}, []string{"pool"})
	if reg == nil {
		return g
	}
	if err := reg.Register(g); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.GaugeVec); ok {
				return existing
			}
		}
	}
	return g
}
