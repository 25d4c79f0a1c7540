// Package outcome is what a finished request leaves behind: one [Request]
// (who asked, what served it, how it went, what it cost, the attempts'
// count and the session-affinity picks), one [Attempt] per upstream
// attempt, one [Failure] per failed attempt or error answered by the
// gateway itself; and the [Recorder] interface that everything keeping
// them implements: metrics, usage totals, the usage log, the request log,
// the telemetry hub (which writes the cluster's usage list and errors
// channel). The executor holds a list of recorders and calls each in turn.
//
// No value of this package holds a secret or a client key, except the
// request log's record, which carries them only to redact them. The
// package depends on nothing but the request log's record type, so the
// packages that record (telemetry, management) need not import the executor.
package outcome

import (
	"time"

	"github.com/caddy-cliproxy/cliproxy/reqlog"
)

// Recorder keeps what requests leave behind. Its methods are called on the
// request's goroutine, so they must be quick and must not block.
type Recorder interface {
	// Attempt reports one upstream attempt once it ended.
	Attempt(Attempt)
	// Failure reports a failed upstream attempt, or an error the gateway
	// answered with itself.
	Failure(Failure)
	// Request reports a finished request, or a finished WebSocket turn.
	// The recorder may not keep r or what it points to once it returns.
	Request(r *Request)
}

// Tokens is what a response says it cost, exactly as the provider reported
// it; no normalisation across protocol families is attempted:
//
//   - Anthropic: Input is input_tokens, which excludes the cache; CacheRead
//     (cache_read_input_tokens) and CacheCreation (cache_creation_input_tokens)
//     come on top of it.
//   - OpenAI (chat and Responses): Input is prompt_tokens / input_tokens, which
//     already includes the cached part; CacheRead (cached_tokens) is a subset
//     of Input. CacheCreation is always zero.
//   - Gemini: Input is promptTokenCount, which includes the cached part;
//     CacheRead (cachedContentTokenCount) is a subset of it. Output is
//     candidatesTokenCount plus thoughtsTokenCount. CacheCreation is zero.
//
// Reasoning is the part of Output spent thinking, where the provider says
// (OpenAI's reasoning_tokens, Gemini's thoughtsTokenCount).
type Tokens struct {
	Input         int64 `json:"input"`
	Output        int64 `json:"output"`
	CacheRead     int64 `json:"cache_read"`
	CacheCreation int64 `json:"cache_creation"`
	// Reasoning is left out of the usage totals' JSON, which predate it.
	Reasoning int64 `json:"-"`
}

// Add adds o to t.
func (t *Tokens) Add(o Tokens) {
	t.Input += o.Input
	t.Output += o.Output
	t.CacheRead += o.CacheRead
	t.CacheCreation += o.CacheCreation
	t.Reasoning += o.Reasoning
}

// Total is every token a request of the protocol family cost ("anthropic",
// "openai", "gemini"): Anthropic's input excludes the cache, the others'
// includes it.
func (t Tokens) Total(family string) int64 {
	if family == "anthropic" {
		return t.Input + t.Output + t.CacheRead + t.CacheCreation
	}
	return t.Input + t.Output
}

// Attempt is one upstream attempt.
type Attempt struct {
	// Provider and Credential name the credential the attempt used.
	Provider, Credential string
	// Status is the upstream's HTTP status; 0 when it gave none (a
	// connection error, a token that could not be had).
	Status int
	// FirstByte is how long the upstream took to send its response
	// headers; 0 when Status is 0.
	FirstByte time.Duration
	// Duration is how long the attempt took, body included.
	Duration time.Duration
}

// The values of Request.Affinity: how a pick of a request with a session
// related to the session's binding.
const (
	AffinityHit    = "hit"    // the bound credential served
	AffinityMiss   = "miss"   // no binding yet: picked and bound
	AffinityRebind = "rebind" // the bound credential was gone: picked and bound anew
	AffinityDetour = "detour" // the bound credential was cooling: picked, binding kept
)

// Request is one finished request, or one turn of a WebSocket session.
type Request struct {
	// Start is when the request (or WebSocket turn) came in.
	Start time.Time
	// Family is the client protocol ("anthropic", "openai", "gemini");
	// Endpoint is the client's path.
	Family, Endpoint string
	// RequestID is Caddy's ID of the request ({http.request.uuid}), with
	// "-<n>" for the n-th turn of a WebSocket session.
	RequestID string
	// Client is the member's principal name, never its key.
	Client string
	// Provider and Credential name what served the answer; both are ""
	// when the gateway answered itself (every credential cooling, none
	// serving the model, a bad request).
	Provider, Credential string
	// OAuth says the credential that served is an OAuth account.
	OAuth bool
	Model string
	// Status is what the client got; 0 when it went away unanswered.
	Status int
	// Failed says the client did not get a good answer: an error status,
	// an upstream failure passed on, a stream that broke off, or no
	// answer at all.
	Failed   bool
	Attempts int
	// Latency is how long the request took; FirstByte when the answer's
	// first byte was ready for the client.
	Latency, FirstByte time.Duration
	// Tokens is what the answer said it cost, read as it streamed.
	Tokens Tokens
	// Affinity holds one of the Affinity values per pick of a request
	// with a session, in order.
	Affinity []string
	// Log is the request log's full record of the request, when a
	// Capturer among the recorders wanted it; else nil.
	Log *reqlog.Record
}

// Capturer is a Recorder that wants the full record of some requests
// (Request.Log): the executor asks it before the record is built.
type Capturer interface {
	Recorder
	// Wants reports whether a request the client got status for (0: no
	// answer) is recorded in full. An upstream failure the client got, or
	// a stream that broke off, is asked about as status 0.
	Wants(status int) bool
	// CaptureLimit bounds how much of an error response body is kept.
	CaptureLimit() int
}

// Failure is one failure: of an upstream attempt (Credential set) or the
// gateway's own answer (Credential empty, Code set).
type Failure struct {
	Time       time.Time `json:"time"`
	Client     string    `json:"client"`
	Provider   string    `json:"provider,omitempty"`
	Model      string    `json:"model"`
	Credential string    `json:"credential,omitempty"`
	Status     int       `json:"status"`
	Attempt    int       `json:"attempt,omitempty"`
	Code       string    `json:"code,omitempty"`
	Message    string    `json:"message"`
	// Retryable says another attempt may succeed: on another credential
	// for a failed attempt, later for the gateway's 429, 502 and 503.
	Retryable bool `json:"retryable"`
	// Blocked and Until are the failed credential's state for the model
	// after the failure: why it is blocked (an auth.BlockReason: "cooldown",
	// "disabled", "other"; "" when it is not) and until when (zero when
	// only an operator can lift the block).
	Blocked string    `json:"-"`
	Until   time.Time `json:"-"`
}
