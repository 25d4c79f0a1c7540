package access

import (
	"net/http"
	"strings"
)

// The places a client may put its key, in the order they are read.
const (
	headerAuthorization = "Authorization"
	headerAPIKey        = "X-Api-Key"
	headerGoogAPIKey    = "X-Goog-Api-Key"
	queryKey            = "key"
)

// ClientKey returns the key the client presented: a Bearer token in
// Authorization, else x-api-key, else x-goog-api-key, else the key query
// parameter. It returns "" when there is none.
func ClientKey(r *http.Request) string {
	if v := BearerToken(r.Header.Get(headerAuthorization)); v != "" {
		return v
	}
	if v := r.Header.Get(headerAPIKey); v != "" {
		return v
	}
	if v := r.Header.Get(headerGoogAPIKey); v != "" {
		return v
	}
	if r.URL != nil && r.URL.RawQuery != "" {
		return r.URL.Query().Get(queryKey)
	}
	return ""
}

// BearerToken returns the token of an Authorization value of the Bearer
// scheme, which RFC 9110 makes case-insensitive ("bearer", "BEARER"), with
// the surrounding space trimmed; "" for any other scheme or no token.
func BearerToken(authorization string) string {
	const scheme = "bearer "
	if len(authorization) <= len(scheme) || !strings.EqualFold(authorization[:len(scheme)], scheme) {
		return ""
	}
	return strings.TrimSpace(authorization[len(scheme):])
}

// StripClientCredentials removes every place a client key can hide from r,
// and the client's own account headers (cookies, OpenAI organization and
// project, ChatGPT account), so that nothing the client authenticated or
// identified itself with reaches an upstream.
func StripClientCredentials(r *http.Request) {
	r.Header.Del(headerAuthorization)
	r.Header.Del(headerAPIKey)
	r.Header.Del(headerGoogAPIKey)
	r.Header.Del("Proxy-Authorization")
	// a member's own account selectors and cookies must not reach an
	// upstream with a pooled key: OpenAI answers a foreign organization
	// or project with 401, which would block the credential
	r.Header.Del("Cookie")
	r.Header.Del("Openai-Organization")
	r.Header.Del("Openai-Project")
	r.Header.Del("Chatgpt-Account-Id")
	// the raw query may spell the name percent-encoded (%6Bey), so decide
	// on the decoded form, as ClientKey reads it
	if r.URL != nil && r.URL.RawQuery != "" {
		q := r.URL.Query()
		if q.Has(queryKey) {
			q.Del(queryKey)
			r.URL.RawQuery = q.Encode()
		}
	}
}
