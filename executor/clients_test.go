package executor

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
)

// A subscription account is eligible only for its own CLI by default; an
// API key for everyone; "any" (the pool's or the account's own) opens an
// account to every client; a request only subscription accounts of other
// clients could serve is told so.
func TestViewEligibleByClient(t *testing.T) {
	oauth := oauth.NewTokenSource(oauth.OAuthClaude, oauth.Token{AccessToken: "a"}, nil, oauth.TokenSourceOptions{})
	sub := &auth.Credential{Name: "claude-alice", Provider: auth.Claude, OAuth: oauth, Priority: 1}
	key := &auth.Credential{Name: "key", Provider: auth.Claude, APIKey: "k"}
	pool, err := auth.NewPool([]*auth.Credential{sub, key})
	require.NoError(t, err)
	sdk := Route{Family: FamilyAnthropic, Endpoint: "messages", HasBody: true}
	cc := sdk
	cc.Client = auth.ClientClaudeCode

	v, err := newView(pool, "")
	require.NoError(t, err)
	assert.Equal(t, []*auth.Credential{key}, v.eligible(sdk, "claude-sonnet-4-5", "bob"))
	assert.Equal(t, []*auth.Credential{sub, key}, v.eligible(cc, "claude-sonnet-4-5", "bob"))
	assert.False(t, v.servesRoute(sub, sdk))
	assert.True(t, v.servesRoute(sub, cc))

	open, err := newView(pool, auth.OAuthClientsAny)
	require.NoError(t, err)
	assert.Equal(t, []*auth.Credential{sub, key}, open.eligible(sdk, "claude-sonnet-4-5", "bob"))

	only, err := auth.NewPool([]*auth.Credential{sub})
	require.NoError(t, err)
	v, err = newView(only, auth.OAuthClientsOfficial)
	require.NoError(t, err)
	assert.Empty(t, v.eligible(sdk, "claude-sonnet-4-5", "bob"))
	assert.True(t, v.refusesClient(sdk, "claude-sonnet-4-5", "bob"))
	assert.False(t, v.refusesClient(Route{Family: FamilyGemini, Endpoint: "generateContent", HasBody: true}, "gemini-2.5-pro", "bob"),
		"nothing serves Gemini at all: not the client's fault")
}

func TestResolveRecognisesTheClient(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/v1/messages?beta=true", nil)
	r.Header.Set("User-Agent", "claude-cli/2.1.330 (external, sdk-cli)")
	r.Header.Set("X-App", "cli")
	route, ok := Resolve(r)
	require.True(t, ok)
	assert.Equal(t, auth.ClientClaudeCode, route.Client)

	r = httptest.NewRequest(http.MethodPost, "/v1/messages", nil)
	r.Header.Set("User-Agent", "Anthropic/JS 0.71.0")
	route, ok = Resolve(r)
	require.True(t, ok)
	assert.Equal(t, auth.ClientOther, route.Client)
}

func TestWrongClient(t *testing.T) {
	oauth := oauth.NewTokenSource(oauth.OAuthClaude, oauth.Token{AccessToken: "a"}, nil, oauth.TokenSourceOptions{})
	claude := &auth.Credential{Name: "c", Provider: auth.Claude, OAuth: oauth}
	codex := &auth.Credential{Name: "x", Provider: auth.Codex, OAuth: oauth}
	key := &auth.Credential{Name: "k", Provider: auth.Claude, APIKey: "k"}
	assert.True(t, refusesForeignClients(claude))
	assert.True(t, refusesForeignClients(codex))
	assert.False(t, refusesForeignClients(key), "an API key's 400 is the client's and streams straight through")
	assert.False(t, refusesForeignClients(&auth.Credential{Name: "g", Provider: auth.GeminiCLI, OAuth: oauth}))

	cases := []struct {
		c    *auth.Credential
		body string
		want bool
	}{
		{claude, `{"type":"error","error":{"type":"invalid_request_error","message":"This credential is only authorized for use with Claude Code and cannot be used for other API requests."},"request_id":"req_011"}`, true},
		{claude, `{"type":"error","error":{"type":"invalid_request_error","message":"Third-party apps now draw from your extra usage, not your plan limits. We've added a $100 credit to get you started. Claim it at claude.ai/settings/usage and keep going."}}`, true},
		{claude, `{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}`, false},
		{claude, `{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 215000 tokens > 200000 maximum"}}`, false},
		{codex, `{"detail":"Store must be set to false"}`, true},
		{codex, `{"detail":"Instructions are required"}`, true},
		{codex, `{"detail":"Unsupported parameter: temperature"}`, true},
		{codex, `{"error":{"type":"invalid_request_error","code":null,"param":null,"message":"Store must be set to false"}}`, true},
		{codex, `{"error":{"message":"Invalid 'input[0].content': expected an array","type":"invalid_request_error"}}`, false},
		{codex, `{"error":{"message":"No tool output found for function call call_abc.","type":"invalid_request_error"}}`, false},
		{codex, `not json`, false},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, wrongClient(tc.c, []byte(tc.body)), tc.body)
	}
}

func TestCodeAssistCountBody(t *testing.T) {
	got := codeAssistCountBody("gemini-2.5-pro", []byte(`{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`))
	assert.JSONEq(t, `{"request":{"model":"models/gemini-2.5-pro","contents":[{"role":"user","parts":[{"text":"hi"}]}]}}`, string(got))
	got = codeAssistCountBody("gemini-2.5-pro", []byte(`{"generateContentRequest":{"model":"models/gemini-2.5-pro","contents":[{"parts":[{"text":"x"}]}]}}`))
	assert.JSONEq(t, `{"request":{"model":"models/gemini-2.5-pro","contents":[{"parts":[{"text":"x"}]}]}}`, string(got))
	got = codeAssistCountBody("m", nil)
	assert.JSONEq(t, `{"request":{"model":"models/m","contents":[]}}`, string(got))
}
