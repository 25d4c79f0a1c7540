// Package reqlog writes one file per logged gateway request: what the
// client asked (method, path, redacted headers and query), the attempts the
// gateway made (credential names, statuses, timings), what the client got,
// and bounded captures of the request body and of an error response body.
// Header values and query parameters that carry keys are redacted, and every
// secret the caller names is scrubbed from every captured text.
//
// A [Store] keeps the files of one directory within a count and a total
// size, deleting the oldest first. It is safe for concurrent use.
//
// Capture costs nothing for a request that is not logged. A [Record] refers
// to the bodies its caller already holds instead of copying them: the
// gateway keeps every request body in memory anyway (bounded by max_body)
// to replay it on another credential, and a held-back failure is kept
// (bounded) to read its hints, so neither needs a second copy or a spool
// file; the only capture made for the log is the start of an error
// response that went straight to the client. A record is written
// synchronously at the end of its request, after the answer was written,
// and only the first Options.MaxBody bytes of each body reach the file.
package reqlog

import (
	"fmt"
	"net/http"
	"time"
)

// Mode says which requests are logged.
type Mode uint8

// The modes of a request log.
const (
	// Errors logs requests whose answer was an error (status 400 or
	// more) or that got no answer.
	Errors Mode = iota
	// Off logs nothing.
	Off
	// All logs every request.
	All
)

// ParseMode reads "off", "errors" or "all".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "off":
		return Off, nil
	case "errors", "":
		return Errors, nil
	case "all":
		return All, nil
	}
	return Off, fmt.Errorf("parsing request log mode: want off, errors or all, got %q", s)
}

// Wants reports whether a request that ended with status is logged in mode
// m; status 0 means the client got no answer.
func (m Mode) Wants(status int) bool {
	switch m {
	case All:
		return true
	case Errors:
		return status == 0 || status >= 400
	}
	return false
}

// Record is one logged request. The fields holding client or upstream
// data are given raw; [Store.Write] redacts and scrubs them, so a Record
// may share its slices and maps with the request it describes: Write only
// reads them.
type Record struct {
	Time     time.Time
	Method   string
	Path     string
	RawQuery string
	// Header is the client's request header, as received.
	Header http.Header
	// Client is the authenticated principal (a name, never a key).
	Client  string
	Family  string
	Model   string
	Session string
	// Turn numbers a turn of a WebSocket session (from 1), whose Method,
	// Path and Header are the session's handshake and whose RequestBody is
	// the turn's message; 0 for an HTTP request.
	Turn int

	// Status is what the client got; 0 if it went away unanswered.
	Status int
	// Error is the gateway's own error code and message, when the gateway
	// answered itself.
	Error     string
	Latency   time.Duration
	FirstByte time.Duration
	Attempts  []Attempt

	// RequestBody is the request body as the gateway holds it; only its
	// first Options.MaxBody bytes are written.
	RequestBody []byte
	// ResponseHeader is the header of the answer the client got.
	ResponseHeader http.Header
	// ResponseBody is the captured error response body, if any.
	ResponseBody []byte
	// ResponseTruncated says ResponseBody is only the start of the body.
	ResponseTruncated bool

	// Secrets are strings that must not appear in the file (upstream keys
	// and tokens used, the client's key); each is replaced wherever it
	// occurs. Empty strings are ignored.
	Secrets []string
}

// Attempt is one upstream attempt of a request.
type Attempt struct {
	Credential string
	Provider   string
	// Status is the upstream's status; 0 when it gave none.
	Status int
	// Error says why an attempt got no answer or what the gateway did
	// with it, never with upstream text that may carry a URL or key.
	Error     string
	Start     time.Time
	FirstByte time.Duration
	Duration  time.Duration
	// Body is the failure the gateway held back from the client (it
	// failed over, or answered in its own words), if any.
	Body []byte
}
