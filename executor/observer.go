package executor

import (
	"time"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/selector"
)

// Observer sees what the executor does, for metrics. Its methods are called
// on the request's goroutine, so they must be cheap and must not block; none
// is given a secret or a client key.
type Observer interface {
	// ObserveAttempt reports one upstream attempt once it ended.
	ObserveAttempt(AttemptReport)
	// ObserveAffinity reports how a pick of a request with a session
	// related to its binding (never selector.NoSession).
	ObserveAffinity(selector.Outcome)
	// ObserveRequest reports a finished request.
	ObserveRequest(RequestReport)
}

// AttemptReport describes one upstream attempt.
type AttemptReport struct {
	Credential *auth.Credential
	// Status is the upstream's HTTP status; 0 when it gave none (a
	// connection error, a token that could not be had).
	Status int
	// FirstByte is how long the upstream took to send its response
	// headers; 0 when Status is 0.
	FirstByte time.Duration
	// Duration is how long the attempt took, body included.
	Duration time.Duration
}

// RequestReport describes a finished request.
type RequestReport struct {
	Family Family
	// Credential served the answer the client got; nil when the gateway
	// answered itself (every credential cooling, none serving the model,
	// a bad request).
	Credential *auth.Credential
	// Principal is the client's name, never its key.
	Principal string
	Model     string
	// Status is what the client got; 0 when it went away unanswered.
	Status   int
	Attempts int
	// Usage is what the answer said it cost, read as it streamed.
	Usage     Usage
	Latency   time.Duration
	FirstByte time.Duration
}
