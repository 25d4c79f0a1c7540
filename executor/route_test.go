package executor

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

func TestResolve(t *testing.T) {
	const anthropicVersion = "2023-06-01"
	tests := []struct {
		name    string
		method  string
		target  string
		version string // anthropic-version header, if any
		want    Route
		wantOK  bool
	}{
		// Anthropic Messages
		{"messages", "POST", "/v1/messages", anthropicVersion, Route{Family: FamilyAnthropic, Endpoint: "messages", HasBody: true}, true},
		{"messages without version header", "POST", "/v1/messages", "", Route{Family: FamilyAnthropic, Endpoint: "messages", HasBody: true}, true},
		{"messages with query", "POST", "/v1/messages?beta=true", anthropicVersion, Route{Family: FamilyAnthropic, Endpoint: "messages", HasBody: true}, true},
		{"count tokens", "POST", "/v1/messages/count_tokens", anthropicVersion, Route{Family: FamilyAnthropic, Endpoint: "messages/count_tokens", HasBody: true}, true},
		{"GET messages", "GET", "/v1/messages", anthropicVersion, Route{}, false},
		{"PUT messages", "PUT", "/v1/messages", anthropicVersion, Route{}, false},

		// OpenAI
		{"chat completions", "POST", "/v1/chat/completions", "", Route{Family: FamilyOpenAI, Endpoint: "chat/completions", HasBody: true}, true},
		{"completions", "POST", "/v1/completions", "", Route{Family: FamilyOpenAI, Endpoint: "completions", HasBody: true}, true},
		{"embeddings", "POST", "/v1/embeddings", "", Route{Family: FamilyOpenAI, Endpoint: "embeddings", HasBody: true}, true},
		{"responses", "POST", "/v1/responses", "", Route{Family: FamilyOpenAI, Endpoint: "responses", HasBody: true}, true},
		{"GET chat completions", "GET", "/v1/chat/completions", "", Route{}, false},
		{"DELETE responses", "DELETE", "/v1/responses", "", Route{}, false},

		// model listing: both families serve the path
		{"models, OpenAI client", "GET", "/v1/models", "", Route{Family: FamilyOpenAI, Endpoint: "models"}, true},
		{"models, Anthropic client", "GET", "/v1/models", anthropicVersion, Route{Family: FamilyAnthropic, Endpoint: "models"}, true},
		{"one model, OpenAI client", "GET", "/v1/models/gpt-4o", "", Route{Family: FamilyOpenAI, Endpoint: "models", Model: "gpt-4o"}, true},
		{"one model, Anthropic client", "GET", "/v1/models/claude-opus-4-1", anthropicVersion, Route{Family: FamilyAnthropic, Endpoint: "models", Model: "claude-opus-4-1"}, true},
		{"models with paging query", "GET", "/v1/models?limit=20", anthropicVersion, Route{Family: FamilyAnthropic, Endpoint: "models"}, true},
		{"POST models", "POST", "/v1/models", "", Route{}, false},
		{"DELETE a model", "DELETE", "/v1/models/ft:gpt-4o:me", "", Route{}, false},

		// Gemini
		{
			"gemini generate", "POST", "/v1beta/models/gemini-2.5-pro:generateContent", "",
			Route{Family: FamilyGemini, Endpoint: "generateContent", Model: "gemini-2.5-pro", HasBody: true},
			true,
		},
		{
			"gemini stream", "POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "",
			Route{Family: FamilyGemini, Endpoint: "streamGenerateContent", Model: "gemini-2.5-flash", HasBody: true},
			true,
		},
		{
			"gemini count tokens", "POST", "/v1beta/models/gemini-2.5-pro:countTokens", "",
			Route{Family: FamilyGemini, Endpoint: "countTokens", Model: "gemini-2.5-pro", HasBody: true},
			true,
		},
		{
			"gemini embed", "POST", "/v1beta/models/text-embedding-004:embedContent", "",
			Route{Family: FamilyGemini, Endpoint: "embedContent", Model: "text-embedding-004", HasBody: true},
			true,
		},
		{
			"gemini batch embed", "POST", "/v1beta/models/text-embedding-004:batchEmbedContents", "",
			Route{Family: FamilyGemini, Endpoint: "batchEmbedContents", Model: "text-embedding-004", HasBody: true},
			true,
		},
		{
			"gemini on /v1", "POST", "/v1/models/gemini-2.5-pro:generateContent", "",
			Route{Family: FamilyGemini, Endpoint: "generateContent", Model: "gemini-2.5-pro", HasBody: true},
			true,
		},
		{"gemini unknown action", "POST", "/v1beta/models/gemini-2.5-pro:deleteEverything", "", Route{}, false},
		{"gemini action is case-sensitive", "POST", "/v1beta/models/gemini-2.5-pro:GenerateContent", "", Route{}, false},
		{"gemini without action", "POST", "/v1beta/models/gemini-2.5-pro", "", Route{}, false},
		{"gemini empty action", "POST", "/v1beta/models/gemini-2.5-pro:", "", Route{}, false},
		{"gemini empty model", "POST", "/v1beta/models/:generateContent", "", Route{}, false},
		{
			"gemini model under a credential prefix", "POST", "/v1beta/models/team/gemini-2.5-pro:generateContent", "",
			Route{Family: FamilyGemini, Endpoint: "generateContent", Model: "team/gemini-2.5-pro", HasBody: true},
			true,
		},
		{"gemini model with two slashes", "POST", "/v1beta/models/a/b/gemini:generateContent", "", Route{}, false},
		{"gemini model with an empty prefix", "POST", "/v1beta/models//gemini:generateContent", "", Route{}, false},
		{"gemini GET", "GET", "/v1beta/models/gemini-2.5-pro:generateContent", "", Route{}, false},
		{"gemini model listing", "GET", "/v1beta/models", "", Route{Family: FamilyGemini, Endpoint: "models"}, true},
		{"gemini one model", "GET", "/v1beta/models/gemini-2.5-pro", "", Route{Family: FamilyGemini, Endpoint: "models", Model: "gemini-2.5-pro"}, true},

		// paths the gateway does not serve
		{"root", "GET", "/", "", Route{}, false},
		{"health", "GET", "/healthz", "", Route{}, false},
		{"messages with trailing slash", "POST", "/v1/messages/", anthropicVersion, Route{}, false},
		{"messages prefix lookalike", "POST", "/v1/messagesx", anthropicVersion, Route{}, false},
		{"another API version", "POST", "/v2/messages", anthropicVersion, Route{}, false},
		{"no version prefix", "POST", "/chat/completions", "", Route{}, false},
		{"chat completions with trailing slash", "POST", "/v1/chat/completions/", "", Route{}, false},
		{"models lookalike", "GET", "/v1/modelsx", "", Route{}, false},
		{"files", "POST", "/v1/files", "", Route{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.target, nil)
			if tt.version != "" {
				r.Header.Set("anthropic-version", tt.version)
			}
			got, ok := Resolve(r)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestFamily(t *testing.T) {
	tests := []struct {
		f         Family
		name      string
		providers []auth.Provider
	}{
		{FamilyAnthropic, "anthropic", []auth.Provider{auth.Claude}},
		{FamilyOpenAI, "openai", []auth.Provider{auth.OpenAI, auth.OpenAICompatible, auth.Codex}},
		{FamilyGemini, "gemini", []auth.Provider{auth.Gemini, auth.GeminiCLI}},
		{Family(0), "unknown", nil},
		{Family(99), "unknown", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.name, tt.f.String())
			assert.Equal(t, tt.providers, tt.f.Providers())
		})
	}
}

// Every provider is served by exactly one family, so every credential is
// reachable from some client path.
func TestEveryProviderHasAFamily(t *testing.T) {
	for _, p := range auth.Providers {
		n := 0
		for _, f := range []Family{FamilyAnthropic, FamilyOpenAI, FamilyGemini} {
			for _, fp := range f.Providers() {
				if fp == p {
					n++
				}
			}
		}
		assert.Equal(t, 1, n, "provider %s is served by %d families", p, n)
	}
}

func TestCodexServesOnlyResponses(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		codex        bool
	}{
		{http.MethodPost, "/v1/responses", true},
		{http.MethodPost, "/v1/responses/compact", true},
		{http.MethodPost, "/backend-api/codex/responses", true},
		{http.MethodPost, "/v1/chat/completions", false},
		{http.MethodPost, "/v1/embeddings", false},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		route, ok := Resolve(r)
		require.True(t, ok, tc.path)
		assert.Equal(t, FamilyOpenAI, route.Family, tc.path)
		assert.Equal(t, tc.codex, route.servedBy(auth.Codex), tc.path)
		assert.True(t, route.servedBy(auth.OpenAI), tc.path)
	}
}
