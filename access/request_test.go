package access_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/access"
)

func request(target string, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func TestClientKey(t *testing.T) {
	tests := []struct {
		name string
		req  *http.Request
		want string
	}{
		{"none", request("/v1/messages"), ""},
		{"bearer", request("/v1/messages", "Authorization", "Bearer k-bearer"), "k-bearer"},
		{"bearer lower case", request("/v1/messages", "Authorization", "bearer k-bearer"), "k-bearer"},
		{"bearer upper case", request("/v1/messages", "Authorization", "BEARER k-bearer"), "k-bearer"},
		{"bearer with extra spaces", request("/v1/messages", "Authorization", "Bearer   k-bearer  "), "k-bearer"},
		{"lower-case header name", request("/v1/messages", "authorization", "Bearer k-bearer"), "k-bearer"},
		{"x-api-key", request("/v1/messages", "x-api-key", "k-api"), "k-api"},
		{"x-goog-api-key", request("/v1beta/models/g:generateContent", "x-goog-api-key", "k-goog"), "k-goog"},
		{"query key", request("/v1beta/models/g:generateContent?key=k-query"), "k-query"},
		{"query key with other params", request("/v1beta/models/g:streamGenerateContent?alt=sse&key=k-query"), "k-query"},
		{"bearer over x-api-key", request("/v1/messages", "Authorization", "Bearer k-bearer", "X-Api-Key", "k-api"), "k-bearer"},
		{"bearer over everything", request("/x?key=k-query", "Authorization", "Bearer k-bearer", "X-Api-Key", "k-api", "X-Goog-Api-Key", "k-goog"), "k-bearer"},
		{"x-api-key over x-goog-api-key", request("/x?key=k-query", "X-Api-Key", "k-api", "X-Goog-Api-Key", "k-goog"), "k-api"},
		{"x-goog-api-key over query", request("/x?key=k-query", "X-Goog-Api-Key", "k-goog"), "k-goog"},
		{"basic auth is not a key", request("/v1/messages", "Authorization", "Basic dXNlcjpwYXNz"), ""},
		{"basic auth falls through to x-api-key", request("/v1/messages", "Authorization", "Basic dXNlcjpwYXNz", "X-Api-Key", "k-api"), "k-api"},
		{"bare bearer falls through", request("/v1/messages", "Authorization", "Bearer", "X-Api-Key", "k-api"), "k-api"},
		{"bearer without space is not a key", request("/v1/messages", "Authorization", "Bearerk-bearer"), ""},
		{"other query params only", request("/x?alt=sse&monkey=1"), ""},
		{"query key is case-sensitive", request("/x?KEY=k-query"), ""},
		{"percent-encoded query value", request("/x?key=k%2Bquery"), "k+query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, access.ClientKey(tt.req))
		})
	}
}

func TestClientKeyNilURL(t *testing.T) {
	r := &http.Request{Header: http.Header{}}
	assert.Empty(t, access.ClientKey(r))
	r.Header.Set("X-Api-Key", "k")
	assert.Equal(t, "k", access.ClientKey(r))
	assert.NotPanics(t, func() { access.StripClientCredentials(r) })
	assert.Empty(t, r.Header.Get("X-Api-Key"))
}

func TestStripClientCredentials(t *testing.T) {
	tests := []struct {
		name      string
		req       *http.Request
		wantQuery url.Values
		keepHdr   map[string]string
	}{
		{
			name:    "every header",
			req:     request("/v1/messages", "Authorization", "Bearer k1", "X-Api-Key", "k2", "X-Goog-Api-Key", "k3", "Proxy-Authorization", "Basic k4", "Anthropic-Version", "2023-06-01", "Anthropic-Beta", "tools"),
			keepHdr: map[string]string{"Anthropic-Version": "2023-06-01", "Anthropic-Beta": "tools"},
		},
		{
			name:      "query key, other params kept",
			req:       request("/v1beta/models/g:streamGenerateContent?alt=sse&key=k5&$fields=a"),
			wantQuery: url.Values{"alt": {"sse"}, "$fields": {"a"}},
		},
		{
			name:      "query key only",
			req:       request("/v1beta/models/g:generateContent?key=k5"),
			wantQuery: url.Values{},
		},
		{
			name:      "repeated query key",
			req:       request("/x?key=k5&key=k6&alt=sse"),
			wantQuery: url.Values{"alt": {"sse"}},
		},
		{
			name:      "percent-encoded param name",
			req:       request("/v1beta/models/g:generateContent?alt=sse&%6Bey=k7"),
			wantQuery: url.Values{"alt": {"sse"}},
		},
		{
			name:      "percent-encoded param name, upper-case escape",
			req:       request("/x?k%65y=k8"),
			wantQuery: url.Values{},
		},
		{
			name:      "headers and query at once",
			req:       request("/x?key=k5&alt=sse", "Authorization", "Bearer k1", "X-Api-Key", "k2", "Content-Type", "application/json"),
			keepHdr:   map[string]string{"Content-Type": "application/json"},
			wantQuery: url.Values{"alt": {"sse"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.req
			had := access.ClientKey(r)
			require.NotEmpty(t, had, "test request carries no client key")

			access.StripClientCredentials(r)

			assert.Empty(t, access.ClientKey(r), "a client key survived stripping")
			for _, h := range []string{"Authorization", "X-Api-Key", "X-Goog-Api-Key", "Proxy-Authorization"} {
				assert.Empty(t, r.Header.Values(h), h)
			}
			for h, v := range tt.keepHdr {
				assert.Equal(t, v, r.Header.Get(h), "%s was stripped", h)
			}
			if tt.wantQuery != nil {
				assert.Equal(t, tt.wantQuery, r.URL.Query())
			}
			assert.NotContains(t, r.URL.String(), had, "the key is still in the URL")
			assert.NotContains(t, r.URL.RawQuery, had)
		})
	}
}

func TestStripClientCredentialsKeepsPath(t *testing.T) {
	r := request("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key=k")
	access.StripClientCredentials(r)
	assert.Equal(t, "/v1beta/models/gemini-2.5-pro:streamGenerateContent", r.URL.Path)
	assert.Equal(t, "alt=sse", r.URL.RawQuery)

	// without a key the query is not rewritten at all
	r = request("/x?b=2&a=1&c=%7e")
	access.StripClientCredentials(r)
	assert.Equal(t, "b=2&a=1&c=%7e", r.URL.RawQuery)
}

func TestBearerToken(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Bearer k", "k"},
		{"bearer k", "k"},
		{"BEARER k", "k"},
		{"bEaReR  k ", "k"},
		{"Bearer", ""},
		{"Bearer ", ""},
		{"Bearerk", ""},
		{"Basic dXNlcjpwYXNz", ""},
		{"", ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, access.BearerToken(tt.in), "%q", tt.in)
	}
}

// Headers the gateway never reads a key from still carry one for other
// clients and proxies; they are stripped too, and what the upstream needs
// (session, beta and client metadata headers) is kept.
func TestStripClientCredentialsUnreadHeaders(t *testing.T) {
	credentials := []string{
		"Api-Key", "X-Forwarded-Authorization", "Ocp-Apim-Subscription-Key", "Cookie",
		"Sec-Websocket-Protocol", "X-Amzn-Oidc-Accesstoken", "X-Amzn-Oidc-Data-Token",
		"Cf-Access-Jwt-Assertion", "X-Goog-Iap-Jwt-Assertion", "X-Auth-Request-Access-Token",
		"X-Ms-Token-Aad-Id-Token", "X-Forwarded-Access-Token", "X-Auth-Token", "X-Access-Key",
		"Anthropic-Api-Key", "Openai-Api-Key", "X-Client-Secret", "X-Password", "X-Api-Credential",
		"Openai-Organization", "Openai-Project", "Chatgpt-Account-Id",
	}
	keep := []string{
		"Anthropic-Version", "Anthropic-Beta", "X-Claude-Code-Session-Id", "X-Claude-Code-Agent-Id",
		"Session-Id", "Thread-Id", "X-Client-Request-Id", "X-Codex-Turn-Metadata", "Originator",
		"Openai-Beta", "X-Goog-Api-Client", "X-Goog-User-Project", "X-Session-Id", "Idempotency-Key",
		"X-Stainless-Retry-Count", "X-Stainless-Lang", "User-Agent", "Content-Type", "Accept", "X-App",
	}
	r := request("/v1/messages")
	for _, h := range credentials {
		r.Header.Set(h, "secret-"+h)
	}
	for _, h := range keep {
		r.Header.Set(h, "value")
	}
	// names a client sends outside Go's canonical form stay as sent
	r.Header["api_key"] = []string{"secret-underscore"}
	r.Header["x-forwarded-authorization"] = []string{"Bearer secret-lower"}

	access.StripClientCredentials(r)

	for name := range r.Header {
		assert.NotContains(t, r.Header.Get(name), "secret", "%s reached the upstream", name)
	}
	for _, h := range credentials {
		assert.Empty(t, r.Header.Values(h), h)
		assert.True(t, access.IsCredentialHeader(h), h)
	}
	for _, h := range keep {
		assert.Equal(t, "value", r.Header.Get(h), "%s was stripped", h)
		assert.False(t, access.IsCredentialHeader(h), h)
	}
}
