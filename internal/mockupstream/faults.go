package mockupstream

import (
	"time"
)

// Fault programs behaviour for requests that carry the upstream key it is set
// for with [Server.SetFault] (the API key the mock receives, see [KeyOf]).
// Key "*" applies to every key without a more specific fault.
type Fault struct {
	// Status, when non-zero, answers with this HTTP status and a
	// provider-shaped error body.
	Status int
	// RetryAfter is the value of a Retry-After header on the answer ("" =
	// none).
	RetryAfter string
	// Headers are extra response headers, on error or success.
	Headers map[string]string
	// Body replaces the provider-shaped error body verbatim. With Status 0 it
	// is answered as a 200 body instead of the normal answer (for simulating a
	// malformed upstream).
	Body string
	// InvalidKey answers as the provider answers a key it does not accept
	// (revoked, deleted, mistyped), in its own wire shape: Anthropic 401
	// authentication_error "invalid x-api-key"; OpenAI 401 invalid_api_key
	// naming the key masked; Gemini 400 INVALID_ARGUMENT with an ErrorInfo
	// whose reason is API_KEY_INVALID (as a one-element JSON array on
	// streamGenerateContent without alt=sse); Code Assist 401
	// UNAUTHENTICATED.
	InvalidKey bool
	// BodyChunk, with Body, sends it in pieces of this many bytes, each
	// flushed on its own and EventDelay apart (0: in one piece), as a
	// body that crosses the network in several reads.
	BodyChunk int
	// FirstByteDelay is how long to wait before writing the response headers.
	FirstByteDelay time.Duration
	// Stall is how long the answer goes silent after its 200 headers went
	// out (flushed), before its first event or body byte; for a
	// StreamError, after the error event, before the stream ends. The
	// stall ends early when the client goes away. Like an upstream that
	// answered and then hung.
	Stall time.Duration
	// EventDelay is the wait between SSE events of a streaming answer.
	EventDelay time.Duration
	// ResetAfter, for a streaming answer, aborts the connection abruptly after
	// that many events have been written and flushed (0 = never). Events
	// include the final "[DONE]" of OpenAI streams and each array element of
	// Gemini's non-SSE stream. A stream with fewer events completes normally.
	ResetAfter int
	// StreamError, for a streaming answer, answers 200 with an event stream
	// whose first and only event is an error of this type (e.g.
	// "overloaded_error", "rate_limit_error", "api_error"), in the
	// provider's streaming error format, as providers do when a stream
	// fails after its headers were sent.
	StreamError string
	// WSError, in the Responses WebSocket mode, answers each response.create
	// with an error event of this code before any output, as the real
	// backends do: "rate_limit_exceeded" (429), "usage_limit_reached" (429,
	// with resets_in_seconds from RetryAfter), "server_is_overloaded" (503),
	// "websocket_connection_limit_reached" (400, then the connection is
	// closed), or any other code as a 400 invalid_request_error. With
	// Body, the event is Body verbatim.
	WSError string
	// WSDrop, in the WebSocket mode, drops the connection without a close
	// frame when a turn arrives, before any output. For a drop after some
	// output use ResetAfter, which counts the turn's events.
	WSDrop bool
	// WSClose, in the WebSocket mode, closes the connection with this code
	// and WSCloseReason after the turn has completed.
	WSClose       int
	WSCloseReason string
	// Times applies the fault to the next N matching requests (in the WebSocket
	// mode: handshakes answered with Status, or turns) only, after
	// which it is removed; 0 = forever.
	Times int
}

// SetFault programs f for requests carrying key ("*" = every key without a
// more specific fault), replacing any fault already set for key.
func (s *Server) SetFault(key string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[key] = &f
}

// ClearFaults removes every programmed fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string]*Fault{}
}

// takeFault returns the fault that applies to a request with key, counting
// down (and removing when spent) a fault with Times.
func (s *Server) takeFault(key string) (Fault, bool) {
	return s.takeFaultIf(key, nil)
}

// takeFaultIf is takeFault for a fault that satisfies applies (nil: any);
// another fault is left in place, uncounted.
func (s *Server) takeFaultIf(key string, applies func(Fault) bool) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := key
	f, ok := s.faults[key]
	if !ok {
		name = "*"
		f, ok = s.faults["*"]
	}
	if !ok {
		return Fault{}, false
	}
	out := *f
	if applies != nil && !applies(out) {
		return Fault{}, false
	}
	if f.Times > 0 {
		f.Times--
		if f.Times == 0 {
			delete(s.faults, name)
		}
	}
	return out, true
}

// SetReply sets the assistant text answered for requests carrying key ("*" =
// every key without a more specific reply). The default reply is "Hello from
// the mock <family> upstream.", where family is anthropic, openai or gemini.
func (s *Server) SetReply(key, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies[key] = text
}

// replyFor is the assistant text for key on a family's API.
func (s *Server) replyFor(key, family string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.replies[key]; ok {
		return t
	}
	if t, ok := s.replies["*"]; ok {
		return t
	}
	return "Hello from the mock " + family + " upstream."
}
