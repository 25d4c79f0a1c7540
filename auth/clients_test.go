package auth_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
)

func headerOf(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// TestClientOf recognises the official CLIs by the headers they were seen
// sending (Claude Code 2.1.330, Codex CLI 0.169.0 over HTTP and WebSocket,
// Gemini CLI 0.61.0) and takes the SDKs and look-alikes for other clients.
func TestClientOf(t *testing.T) {
	cases := []struct {
		name   string
		header http.Header
		want   auth.Client
	}{
		{"claude code", headerOf("User-Agent", "claude-cli/2.1.330 (external, sdk-cli)", "X-App", "cli",
			"X-Claude-Code-Session-Id", "b0dd187d-f85d-4817-8c64-14b36bca0653", "X-Stainless-Lang", "js"), auth.ClientClaudeCode},
		{"claude code interactive", headerOf("User-Agent", "claude-cli/2.1.330 (external, cli)", "X-App", "cli"), auth.ClientClaudeCode},
		{"claude-cli agent without x-app", headerOf("User-Agent", "claude-cli/2.1.330 (external, sdk-cli)"), auth.ClientOther},
		{"anthropic sdk", headerOf("User-Agent", "Anthropic/JS 0.71.0", "X-Stainless-Lang", "js", "Anthropic-Version", "2023-06-01"), auth.ClientOther},
		{"anthropic python sdk with x-app", headerOf("User-Agent", "Anthropic/Python 0.69.0", "X-App", "cli"), auth.ClientOther},
		{"codex exec", headerOf("User-Agent", "codex_exec/0.169.0 (Debian 12.0.0; x86_64) unknown (codex_exec; 0.169.0)",
			"Originator", "codex_exec", "Session-Id", "01a2450b-fff8-7fa0-9cca-f869a42ee5ee"), auth.ClientCodexCLI},
		{"codex tui", headerOf("User-Agent", "codex_cli_rs/0.169.0 (Mac OS 15.1.0; arm64) iTerm.app/3.5", "Originator", "codex_cli_rs"), auth.ClientCodexCLI},
		{"codex originator, foreign agent", headerOf("User-Agent", "OpenAI/JS 6.1.0", "Originator", "codex_cli_rs"), auth.ClientOther},
		{"openai sdk", headerOf("User-Agent", "OpenAI/Python 1.109.1", "X-Stainless-Lang", "python"), auth.ClientOther},
		{"gemini cli", headerOf("User-Agent", "GeminiCLI-tui/0.61.0/gemini-2.5-flash (linux; x64; terminal)",
			"X-Goog-Api-Client", "google-genai-sdk/1.30.0 gl-node/v20.20.2"), auth.ClientGeminiCLI},
		{"gemini cli headless", headerOf("User-Agent", "GeminiCLI/0.61.0/gemini-2.5-pro (darwin; arm64; headless)"), auth.ClientGeminiCLI},
		{"gemini cli in vs code", headerOf("User-Agent",
			"CloudCodeVSCode/0.61.0 (aidev_client; os_type=Linux; os_version=6.1; arch=x64; host_path=VSCode/1.99; proxy_client=geminicli)"), auth.ClientGeminiCLI},
		{"gemini code assist plugin", headerOf("User-Agent", "CloudCodeVSCode/2.40.0 (aidev_client; os_type=Linux)"), auth.ClientOther},
		{"google genai sdk", headerOf("User-Agent", "google-genai-sdk/1.30.0 gl-node/v20.20.2", "X-Goog-Api-Client", "google-genai-sdk/1.30.0"), auth.ClientOther},
		{"curl", headerOf("User-Agent", "curl/8.5.0"), auth.ClientOther},
		{"nothing", http.Header{}, auth.ClientOther},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, auth.ClientOf(tc.header))
		})
	}
}

// TestServesClient: an API key serves everyone; an OAuth account serves
// its own CLI, others only when it or its pool says any.
func TestServesClient(t *testing.T) {
	oauth := oauth.NewTokenSource(oauth.OAuthClaude, oauth.Token{AccessToken: "a"}, nil, oauth.TokenSourceOptions{})
	key := &auth.Credential{Name: "key", Provider: auth.Claude, APIKey: "k"}
	claude := &auth.Credential{Name: "claude", Provider: auth.Claude, OAuth: oauth}
	codex := &auth.Credential{Name: "codex", Provider: auth.Codex, OAuth: oauth}
	gemini := &auth.Credential{Name: "gemini", Provider: auth.GeminiCLI, OAuth: oauth}
	open := &auth.Credential{Name: "open", Provider: auth.Claude, OAuth: oauth, OAuthClients: auth.OAuthClientsAny}
	strict := &auth.Credential{Name: "strict", Provider: auth.Claude, OAuth: oauth, OAuthClients: auth.OAuthClientsOfficial}

	assert.Equal(t, auth.ClientOther, key.OfficialClient())
	assert.Equal(t, auth.ClientClaudeCode, claude.OfficialClient())
	assert.Equal(t, auth.ClientCodexCLI, codex.OfficialClient())
	assert.Equal(t, auth.ClientGeminiCLI, gemini.OfficialClient())

	for _, client := range []auth.Client{auth.ClientOther, auth.ClientClaudeCode, auth.ClientCodexCLI, auth.ClientGeminiCLI} {
		assert.True(t, key.ServesClient(client, ""), "an API key serves %q", client)
		assert.True(t, open.ServesClient(client, auth.OAuthClientsOfficial), "oauth_clients any in the file wins over the pool")
	}
	for _, c := range []*auth.Credential{claude, codex, gemini} {
		assert.True(t, c.ServesClient(c.OfficialClient(), ""), c.Name)
		assert.False(t, c.ServesClient(auth.ClientOther, ""), "%s: default is official", c.Name)
		assert.False(t, c.ServesClient(auth.ClientOther, auth.OAuthClientsOfficial), c.Name)
		assert.True(t, c.ServesClient(auth.ClientOther, auth.OAuthClientsAny), "%s: the pool opens it", c.Name)
	}
	assert.False(t, claude.ServesClient(auth.ClientCodexCLI, ""), "Codex CLI on a Claude account")
	assert.False(t, strict.ServesClient(auth.ClientOther, auth.OAuthClientsAny), "official in the file wins over the pool")

	for in, want := range map[string]auth.OAuthClients{"": "", "official": "official", "ANY": "any"} {
		got, err := auth.ParseOAuthClients(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := auth.ParseOAuthClients("all")
	assert.ErrorContains(t, err, "oauth_clients must be official or any")
	for in, want := range map[string]auth.AuthHeader{"": "x-api-key", "x-api-key": "x-api-key", "Bearer": "bearer"} {
		got, err := auth.ParseAuthHeader(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err = auth.ParseAuthHeader("authorization")
	assert.ErrorContains(t, err, "auth_header must be x-api-key or bearer")
}
