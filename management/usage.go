package management

import (
	"sync"
	"time"

	"github.com/caddy-cliproxy/cliproxy/outcome"
)

// Tokens counts tokens by kind.
type Tokens = outcome.Tokens

// Totals are the usage of one credential or member since the stats began.
type Totals struct {
	// Requests counts the requests answered.
	Requests int64 `json:"requests"`
	// Errors counts those answered with a status of 400 or more, or with
	// none (the client went away).
	Errors int64  `json:"errors"`
	Tokens Tokens `json:"tokens"`
}

func (t *Totals) add(status int, tokens Tokens) {
	t.Requests++
	if status == 0 || status >= 400 {
		t.Errors++
	}
	t.Tokens.Add(tokens)
}

// UsageStats keeps usage totals per credential and per member in memory,
// and their Timeline per minute. It is fed once per finished request and
// safe for concurrent use. Its size is bounded by the number of credential
// and member names, which the configuration bounds.
type UsageStats struct {
	timeline *Timeline

	mu          sync.Mutex
	since       time.Time
	total       Totals
	credentials map[string]*Totals
	members     map[string]*Totals
}

// NewUsageStats returns empty stats starting now.
func NewUsageStats() *UsageStats {
	return &UsageStats{
		timeline:    NewTimeline(),
		since:       time.Now().UTC(),
		credentials: make(map[string]*Totals),
		members:     make(map[string]*Totals),
	}
}

// Record adds one request of member, answered by credential ("" when no
// credential answered) with status, that cost tokens.
func (u *UsageStats) Record(credential, member string, status int, tokens Tokens) {
	u.timeline.Record(credential, member, status, tokens)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.total.add(status, tokens)
	if credential != "" {
		entry(u.credentials, credential).add(status, tokens)
	}
	if member != "" {
		entry(u.members, member).add(status, tokens)
	}
}

// Request implements outcome.Recorder: the totals count every finished
// request.
func (u *UsageStats) Request(r *outcome.Request) {
	u.Record(r.Credential, r.Client, r.Status, r.Tokens)
}

// Attempt implements outcome.Recorder; attempts are not counted.
func (u *UsageStats) Attempt(outcome.Attempt) {}

// Failure implements outcome.Recorder; failures are counted by Request.
func (u *UsageStats) Failure(outcome.Failure) {}

var _ outcome.Recorder = (*UsageStats)(nil)

// entry returns m's value for name, made on first use.
func entry[T any](m map[string]*T, name string) *T {
	v := m[name]
	if v == nil {
		v = new(T)
		m[name] = v
	}
	return v
}

// UsageReport is a copy of the stats.
type UsageReport struct {
	Since       time.Time         `json:"since"`
	Total       Totals            `json:"total"`
	Credentials map[string]Totals `json:"credentials"`
	Members     map[string]Totals `json:"members"`
}

// Report returns a copy of the totals.
func (u *UsageStats) Report() UsageReport {
	u.mu.Lock()
	defer u.mu.Unlock()
	r := UsageReport{
		Since:       u.since,
		Total:       u.total,
		Credentials: make(map[string]Totals, len(u.credentials)),
		Members:     make(map[string]Totals, len(u.members)),
	}
	for k, v := range u.credentials {
		r.Credentials[k] = *v
	}
	for k, v := range u.members {
		r.Members[k] = *v
	}
	return r
}

// Credential returns the totals of one credential.
func (u *UsageStats) Credential(name string) Totals {
	u.mu.Lock()
	defer u.mu.Unlock()
	if t := u.credentials[name]; t != nil {
		return *t
	}
	return Totals{}
}

// Timeline returns the per-minute usage of the last day.
func (u *UsageStats) Timeline() *Timeline { return u.timeline }
