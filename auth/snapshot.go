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
	Source   string `json:"source,omitempty"`
	Disabled bool   `json:"disabled"`
	// Status aggregates the states: disabled; cooldown or blocked when the
	// whole credential is out; degraded when some models are; else
	// available.
	Status Status `json:"status"`
	// Whole is the credential-wide state, nil when there is none.
	Whole *ModelState `json:"whole,omitempty"`
	// Models are the per-model states that exist (models never failed
	// have none).
	Models map[string]ModelState `json:"models,omitempty"`
	// Quota holds the usage windows the upstream reported last; nil
	// when it never reported one.
	Quota *QuotaSnapshot `json:"quota,omitempty"`
	// OAuth is the token refresh state of an OAuth credential: when the
	// token expires, and refreshes failing in a row with the last error
	// (a refresh that keeps failing shows here before the token runs
	// out). Nil for an API key.
	OAuth *RefreshState `json:"oauth,omitempty"`
}

// QuotaSnapshot is a credential's usage windows as they stand (a window
// past its reset shows as empty).
type QuotaSnapshot struct {
	Windows []QuotaWindow `json:"windows"`
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
		Name:        c.Name,
		Provider:    c.Provider,
		Fingerprint: c.Fingerprint(),
		Priority:    c.Priority,
		Weight:      c.Weight,
		Group:       c.Group,
		Email:       c.Email,
		Source:      c.Source,
		Disabled:    c.Disabled,
		Status:      StatusAvailable,
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
	if ws := quotaAt(h.quota, now); ws != nil {
		s.Quota = &QuotaSnapshot{Windows: ws}
	}
	if c.Disabled {
		s.Status = StatusDisabled
	}
	return s
}
