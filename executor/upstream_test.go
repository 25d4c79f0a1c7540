package executor

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

const upstreamSecret = "sk-upstream-SECRET-0123456789"

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}

func TestNewEndpoint(t *testing.T) {
	tests := []struct {
		name     string
		provider auth.Provider
		baseURL  string // "" for the provider's default
		wantTLS  bool
		wantDial string
		wantHost string
		// client path -> upstream path
		paths map[string]string
	}{
		{
			name: "claude default", provider: auth.Claude,
			wantTLS: true, wantDial: "api.anthropic.com:443", wantHost: "api.anthropic.com",
			paths: map[string]string{"/v1/messages": "/v1/messages", "/v1/messages/count_tokens": "/v1/messages/count_tokens", "/v1/models": "/v1/models"},
		},
		{
			name: "openai default", provider: auth.OpenAI,
			wantTLS: true, wantDial: "api.openai.com:443", wantHost: "api.openai.com",
			paths: map[string]string{"/v1/chat/completions": "/v1/chat/completions", "/v1/responses": "/v1/responses", "/v1/models": "/v1/models"},
		},
		{
			name: "gemini default", provider: auth.Gemini,
			wantTLS: true, wantDial: "generativelanguage.googleapis.com:443", wantHost: "generativelanguage.googleapis.com",
			paths: map[string]string{"/v1beta/models/gemini-2.5-pro:generateContent": "/v1beta/models/gemini-2.5-pro:generateContent"},
		},
		{
			name: "openai-compatible with version path", provider: auth.OpenAICompatible, baseURL: "https://openrouter.ai/api/v1",
			wantTLS: true, wantDial: "openrouter.ai:443", wantHost: "openrouter.ai",
			paths: map[string]string{"/v1/chat/completions": "/api/v1/chat/completions", "/v1/embeddings": "/api/v1/embeddings", "/v1/models": "/api/v1/models"},
		},
		{
			name: "openai-compatible trailing slash", provider: auth.OpenAICompatible, baseURL: "https://api.groq.com/openai/v1/",
			wantTLS: true, wantDial: "api.groq.com:443", wantHost: "api.groq.com",
			paths: map[string]string{"/v1/chat/completions": "/openai/v1/chat/completions"},
		},
		{
			name: "openai-compatible plain http, default port", provider: auth.OpenAICompatible, baseURL: "http://llm.internal/v1",
			wantTLS: false, wantDial: "llm.internal:80", wantHost: "llm.internal",
			paths: map[string]string{"/v1/chat/completions": "/v1/chat/completions"},
		},
		{
			name: "openai-compatible explicit port", provider: auth.OpenAICompatible, baseURL: "http://127.0.0.1:11434/v1",
			wantTLS: false, wantDial: "127.0.0.1:11434", wantHost: "127.0.0.1:11434",
			paths: map[string]string{"/v1/chat/completions": "/v1/chat/completions"},
		},
		{
			name: "https explicit port", provider: auth.Claude, baseURL: "https://gateway.example.com:8443",
			wantTLS: true, wantDial: "gateway.example.com:8443", wantHost: "gateway.example.com:8443",
			paths: map[string]string{"/v1/messages": "/v1/messages"},
		},
		{
			name: "claude base path", provider: auth.Claude, baseURL: "https://proxy.example.com/anthropic",
			wantTLS: true, wantDial: "proxy.example.com:443", wantHost: "proxy.example.com",
			paths: map[string]string{"/v1/messages": "/anthropic/v1/messages"},
		},
		{
			name: "claude base path with trailing slash", provider: auth.Claude, baseURL: "https://proxy.example.com/anthropic/",
			wantTLS: true, wantDial: "proxy.example.com:443", wantHost: "proxy.example.com",
			paths: map[string]string{"/v1/messages": "/anthropic/v1/messages"},
		},
		{
			name: "claude root with trailing slash", provider: auth.Claude, baseURL: "https://api.anthropic.com/",
			wantTLS: true, wantDial: "api.anthropic.com:443", wantHost: "api.anthropic.com",
			paths: map[string]string{"/v1/messages": "/v1/messages"},
		},
		{
			name: "gemini base path", provider: auth.Gemini, baseURL: "http://localhost:9000/google",
			wantTLS: false, wantDial: "localhost:9000", wantHost: "localhost:9000",
			paths: map[string]string{"/v1beta/models/g:streamGenerateContent": "/google/v1beta/models/g:streamGenerateContent"},
		},
		{
			name: "openai base without version keeps the client's path minus /v1", provider: auth.OpenAI, baseURL: "https://api.openai.com/v1",
			wantTLS: true, wantDial: "api.openai.com:443", wantHost: "api.openai.com",
			paths: map[string]string{"/v1/models": "/v1/models"},
		},
		{
			name: "IPv6 host", provider: auth.Claude, baseURL: "http://[::1]:8080",
			wantTLS: false, wantDial: "[::1]:8080", wantHost: "[::1]:8080",
			paths: map[string]string{"/v1/messages": "/v1/messages"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &auth.Credential{Name: "c", Provider: tt.provider, APIKey: upstreamSecret}
			if tt.baseURL != "" {
				c.BaseURL = mustURL(t, tt.baseURL)
			}
			ep, err := newEndpoint(c)
			require.NoError(t, err)
			assert.Equal(t, tt.wantTLS, ep.tls)
			assert.Equal(t, tt.wantDial, ep.dial)
			assert.Equal(t, tt.wantHost, ep.host)
			for client, want := range tt.paths {
				assert.Equal(t, want, ep.path(client), "client path %s", client)
			}
		})
	}
}

func TestNewEndpointErrors(t *testing.T) {
	tests := []struct {
		name     string
		provider auth.Provider
		baseURL  string
		wantErr  string
	}{
		{"openai-compatible without base_url", auth.OpenAICompatible, "", "needs a base_url"},
		{"ftp scheme", auth.Claude, "ftp://files.example.com", "scheme"},
		{"no scheme", auth.OpenAICompatible, "llm.internal/v1", "scheme"},
		{"no host", auth.Claude, "https:///v1", "no host"},
		{"ws scheme", auth.OpenAI, "wss://api.openai.com/v1", "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &auth.Credential{Name: "my-cred", Provider: tt.provider, APIKey: upstreamSecret}
			if tt.baseURL != "" {
				c.BaseURL = mustURL(t, tt.baseURL)
			}
			_, err := newEndpoint(c)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Contains(t, err.Error(), "my-cred", "the error does not say which credential")
			assert.NotContains(t, err.Error(), upstreamSecret)
		})
	}
}

func TestInjectCredential(t *testing.T) {
	tests := []struct {
		name       string
		provider   auth.Provider
		authHeader auth.AuthHeader
		extra      http.Header
		client     http.Header // headers already on the upstream request
		want       map[string]string
		absent     []string
	}{
		{
			name: "claude", provider: auth.Claude,
			client: http.Header{"Content-Type": {"application/json"}},
			want:   map[string]string{"X-Api-Key": upstreamSecret, "Anthropic-Version": "2023-06-01", "Content-Type": "application/json"},
			absent: []string{"Authorization", "X-Goog-Api-Key"},
		},
		{
			name: "claude keeps the client's anthropic-version", provider: auth.Claude,
			client: http.Header{"Anthropic-Version": {"2024-10-22"}, "Anthropic-Beta": {"prompt-caching-2024-07-31"}},
			want:   map[string]string{"X-Api-Key": upstreamSecret, "Anthropic-Version": "2024-10-22", "Anthropic-Beta": "prompt-caching-2024-07-31"},
			absent: []string{"Authorization"},
		},
		{
			name: "claude with auth_header bearer", provider: auth.Claude, authHeader: auth.AuthHeaderBearer,
			want:   map[string]string{"Authorization": "Bearer " + upstreamSecret, "Anthropic-Version": "2023-06-01"},
			absent: []string{"X-Api-Key", "X-Goog-Api-Key"},
		},
		{
			name: "claude with auth_header x-api-key", provider: auth.Claude, authHeader: auth.AuthHeaderAPIKey,
			want:   map[string]string{"X-Api-Key": upstreamSecret},
			absent: []string{"Authorization"},
		},
		{
			name: "openai", provider: auth.OpenAI,
			client: http.Header{"Openai-Beta": {"responses=v1"}},
			want:   map[string]string{"Authorization": "Bearer " + upstreamSecret, "Openai-Beta": "responses=v1"},
			absent: []string{"X-Api-Key", "X-Goog-Api-Key", "Anthropic-Version"},
		},
		{
			name: "openai-compatible", provider: auth.OpenAICompatible,
			want:   map[string]string{"Authorization": "Bearer " + upstreamSecret},
			absent: []string{"X-Api-Key", "X-Goog-Api-Key", "Anthropic-Version"},
		},
		{
			name: "gemini", provider: auth.Gemini,
			want:   map[string]string{"X-Goog-Api-Key": upstreamSecret},
			absent: []string{"Authorization", "X-Api-Key", "Anthropic-Version"},
		},
		{
			name: "extra headers added", provider: auth.OpenAICompatible,
			extra:  http.Header{"Http-Referer": {"https://team.example.com"}, "X-Title": {"team gateway"}},
			want:   map[string]string{"Authorization": "Bearer " + upstreamSecret, "Http-Referer": "https://team.example.com", "X-Title": "team gateway"},
			absent: []string{"X-Api-Key"},
		},
		{
			name: "extra header overrides the client's", provider: auth.Claude,
			client: http.Header{"Anthropic-Beta": {"client-beta"}},
			extra:  http.Header{"Anthropic-Beta": {"operator-beta"}},
			want:   map[string]string{"X-Api-Key": upstreamSecret, "Anthropic-Beta": "operator-beta"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &auth.Credential{Name: "c", Provider: tt.provider, APIKey: upstreamSecret, Headers: tt.extra, AuthHeader: tt.authHeader}
			h := tt.client.Clone()
			if h == nil {
				h = http.Header{}
			}
			injectCredential(h, c, c.APIKey)
			for name, v := range tt.want {
				assert.Equal(t, []string{v}, h.Values(name), name)
			}
			for _, name := range tt.absent {
				assert.Empty(t, h.Values(name), "%s set for %s", name, tt.provider)
			}
			// the secret appears exactly once, in the provider's header
			n := 0
			for _, vs := range h {
				for _, v := range vs {
					if v == upstreamSecret || v == "Bearer "+upstreamSecret {
						n++
					}
				}
			}
			assert.Equal(t, 1, n, "secret sent %d times", n)
		})
	}
}

func TestInjectCredentialReplacesStaleKey(t *testing.T) {
	h := http.Header{}
	injectCredential(h, &auth.Credential{Name: "a", Provider: auth.OpenAI, APIKey: "sk-first"}, "sk-first")
	injectCredential(h, &auth.Credential{Name: "b", Provider: auth.OpenAI, APIKey: "sk-second"}, "sk-second")
	assert.Equal(t, []string{"Bearer sk-second"}, h.Values("Authorization"), "a retry carries two keys")
}

// stubToken is an OAuth token provider for injection tests.
type stubToken struct{}

func (stubToken) Access(context.Context) (string, error) { return "oat-token", nil }
func (stubToken) Invalidate(context.Context, string) (string, error) {
	return "oat-token-2", nil
}

func TestInjectOAuthCredentials(t *testing.T) {
	t.Run("claude oauth", func(t *testing.T) {
		h := http.Header{"Anthropic-Beta": {"interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"}}
		injectCredential(h, &auth.Credential{Name: "c", Provider: auth.Claude, OAuth: stubToken{}}, "oat-token")
		assert.Equal(t, "Bearer oat-token", h.Get("Authorization"))
		assert.Empty(t, h.Get("X-Api-Key"))
		assert.Equal(t, "interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14,oauth-2025-04-20", h.Get("Anthropic-Beta"))
		injectCredential(h, &auth.Credential{Name: "c", Provider: auth.Claude, OAuth: stubToken{}}, "oat-token")
		assert.Equal(t, 1, strings.Count(h.Get("Anthropic-Beta"), "oauth-2025-04-20"), "the flag was added twice")
	})
	t.Run("claude oauth without client betas", func(t *testing.T) {
		h := http.Header{}
		injectCredential(h, &auth.Credential{Name: "c", Provider: auth.Claude, OAuth: stubToken{}}, "oat-token")
		assert.Equal(t, "oauth-2025-04-20", h.Get("Anthropic-Beta"))
	})
	t.Run("codex", func(t *testing.T) {
		h := http.Header{}
		injectCredential(h, &auth.Credential{Name: "x", Provider: auth.Codex, OAuth: stubToken{}, AccountID: "acct-1"}, "oat-token")
		assert.Equal(t, "Bearer oat-token", h.Get("Authorization"))
		assert.Equal(t, "acct-1", h.Get("Chatgpt-Account-Id"))
	})
}

func TestCodexEndpointPaths(t *testing.T) {
	ep, err := newEndpoint(&auth.Credential{Name: "x", Provider: auth.Codex})
	require.NoError(t, err)
	assert.True(t, ep.tls)
	assert.Equal(t, "chatgpt.com:443", ep.dial)
	assert.Equal(t, "/backend-api/codex/responses", ep.path("/v1/responses"))
	assert.Equal(t, "/backend-api/codex/responses", ep.path("/backend-api/codex/responses"))
	assert.Equal(t, "/backend-api/codex/responses/compact", ep.path("/v1/responses/compact"))
	openai, err := newEndpoint(&auth.Credential{Name: "o", Provider: auth.OpenAI})
	require.NoError(t, err)
	assert.Equal(t, "/v1/responses", openai.path("/backend-api/codex/responses"))
}
