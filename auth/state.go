package auth

import (
	"net/http"
	"sync"
	"time"
)

// BlockReason says why a credential may not serve a model for now. Reasons
// are kept apart so an operator can tell a quota cooldown from a broken key.
type BlockReason string

// The reasons a credential can be blocked.
const (
	// BlockCooldown: the upstream said the quota or rate limit is spent.
	BlockCooldown BlockReason = "cooldown"
	// BlockDisabled: an operator disabled the credential.
	BlockDisabled BlockReason = "disabled"
	// BlockOther: authentication errors, unknown models and transient
	// upstream faults.
	BlockOther BlockReason = "other"
)

// Status is the state a credential is in for a model.
type Status string

// The statuses of a ModelState.
const (
	StatusAvailable Status = "available"
	StatusCooldown  Status = "cooldown"
	StatusBlocked   Status = "blocked"
	// StatusProbing: the hinted recovery is past max_cooldown; one real
	// request at a time checks, every probe interval, whether the quota
	// came back early.
	StatusProbing  Status = "probing"
	StatusDisabled Status = "disabled"
)

// LastError describes the last failure of a credential. Message is built
// from the status and the gateway's own words or the provider's error
// type, never from a secret.
type LastError struct {
	Status  int       `json:"status"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
}

// Quota is what the upstream said about a spent quota or rate limit.
type Quota struct {
	Exceeded bool `json:"exceeded"`
	// Reason names the limit, e.g. "rate_limit", "unified_5h",
	// "usage_limit_reached", "resource_exhausted".
	Reason string `json:"reason,omitempty"`
	// NextRecoverAt is when the upstream said the quota comes back.
	NextRecoverAt time.Time `json:"next_recover_at,omitempty"`
	// BackoffLevel counts rate-limit windows without a hint in a row.
	BackoffLevel int `json:"backoff_level"`
}

// ModelState is the health of one credential for one model (or, for the
// credential-wide state, for all of them).
type ModelState struct {
	Status Status `json:"status"`
	// Reason is why it is blocked; "" when available.
	Reason BlockReason `json:"reason,omitempty"`
	// LastError is the last failure; zero if none since the last success.
	LastError LastError `json:"last_error"`
	// NextRetryAfter is when the credential may serve again; zero when it
	// is not blocked.
	NextRetryAfter time.Time `json:"next_retry_after,omitempty"`
	Quota          Quota     `json:"quota"`

	nextProbe time.Time
}

// Outcome is what one upstream attempt ended with.
type Outcome struct {
	// Status is the upstream's HTTP status; 0 means the connection failed
	// before a response arrived.
	Status int
	// Hint is what the upstream said about when to come back.
	Hint Hint
	// ModelNotFound marks a 404 that says the model does not exist for
	// this credential.
	ModelNotFound bool
	// Revoked marks an OAuth credential whose refresh token was refused
	// for good (invalid_grant, refresh_token_reused): it is disabled
	// until its file is replaced.
	Revoked bool
	// Message is a short, secret-free description (e.g. the provider's
	// error type); "" uses the status text.
	Message string
}

// Policy sets the cooldowns the pool applies.
type Policy struct {
	// TransientCooldown blocks a credential after 408, 5xx, 529 or a
	// connection error. Default: 60s.
	TransientCooldown time.Duration
	// MaxCooldown caps a hinted block; past it the credential is probed.
	// Default: 5h.
	MaxCooldown time.Duration
	// ProbeInterval is how often a credential whose hinted recovery lies
	// past MaxCooldown gets one real request to check. Default: 10m.
	ProbeInterval time.Duration
}

// The defaults of Policy, and the fixed blocks of DESIGN §7.
const (
	DefaultTransientCooldown = 60 * time.Second
	DefaultMaxCooldown       = 5 * time.Hour
	DefaultProbeInterval     = 10 * time.Minute

	backoffBase      = time.Second
	backoffMax       = 30 * time.Minute
	authFailureBlock = 30 * time.Minute
	modelNotFound    = 12 * time.Hour
	maxModelStates   = 1024
	// maxServedModels bounds the models a credential remembers serving:
	// they are the upstream's real models, a few dozen at most
	maxServedModels = 256
)

func (p Policy) withDefaults() Policy {
	if p.TransientCooldown <= 0 {
		p.TransientCooldown = DefaultTransientCooldown
	}
	if p.MaxCooldown <= 0 {
		p.MaxCooldown = DefaultMaxCooldown
	}
	if p.ProbeInterval <= 0 {
		p.ProbeInterval = DefaultProbeInterval
	}
	return p
}

// credentialHealth holds the states of one credential: one per model and
// one for the whole credential (an account-wide limit).
type credentialHealth struct {
	mu     sync.RWMutex
	models map[string]*ModelState
	whole  *ModelState
	// served are the models the credential answered a request for with
	// success: models the upstream knows, unlike the names of requests
	// it refused, which any member can make up
	served map[string]struct{}
	// quota are the usage windows its upstream reported last
	quota  []quotaEntry
	source string // the auth file of the credential, "" for config
	key    string // as Health keys it
	owner  *Health
}

// report tells the owner's HealthSync, if any, of the states changes
// made; callers have released h.mu.
func (h *credentialHealth) report(changes ...SharedState) {
	if h.owner == nil {
		return
	}
	if s := h.owner.Sync(); s != nil {
		for _, c := range changes {
			s.Changed(c)
		}
	}
}

// syncing reports whether changes to h must be reported.
func (h *credentialHealth) syncing() bool {
	return h.owner != nil && h.owner.sync.Load() != nil
}

// apply records a failure into st and returns whether it blocks.
func (p Policy) apply(st *ModelState, o Outcome, now time.Time) {
	wasProbing := st.probing(now)
	st.LastError = LastError{Status: o.Status, Message: o.Message, Time: now}
	if st.LastError.Message == "" {
		st.LastError.Message = describe(o.Status)
	}
	hint := o.Hint.RetryAfter
	if o.Revoked {
		p.block(st, BlockDisabled, maxHint, now)
		st.Status = StatusDisabled
		return
	}
	switch s := o.Status; {
	case s == http.StatusTooManyRequests || o.Hint.Whole:
		reason := o.Hint.Reason
		if reason == "" {
			reason = "rate_limit"
		}
		st.Quota.Exceeded, st.Quota.Reason = true, reason
		if wasProbing {
			// the probe found the quota still spent: probe again later,
			// keeping the latest recovery the upstream announced
			recover := later(st.Quota.NextRecoverAt, now.Add(hint))
			p.block(st, BlockCooldown, p.ProbeInterval, now)
			st.Quota.NextRecoverAt = later(recover, st.Quota.NextRecoverAt)
			return
		}
		if hint > 0 {
			p.block(st, BlockCooldown, hint, now)
			return
		}
		if st.Reason == BlockCooldown && now.Before(st.NextRetryAfter) {
			// requests that were in flight when the window opened do
			// not escalate it: the backoff grows once per window
			return
		}
		d := min(backoffBase<<min(st.Quota.BackoffLevel, 20), backoffMax)
		st.Quota.BackoffLevel++
		p.block(st, BlockCooldown, d, now)
	case s == http.StatusUnauthorized, s == http.StatusPaymentRequired, s == http.StatusForbidden:
		p.block(st, BlockOther, authFailureBlock, now)
	case s == http.StatusNotFound && o.ModelNotFound:
		p.block(st, BlockOther, modelNotFound, now)
	case s == 0, s == http.StatusRequestTimeout, s >= 500:
		if hint <= 0 {
			hint = p.TransientCooldown
		}
		p.block(st, BlockOther, min(hint, p.MaxCooldown), now)
	}
}

// block sets st blocked for d, capped at MaxCooldown; a longer hint is kept
// as the quota's recovery time and the credential is probed until then.
func (p Policy) block(st *ModelState, reason BlockReason, d time.Duration, now time.Time) {
	st.Reason = reason
	st.Status = StatusBlocked
	until := now.Add(d)
	if reason == BlockCooldown {
		st.Status = StatusCooldown
		st.Quota.NextRecoverAt = until
		until = now.Add(min(d, p.MaxCooldown))
	}
	st.NextRetryAfter = until
	st.nextProbe = until
}

// probing reports whether st's block has ended while its quota has not
// recovered, so that a request now is a probe, whether or not Claim has
// already moved nextProbe past now.
func (st *ModelState) probing(now time.Time) bool {
	return st.Quota.Exceeded && !st.NextRetryAfter.IsZero() &&
		!now.Before(st.NextRetryAfter) && now.Before(st.Quota.NextRecoverAt)
}

// availableAt reports whether st lets a request through at now, whether
// that request is a probe, and otherwise until when st blocks.
func (st *ModelState) availableAt(now time.Time) (ok, probe bool, until time.Time) {
	if st == nil || st.NextRetryAfter.IsZero() {
		return true, false, time.Time{}
	}
	if now.Before(st.NextRetryAfter) {
		return false, false, st.NextRetryAfter
	}
	if st.Quota.Exceeded && now.Before(st.Quota.NextRecoverAt) {
		if now.Before(st.nextProbe) {
			return false, false, st.nextProbe
		}
		return true, true, time.Time{}
	}
	return true, false, time.Time{}
}

// status is st's status at now, with lazily lifted blocks.
func (st *ModelState) status(now time.Time) Status {
	ok, probe, _ := st.availableAt(now)
	switch {
	case probe:
		return StatusProbing
	case ok:
		return StatusAvailable
	}
	return st.Status
}

func describe(status int) string {
	if status == 0 {
		return "upstream connection failed"
	}
	return "upstream answered " + http.StatusText(status)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
