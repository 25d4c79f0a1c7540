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
				vs[i] = scrubString(v, secrets)
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
				values[i] = scrubString(values[i], secrets)
			}
		}
	}
	return q.Encode()
}

// scrub replaces every secret in b. It copies b only when a secret occurs.
func scrub(b []byte, secrets []string) []byte {
	for _, s := range secrets {
		if s != "" && bytes.Contains(b, []byte(s)) {
			b = bytes.ReplaceAll(b, []byte(s), []byte(Redacted))
		}
	}
	return b
}

func scrubString(v string, secrets []string) string {
	for _, s := range secrets {
		if s != "" {
			v = strings.ReplaceAll(v, s, Redacted)
		}
	}
	return v
}
