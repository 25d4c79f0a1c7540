package auth

import (
	"fmt"
	"net/http"
	"strings"
)

// Client is the family of program a request comes from, as far as its
// headers tell. A subscription (OAuth) account is licensed to one official
// client: the provider refuses, or bills apart, requests from anything
// else, and passing another program off as the official one is what the
// providers' terms forbid. So by default an OAuth credential serves only
// its own client family, and the gateway never rewrites a request to look
// like that client.
type Client string

// The client families the gateway tells apart.
const (
	// ClientOther is any program that is not one of the official CLIs
	// below: an SDK, an IDE plugin, curl.
	ClientOther Client = ""
	// ClientClaudeCode is Anthropic's Claude Code (and the Agent SDK,
	// which runs it).
	ClientClaudeCode Client = "claude-code"
	// ClientCodexCLI is OpenAI's Codex CLI (and its IDE extension and
	// SDK, which run it).
	ClientCodexCLI Client = "codex-cli"
	// ClientGeminiCLI is Google's Gemini CLI.
	ClientGeminiCLI Client = "gemini-cli"
)

// ClientOf recognises the official CLI a request comes from by the headers
// that CLI sends on every request (checked against Claude Code 2.1.330,
// Codex CLI 0.169.0 and Gemini CLI 0.61.0):
//
//   - Claude Code: User-Agent "claude-cli/<version> (<user type>,
//     <entrypoint>)" together with "X-App: cli";
//   - Codex CLI: an Originator header starting "codex_" (codex_cli_rs,
//     codex_exec, codex_vscode, …) together with a User-Agent that starts
//     with that originator and "/" ("codex_exec/0.169.0 (…)");
//   - Gemini CLI: User-Agent "GeminiCLI/<version>/<model> (…)" or
//     "GeminiCLI-<surface>/…", or, inside VS Code,
//     "CloudCodeVSCode/<version> (…; proxy_client=geminicli)".
//
// Anything else is ClientOther. Headers can be forged by whoever holds a
// client key; the check keeps honest programs on the accounts they may
// use, it is not an authentication.
func ClientOf(h http.Header) Client {
	ua := h.Get("User-Agent")
	switch {
	case strings.HasPrefix(ua, "claude-cli/") && strings.EqualFold(h.Get("X-App"), "cli"):
		return ClientClaudeCode
	case strings.HasPrefix(ua, "GeminiCLI/") || strings.HasPrefix(ua, "GeminiCLI-"),
		strings.HasPrefix(ua, "CloudCodeVSCode/") && strings.Contains(ua, "proxy_client=geminicli"):
		return ClientGeminiCLI
	}
	if o := h.Get("Originator"); strings.HasPrefix(o, "codex_") && strings.HasPrefix(ua, o+"/") {
		return ClientCodexCLI
	}
	return ClientOther
}

// OAuthClients says which clients an OAuth (subscription) credential
// serves.
type OAuthClients string

// The values of OAuthClients.
const (
	// OAuthClientsDefault leaves the choice to the pool's setting.
	OAuthClientsDefault OAuthClients = ""
	// OAuthClientsOfficial serves only the account's own client family.
	OAuthClientsOfficial OAuthClients = "official"
	// OAuthClientsAny serves every client; the provider may refuse or
	// bill the others apart (see the README).
	OAuthClientsAny OAuthClients = "any"
)

// ParseOAuthClients reads "official" or "any" ("" is the default).
func ParseOAuthClients(s string) (OAuthClients, error) {
	switch v := OAuthClients(strings.ToLower(strings.TrimSpace(s))); v {
	case OAuthClientsDefault, OAuthClientsOfficial, OAuthClientsAny:
		return v, nil
	}
	return "", fmt.Errorf("oauth_clients must be official or any, got %q", s)
}

// OfficialClient is the client family whose subscription c is: Claude Code
// for a Claude OAuth account, the Codex CLI for a ChatGPT account, the
// Gemini CLI for a Code Assist account; ClientOther for an API key, which
// serves every client.
func (c *Credential) OfficialClient() Client {
	switch {
	case c.Provider == Codex:
		return ClientCodexCLI
	case c.Provider == GeminiCLI:
		return ClientGeminiCLI
	case c.Provider == Claude && c.OAuth != nil:
		return ClientClaudeCode
	}
	return ClientOther
}

// ServesClient reports whether c may serve a request from client. An
// OAuth credential follows its own OAuthClients, or poolDefault when it
// sets none; OAuthClientsDefault there means official.
func (c *Credential) ServesClient(client Client, poolDefault OAuthClients) bool {
	official := c.OfficialClient()
	if official == ClientOther || client == official {
		return true
	}
	policy := c.OAuthClients
	if policy == OAuthClientsDefault {
		policy = poolDefault
	}
	return policy == OAuthClientsAny
}

// AuthHeader is how a claude API key is presented upstream.
type AuthHeader string

// The values of AuthHeader.
const (
	// AuthHeaderAPIKey sends "x-api-key: <key>", as Anthropic's API wants
	// (the default).
	AuthHeaderAPIKey AuthHeader = "x-api-key"
	// AuthHeaderBearer sends "Authorization: Bearer <key>", as some
	// Anthropic-compatible hosts want.
	AuthHeaderBearer AuthHeader = "bearer"
)

// ParseAuthHeader reads "x-api-key" or "bearer" ("" is x-api-key).
func ParseAuthHeader(s string) (AuthHeader, error) {
	switch v := AuthHeader(strings.ToLower(strings.TrimSpace(s))); v {
	case "", AuthHeaderAPIKey:
		return AuthHeaderAPIKey, nil
	case AuthHeaderBearer:
		return v, nil
	}
	return "", fmt.Errorf("auth_header must be x-api-key or bearer, got %q", s)
}
