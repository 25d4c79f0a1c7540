package access

import (
	"bytes"
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

// credentialHeaders are the headers known to carry a credential or an
// account of the client: the ones the gateway reads a key from, and the
// ones other clients, SDKs and proxies in front put one in. Every one is
// stripped; the upstream's own are set afterwards, from the credential.
var credentialHeaders = []string{
	headerAuthorization, headerAPIKey, headerGoogAPIKey,
	"Proxy-Authorization",
	"Api-Key",                   // Azure OpenAI SDKs
	"X-Forwarded-Authorization", // proxies that move Authorization aside
	"Ocp-Apim-Subscription-Key", // Azure API Management
	"Cookie",
	// the WebSocket subprotocol list, where browser clients of OpenAI's
	// Realtime API put their key (openai-insecure-api-key.<key>)
	"Sec-Websocket-Protocol",
	// a member's own account selectors must not reach an upstream with a
	// pooled key: OpenAI answers a foreign organization or project with
	// 401, which would block the credential
	"Openai-Organization", "Openai-Project", "Chatgpt-Account-Id",
}

// credentialMarkers are parts of a header name that say it carries a
// secret: the tokens and assertions identity-aware proxies forward
// (X-Amzn-Oidc-Accesstoken, Cf-Access-Jwt-Assertion, X-Auth-Request-Access-Token,
// X-Ms-Token-Aad-Id-Token) and any header a client names an API key.
var credentialMarkers = []string{
	"authorization", "api-key", "api_key", "apikey", "access-key", "subscription-key",
	"token", "secret", "password", "credential", "jwt", "assertion", "cookie",
}

// IsCredentialHeader reports whether a header called name can carry a
// client credential, and so must not reach an upstream. It runs for every
// header of every request: the name is lowered into a buffer on the stack,
// looked up once among credentialHeaders and searched for the markers,
// without allocating. Header names are ASCII tokens (net/http refuses
// others), so ASCII lowering is all the folding there is.
func IsCredentialHeader(name string) bool {
	var buf [64]byte
	lower := buf[:0]
	if len(name) > len(buf) {
		lower = make([]byte, 0, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower = append(lower, c)
	}
	if _, ok := credentialNames[string(lower)]; ok {
		return true
	}
	for _, m := range credentialMarkerBytes {
		if bytes.Contains(lower, m) {
			return true
		}
	}
	return false
}

// credentialNames and credentialMarkerBytes are credentialHeaders and
// credentialMarkers in the form IsCredentialHeader compares.
var (
	credentialNames       = lowerSet(credentialHeaders)
	credentialMarkerBytes = byteStrings(credentialMarkers)
)

func lowerSet(names []string) map[string]struct{} {
	set := make(map[string]struct{}, len(names))
	for _, n := range names {
		set[strings.ToLower(n)] = struct{}{}
	}
	return set
}

func byteStrings(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// StripClientCredentials removes every place a client key can hide from r
// (every header IsCredentialHeader names, and the key query parameter),
// and the client's own account headers (cookies, OpenAI organization and
// project, ChatGPT account), so that nothing the client authenticated or
// identified itself with reaches an upstream.
func StripClientCredentials(r *http.Request) {
	for name := range r.Header {
		if IsCredentialHeader(name) {
			delete(r.Header, name)
		}
	}
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
