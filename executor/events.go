package executor

import (
	"time"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// Events receives the gateway's usage and error events, for a consumer
// beyond the log (a cluster publishes them to Redis). It is called from the
// request's goroutine: implementations must not block. No event carries a
// secret.
type Events interface {
	// Usage is called once per request served from the pool.
	Usage(UsageEvent)
	// Error is called for every failed upstream attempt and every error
	// the gateway answers with itself.
	Error(ErrorEvent)
}

// ErrorEvent is one failure: of an upstream attempt (Credential set) or
// the gateway's own answer (Credential empty, Code set).
type ErrorEvent struct {
	Time       time.Time `json:"time"`
	Client     string    `json:"client"`
	Provider   string    `json:"provider,omitempty"`
	Model      string    `json:"model"`
	Credential string    `json:"credential,omitempty"`
	Status     int       `json:"status"`
	Attempt    int       `json:"attempt,omitempty"`
	Code       string    `json:"code,omitempty"`
	Message    string    `json:"message"`
	// Retryable says another attempt may succeed: on another
	// credential for a failed attempt, later for the gateway's 429, 502
	// and 503.
	Retryable bool `json:"retryable"`
	// Blocked and Until are the failed credential's state for the model
	// after the failure: why and until when it is blocked ("" when it
	// is not; a zero Until when only an operator can lift the block).
	Blocked auth.BlockReason `json:"-"`
	Until   time.Time        `json:"-"`
}
