package executor

import (
	"net/http"

	"github.com/caddy-cliproxy/cliproxy/reqlog"
)

// An upstream may echo the secret it was sent: in an error's body
// ("invalid x-api-key <key>"), or in any response header. The transport
// scrubs every response header of the attempt's secret before the proxy
// logs or copies them; the attempt writer scrubs the body of an answer
// that is an error (a status of 400 or more, or an event stream whose
// first event is an error), streamed or not, across the pieces it arrives
// in. A successful answer's body is passed as it is, at no cost per
// piece: an upstream has no reason to echo a key into a completion.

// secrets are what the attempt sent upstream that a client must not see:
// the credential's API key, or the OAuth access token it sent.
func (a *attemptCredential) secrets() []string {
	return []string{a.cred.APIKey, a.sentToken}
}

// scrubResponseHeader replaces secret in the values of an upstream
// answer's headers, in place.
func scrubResponseHeader(h http.Header, secret string) {
	if secret != "" && len(h) > 0 {
		reqlog.ScrubHeader(h, []string{secret})
	}
}

// scrubSecrets makes the rest of the answer go to the client scrubbed of
// the attempt's secrets. Its length then changes where one is replaced, so
// the upstream's Content-Length no longer holds.
func (a *attemptWriter) scrubSecrets() {
	if a.scrub != nil || a.ac == nil {
		return
	}
	a.scrub = reqlog.NewScrubber(a.ac.secrets())
	a.header.Del("Content-Length")
}
