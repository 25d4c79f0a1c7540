package auth

import "time"

// CredentialSnapshot is a read-only view of one credential and its health.
// It holds no secret: the key appears only as its fingerprint.
type CredentialSnapshot struct {
	Name        string   `json:"name"`
	Provider    Provider `json:"provider"`
	Fingerprint string   `json:"fingerprint"`
	Priority    int      `json:"priority"`
	Weight      int      `json:"weight"`
	Group       string   `json:"group,omitempty"`
	// Email names the account of an OAuth credential.
	Email string `json:"email,omitempty"`
	// Source is the auth file the credential came from, "" for config.
	Source string `json:"source,omitempty"`
	// Skipped is why an auth file serves nothing (status skipped).
	Skipped string `json:"skipped,omitempty"`
	// Label and Note are the operator's words about the credential.
	Label string `json:"label,omitempty"`
	Note  string `json:"note,omitempty"`
	// Prefix is the model prefix the credential serves under.
	Prefix string `json:"prefix,omitempty"`
	// RequestRetry is how many more times a transient failure is retried
	// on the credential before the next one is tried.
	RequestRetry int  `json:"request_retry,omitempty"`
	Disabled     bool `json:"disabled"`
	// Status aggregates the states: disabled; cooldown or blocked when the
	// whole credential is out; degraded when some models are; else
	// available.
	Status Status `json:"status"`
	// Unavailable is set when the credential serves nothing now: disabled,
	// blocked as a whole, or blocked for every model it has a state for
	// and every model it has served.
	Unavailable bool `json:"unavailable"`
	// NextRetryAfter is when an unavailable credential may serve again;
	// zero when it is available or only an operator can bring it back.
	NextRetryAfter time.Time `json:"next_retry_after,omitzero"`
	// Quota is the quota in force, aggregated over the states, with the
	// usage windows the upstream reported last. Always set.
	Quota *QuotaSnapshot `json:"quota"`
	// ModelList is Models as a list ordered by name, each with the block
	// in force (reason, next retry).
	ModelList []ModelAvailability `json:"model_states"`
	// Whole is the credential-wide state, nil when there is none.
	Whole *ModelState `json:"whole,omitempty"`
	// Models are the per-model states that exist (models never failed
	// have none).
	Models map[string]ModelState `json:"models,omitempty"`
	// OAuth is the token refresh state of an OAuth credential: when the
	// token expires, and refreshes failing in a row with the last error
	// (a refresh that keeps failing shows here before the token runs
	// out). Nil for an API key.
	OAuth *RefreshState `json:"oauth,omitempty"`
}

// RefreshState is the token refresh state of an OAuth credential. It
// carries no secret.
type RefreshState struct {
	// Expiry is when the access token expires (zero: unknown).
	Expiry time.Time `json:"expiry,omitzero"`
	// RefreshAt is when the token is due for a refresh (zero: only when
	// the upstream rejects it).
	RefreshAt time.Time `json:"refresh_at,omitzero"`
	// LastRefresh is when the last successful refresh finished.
	LastRefresh time.Time `json:"last_refresh,omitzero"`
	// Failures counts consecutive failed refreshes; RetryAt is when the
	// next attempt may be made and LastError describes the last failure.
	Failures  int       `json:"failures"`
	RetryAt   time.Time `json:"retry_at,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// Revoked is set when the refresh token is dead; Reason says why.
	Revoked bool   `json:"revoked,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// RefreshReporter is a TokenProvider that tells its refresh state, shown
// in the credential's snapshot.
type RefreshReporter interface {
	RefreshState() RefreshState
}

// StatusDegraded: some models of the credential are blocked, not all.
const StatusDegraded Status = "degraded"

// StatusSkipped: an auth file the gateway does not serve (its type, or no
// key); Skipped says why.
const StatusSkipped Status = "skipped"

// Snapshot returns the state of every credential, ordered by name, with
// blocks that have ended shown as lifted.
func (p *Pool) Snapshot() []CredentialSnapshot {
	now := p.Now()
	out := make([]CredentialSnapshot, 0, len(p.creds))
	for _, c := range p.creds {
		out = append(out, p.snapshotOf(c, now))
	}
	return out
}

func (p *Pool) snapshotOf(c *Credential, now time.Time) CredentialSnapshot {
	s := CredentialSnapshot{
		Name:         c.Name,
		Provider:     c.Provider,
		Fingerprint:  c.Fingerprint(),
		Priority:     c.Priority,
		Weight:       c.Weight,
		Group:        c.Group,
		Email:        c.Email,
		Source:       c.Source,
		Label:        c.Label,
		Note:         c.Note,
		Prefix:       c.Prefix,
		RequestRetry: c.RequestRetry,
		Disabled:     c.Disabled,
		Status:       StatusAvailable,
	}
	if r, ok := c.OAuth.(RefreshReporter); ok {
		st := r.RefreshState()
		s.OAuth = &st
	}
	h := p.health[c]
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.whole != nil {
		w := *h.whole
		w.Status = h.whole.status(now)
		s.Whole = &w
		if w.Status != StatusAvailable {
			s.Status = w.Status
		}
	}
	if len(h.models) > 0 {
		s.Models = make(map[string]ModelState, len(h.models))
		for m, st := range h.models {
			v := *st
			v.Status = st.status(now)
			s.Models[m] = v
			if v.Status != StatusAvailable && s.Status == StatusAvailable {
				s.Status = StatusDegraded
			}
		}
	}
	if c.Disabled {
		s.Status = StatusDisabled
	}
	aggregate(&s, now, h.served)
	if ws := quotaAt(h.quota, now); ws != nil {
		s.Quota.Windows = ws
	}
	return s
}
