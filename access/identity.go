package access

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"unicode"
)

// maxIdentityLen bounds a member name taken from a client_identity: it
// becomes a label, a log field and a key of the usage totals.
const maxIdentityLen = 256

// headerPlaceholder finds the request headers a client_identity reads.
var headerPlaceholder = regexp.MustCompile(`\{http\.request\.header\.([^}]+)\}`)

// Placeholders resolves placeholders such as {http.auth.user.id}, as
// *caddy.Replacer does: ReplaceOrErr fails on a placeholder that is unknown
// (errOnUnknown) or empty (errOnEmpty).
type Placeholders interface {
	ReplaceOrErr(input string, errOnEmpty, errOnUnknown bool) (string, error)
}

// Identities are the client_identity placeholders, which admit members
// that a handler before the gateway authenticated, and the request headers
// they read, which are removed before the request goes upstream.
type Identities struct {
	templates []string
	headers   []string
}

// NewIdentities checks the client_identity values against global, the
// placeholders known without a request. One that resolves without a
// request ({env.*}, {file.*}, plain text) would admit everyone as one
// member, so it is refused.
func NewIdentities(templates []string, global Placeholders) (Identities, error) {
	var ids Identities
	for _, t := range templates {
		// only placeholders of a request are unknown to the global replacer
		if _, err := global.ReplaceOrErr(t, false, true); err == nil {
			return Identities{}, fmt.Errorf("client_identity %q: resolves without a request (want a placeholder such as {http.auth.user.id}), so it would admit everyone as one member", t)
		}
		ids.templates = append(ids.templates, t)
		for _, m := range headerPlaceholder.FindAllStringSubmatch(t, -1) {
			ids.headers = append(ids.headers, m[1])
		}
	}
	return ids, nil
}

// Resolve returns the member the first identity that resolves names,
// after the handlers before cliproxy ran. An identity resolves when every
// placeholder in it is set and not empty ("team-{http.auth.user.id}" does
// not resolve to "team-" without a user). It returns "" when none
// resolves, or the value cannot be a member name (too long, control
// characters).
func (ids Identities) Resolve(repl Placeholders) string {
	if repl == nil {
		return ""
	}
	for _, t := range ids.templates {
		v, err := repl.ReplaceOrErr(t, true, true)
		v = strings.TrimSpace(v)
		if err != nil || v == "" {
			continue
		}
		if !validMemberName(v) {
			return ""
		}
		return v
	}
	return ""
}

// Strip removes the headers the identities read, so that member names do
// not reach an upstream with a pooled key.
func (ids Identities) Strip(r *http.Request) {
	for _, h := range ids.headers {
		r.Header.Del(h)
	}
}

func validMemberName(s string) bool {
	if len(s) > maxIdentityLen {
		return false
	}
	for _, c := range s {
		if unicode.IsControl(c) || c == unicode.ReplacementChar {
			return false
		}
	}
	return true
}
