package reqlog

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/caddy-cliproxy/cliproxy/access"
)

// Redacted replaces the value of every header and query parameter that
// carries a credential.
const Redacted = "REDACTED"

// alwaysRedacted are the headers beyond access.IsCredentialHeader's that
// carry credentials, in canonical form: the upstream's cookies.
var alwaysRedacted = []string{"Set-Cookie"}

// secretWords mark a header or query parameter name as carrying a
// credential wherever they appear in it (x-custom-api-key, access_token,
// x-amz-security-token, client_secret...).
var secretWords = []string{"key", "token", "secret", "password", "passwd", "auth", "cookie", "credential", "signature"}

// SensitiveName reports whether a header or query parameter called name
// carries a credential: every header the gateway strips from a client's
// request, and more (a log may lose a harmless value, a request may not).
func SensitiveName(name string) bool {
	if access.IsCredentialHeader(name) || slices.Contains(alwaysRedacted, http.CanonicalHeaderKey(name)) {
		return true
	}
	lower := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

// RedactHeader returns a copy of h with the values of sensitive headers
// replaced by Redacted and the secrets scrubbed from the others.
func RedactHeader(h http.Header, secrets []string) map[string][]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string][]string, len(h))
	for name, values := range h {
		vs := make([]string, len(values))
		for i, v := range values {
			if SensitiveName(name) {
				vs[i] = Redacted
			} else {
				vs[i] = ScrubString(v, secrets)
			}
		}
		out[name] = vs
	}
	return out
}

// RedactQuery returns raw with the values of sensitive parameters replaced
// by Redacted and the secrets scrubbed from the rest. A query that does not
// parse is dropped whole rather than risk a key in it.
func RedactQuery(raw string, secrets []string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return Redacted
	}
	for name, values := range q {
		for i := range values {
			if SensitiveName(name) {
				values[i] = Redacted
			} else {
				values[i] = ScrubString(values[i], secrets)
			}
		}
	}
	return q.Encode()
}

// Scrub replaces every secret in b with Redacted. It copies b only when a
// secret occurs.
func Scrub(b []byte, secrets []string) []byte {
	for _, s := range secrets {
		if s != "" && bytes.Contains(b, []byte(s)) {
			b = bytes.ReplaceAll(b, []byte(s), []byte(Redacted))
		}
	}
	return b
}

// ScrubString replaces every secret in v with Redacted.
func ScrubString(v string, secrets []string) string {
	for _, s := range secrets {
		if s != "" && strings.Contains(v, s) {
			v = strings.ReplaceAll(v, s, Redacted)
		}
	}
	return v
}

// ScrubHeader replaces every secret in the values of h, in place. Unlike
// RedactHeader it keeps values whose name merely sounds secret: it is for
// headers that go on to a client, where
// anthropic-ratelimit-tokens-remaining must stay readable.
func ScrubHeader(h http.Header, secrets []string) {
	for _, values := range h {
		for i, v := range values {
			values[i] = ScrubString(v, secrets)
		}
	}
}

// Scrubber replaces secrets in a body that passes in pieces, such as a
// streamed error: a secret cut across two pieces is replaced too. It holds
// back the end of a piece only while that end could begin a secret, so a
// piece that ends an event (a blank line) goes out whole.
type Scrubber struct {
	secrets   []string
	buf, tail []byte
}

// NewScrubber returns a Scrubber of secrets; empty ones are ignored.
func NewScrubber(secrets []string) *Scrubber {
	s := &Scrubber{}
	for _, secret := range secrets {
		if secret != "" {
			s.secrets = append(s.secrets, secret)
		}
	}
	return s
}

// Next takes the next piece and returns what may be sent of the body so
// far, secrets replaced. The result is valid until the next call.
func (s *Scrubber) Next(p []byte) []byte {
	if len(s.secrets) == 0 {
		return p
	}
	s.buf = append(append(s.buf[:0], s.tail...), p...)
	out := Scrub(s.buf, s.secrets)
	keep := s.opening(out)
	s.tail = append(s.tail[:0], out[len(out)-keep:]...)
	return out[:len(out)-keep]
}

// End returns what is left when the body ended: nothing, or Redacted for
// a held end that began a secret (the body was cut inside it).
func (s *Scrubber) End() []byte {
	if len(s.tail) == 0 {
		return nil
	}
	s.tail = s.tail[:0]
	return []byte(Redacted)
}

// opening is the length of the longest end of b that begins a secret.
func (s *Scrubber) opening(b []byte) int {
	longest := 0
	for _, secret := range s.secrets {
		for i := max(0, len(b)-len(secret)+1); i < len(b)-longest; i++ {
			if b[i] == secret[0] && secret[:len(b)-i] == string(b[i:]) {
				longest = len(b) - i
				break
			}
		}
	}
	return longest
}
