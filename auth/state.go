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
	// BlockOther: authentication errors and transient upstream faults.
	BlockOther BlockReason = "other"
)

// ModelState is the health of one credential for one model.
type ModelState struct {
	// BlockedUntil is when the credential may serve the model again; zero
	// when it is not blocked.
	BlockedUntil time.Time
	// Reason is why it is blocked.
	Reason BlockReason
	// LastStatus is the HTTP status of the last failure (0: connection).
	LastStatus int
	// LastError is a short description of the last failure. It never holds
	// a secret: it is built from the status and the gateway's own words.
	LastError string
	// LastErrorAt is when the last failure happened.
	LastErrorAt time.Time
	// BackoffLevel counts consecutive rate limits without a hint.
	BackoffLevel int
}

// Outcome is what one upstream attempt ended with.
type Outcome struct {
	// Status is the upstream's HTTP status; 0 means the connection failed
	// before a response arrived.
	Status int
	// RetryAfter is the upstream's hint of when to try again, 0 if none.
	RetryAfter time.Duration
}

// The cooldowns applied when the upstream gives no hint of its own.
const (
	backoffBase      = time.Second
	backoffMax       = 30 * time.Minute
	transientBlock   = 60 * time.Second
	authFailureBlock = 30 * time.Minute
	maxModelStates   = 1024
)

// credentialHealth holds the per-model states of one credential.
type credentialHealth struct {
	mu     sync.RWMutex
	models map[string]*ModelState
}

// blockFor decides how long outcome blocks a credential for a model and why.
// The zero duration means the outcome blocks nothing.
func blockFor(outcome Outcome, st *ModelState, now time.Time) (time.Duration, BlockReason) {
	switch s := outcome.Status; {
	case s == http.StatusTooManyRequests:
		if outcome.RetryAfter > 0 {
			return outcome.RetryAfter, BlockCooldown
		}
		if st.Reason == BlockCooldown && now.Before(st.BlockedUntil) {
			// requests that were in flight when the window opened do
			// not escalate it: the backoff grows once per window
			return st.BlockedUntil.Sub(now), BlockCooldown
		}
		d := backoffBase << min(st.BackoffLevel, 20)
		st.BackoffLevel++
		return min(d, backoffMax), BlockCooldown
	case s == http.StatusUnauthorized, s == http.StatusPaymentRequired, s == http.StatusForbidden:
		return authFailureBlock, BlockOther
	case s == 0, s == http.StatusRequestTimeout, s >= 500:
		if outcome.RetryAfter > 0 {
			return outcome.RetryAfter, BlockOther
		}
		return transientBlock, BlockOther
	}
	return 0, ""
}

func describe(status int) string {
	if status == 0 {
		return "upstream connection failed"
	}
	return "upstream answered " + http.StatusText(status)
}
