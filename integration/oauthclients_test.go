package integration

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
	"github.com/caddy-cliproxy/cliproxy/internal/mockoauth"
	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// The identifying headers of the official CLIs, as the installed ones send
// them (Claude Code 2.1.330, Codex CLI 0.169.0, Gemini CLI 0.61.0), and of
// the SDKs, which are other clients.
const (
	codexUserAgent = "codex_exec/0.169.0 (Debian 12.0.0; x86_64) unknown (codex_exec; 0.169.0)"
	// claudeSubscriptionToken is the access token of the Claude
	// subscription account of these tests.
	claudeSubscriptionToken = "sk-ant-oat01-subscription-alice"
)

// claudeCodeHeader is a Claude Code request's headers with the client key.
func claudeCodeHeader() http.Header {
	h := anthropicHeader()
	h.Set("User-Agent", "claude-cli/2.1.330 (external, sdk-cli)")
	h.Set("X-App", "cli")
	h.Set("Anthropic-Beta", "claude-code-20250219,interleaved-thinking-2025-05-14")
	h.Set("X-Stainless-Lang", "js")
	return h
}

// anthropicSDKHeader is a request of the @anthropic-ai/sdk package.
func anthropicSDKHeader() http.Header {
	h := anthropicHeader()
	h.Set("User-Agent", "Anthropic/JS 0.71.0")
	h.Set("X-Stainless-Lang", "js")
	h.Set("X-Stainless-Package-Version", "0.71.0")
	return h
}

// codexHTTPHeader is a Codex CLI request over HTTP.
func codexHTTPHeader() http.Header {
	h := codexHeader("019a4b7c-codex-session")
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "text/event-stream")
	h.Del("Openai-Beta")
	return h
}

// geminiCLIHeader is a Gemini CLI request with a Gemini API key.
func geminiCLIHeader() http.Header {
	h := geminiHeader()
	h.Set("User-Agent", "GeminiCLI/0.61.0/gemini-2.5-pro (linux; x64; headless)")
	h.Set("X-Goog-Api-Client", "google-genai-sdk/1.30.0 gl-node/v20.20.2")
	return h
}

// subscriptionPool is an auth directory holding Claude subscription
// account(s) in front of the API key spare (priority -1), on a pool whose
// oauth_clients is set by extra.
func subscriptionPool(t *testing.T, extra string) *oauthGateway {
	t.Helper()
	o := startOAuthGateway(t, spareAPIKey+extra)
	o.mock.SetSubscription(claudeSubscriptionToken, mockupstream.SubscriptionClaude)
	o.writeAuthFile(t, "claude-alice.json", claudeOAuthFile(claudeSubscriptionToken, "sk-ant-ort01-alice", time.Now().Add(6*time.Hour), o.mockURL))
	waitFor(t, "the subscription account is served", func() bool {
		o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		return len(o.mock.RequestsFor(claudeSubscriptionToken)) > 0
	})
	o.mock.Reset()
	o.mock.SetSubscription(claudeSubscriptionToken, mockupstream.SubscriptionClaude)
	return o
}

// In a pool of one Claude subscription account (the higher tier) and one
// API key, an Anthropic SDK request always lands on the API key, which it
// may use, and never reaches the account, which the real API would refuse
// it; Claude Code's requests land on the account.
func TestSubscriptionAccountServesOnlyItsOwnClient(t *testing.T) {
	o := subscriptionPool(t, "")
	for i := range 4 {
		res, body := o.do(http.MethodPost, "/v1/messages", anthropicSDKHeader(), claudeBody)
		require.Equal(t, http.StatusOK, res.StatusCode, "SDK request %d: %s", i, body)
	}
	for i := range 3 {
		res, body := o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		require.Equal(t, http.StatusOK, res.StatusCode, "Claude Code request %d: %s", i, body)
	}
	var keys []string
	for _, r := range o.mock.Requests() {
		keys = append(keys, r.Key)
	}
	assert.Equal(t, []string{
		claudeKeyB, claudeKeyB, claudeKeyB, claudeKeyB,
		claudeSubscriptionToken, claudeSubscriptionToken, claudeSubscriptionToken,
	}, keys,
		"SDK requests belong on the API key, Claude Code's on the account (its tier)")
	for _, r := range o.mock.RequestsFor(claudeSubscriptionToken) {
		assert.True(t, strings.HasPrefix(r.Header.Get("User-Agent"), "claude-cli/"), "the gateway passes the client's own User-Agent, never a disguise")
	}
}

// Without an API key for them, other clients get no_credential_for_client
// in their own protocol's shape, and nothing goes upstream; each pool's
// official CLI is served. An auth file's "oauth_clients": "any" opens its
// account to every client, whatever the pool says.
func TestNoCredentialForClient(t *testing.T) {
	o := startOAuthGateway(t, "oauth_clients official")
	idToken := fakeJWT(map[string]any{"https://api.openai.com/auth": map[string]any{"chatgpt_account_id": "acct-dan"}})
	o.writeAuthFile(t, "claude-bob.json", claudeOAuthFile("sk-ant-oat01-bob", "sk-ant-ort01-bob", time.Now().Add(6*time.Hour), o.mockURL))
	o.writeAuthFile(t, "codex-dan.json", map[string]any{
		"type": "codex", "email": "dan@example.com", "access_token": "codex-access-dan", "refresh_token": "codex-refresh-dan",
		"id_token": idToken, "expired": time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339), "base_url": o.mockURL + "/backend-api/codex",
	})
	o.writeAuthFile(t, "gemini-erin.json", map[string]any{
		"type": "gemini-cli", "email": "erin@example.com", "access_token": "ya29.erin", "refresh_token": "1//erin",
		"expired": time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339), "project_id": "proj-erin", "base_url": o.mockURL,
	})
	const responsesBody = `{"model":"gpt-5.5","stream":true,"instructions":"be brief","input":"hi","store":false}`
	const geminiBody = `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`
	waitFor(t, "every account is served to its own CLI", func() bool {
		a, _ := o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		b, _ := o.do(http.MethodPost, "/v1/responses", codexHTTPHeader(), responsesBody)
		c, _ := o.do(http.MethodPost, "/v1beta/models/gemini-2.5-pro:generateContent", geminiCLIHeader(), geminiBody)
		return a.StatusCode == http.StatusOK && b.StatusCode == http.StatusOK && c.StatusCode == http.StatusOK
	})
	before := len(o.mock.Requests())

	res, body := o.do(http.MethodPost, "/v1/messages", anthropicSDKHeader(), claudeBody)
	assert.Equal(t, http.StatusForbidden, res.StatusCode, body)
	assert.Equal(t, "error", gjson.Get(body, "type").String(), body)
	assert.Equal(t, "permission_error", gjson.Get(body, "error.type").String(), body)
	assert.Equal(t, "no_credential_for_client", gjson.Get(body, "error.code").String(), body)
	assert.Contains(t, gjson.Get(body, "error.message").String(), "Claude Code")

	res, body = o.do(http.MethodPost, "/v1/responses", hdr("Authorization", "Bearer "+clientKey, "User-Agent", "OpenAI/JS 6.1.0"), responsesBody)
	assert.Equal(t, http.StatusForbidden, res.StatusCode, body)
	assert.Equal(t, "no_credential_for_client", gjson.Get(body, "error.code").String(), body)
	assert.Contains(t, gjson.Get(body, "error.message").String(), "Codex CLI")

	res, body = o.do(http.MethodPost, "/v1beta/models/gemini-2.5-pro:generateContent", geminiHeader(), geminiBody)
	assert.Equal(t, http.StatusForbidden, res.StatusCode, body)
	assert.Equal(t, "PERMISSION_DENIED", gjson.Get(body, "error.status").String(), body)
	assert.Equal(t, "no_credential_for_client", gjson.Get(body, "error.details.0.reason").String(), body)
	assert.Equal(t, before, len(o.mock.Requests()), "a refused client's request went upstream")

	// a model no credential serves at all is still model_not_supported
	res, body = o.do(http.MethodPost, "/v1/chat/completions", hdr("Authorization", "Bearer "+clientKey), `{"model":"gpt-5.5","messages":[]}`)
	assert.Equal(t, "model_not_supported", gjson.Get(body, "error.code").String(), "%d %s", res.StatusCode, body)

	// the file opens its account to every client
	f := claudeOAuthFile("sk-ant-oat01-bob", "sk-ant-ort01-bob", time.Now().Add(6*time.Hour), o.mockURL)
	f["oauth_clients"] = "any"
	o.writeAuthFile(t, "claude-bob.json", f)
	waitFor(t, "the file's oauth_clients any is applied", func() bool {
		res, _ := o.do(http.MethodPost, "/v1/messages", anthropicSDKHeader(), claudeBody)
		return res.StatusCode == http.StatusOK
	})
	assert.Equal(t, "sk-ant-oat01-bob", o.mock.Requests()[len(o.mock.Requests())-1].Key)
}

// With oauth_clients any, the real refusals still come: a Claude account
// answering an SDK request 400 "only authorized for use with Claude Code"
// (or 2026's "Third-party apps now draw from your extra usage"), a ChatGPT
// account answering a generic Responses body 400 "Unsupported parameter:
// temperature". They are "wrong client for this account": the request
// fails over to an API key, the client never sees the 400, and the
// account does not cool (it keeps serving its own CLI, and is tried
// first again).
func TestClientMismatchFailsOverWithoutCooling(t *testing.T) {
	o := subscriptionPool(t, `
		oauth_clients any
		credential openai-key {
			provider openai
			api_key `+openAIKey+`
			base_url MOCK/v1
			priority -1
		}`)
	o.writeAuthFile(t, "claude-bea.json", claudeOAuthFile("sk-ant-oat01-bea", "sk-ant-ort01-bea", time.Now().Add(6*time.Hour), o.mockURL))
	idToken := fakeJWT(map[string]any{"https://api.openai.com/auth": map[string]any{"chatgpt_account_id": "acct-cy"}})
	o.writeAuthFile(t, "codex-cy.json", map[string]any{
		"type": "codex", "email": "cy@example.com", "access_token": "codex-access-cy", "refresh_token": "codex-refresh-cy",
		"id_token": idToken, "expired": time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339), "base_url": o.mockURL + "/backend-api/codex",
	})
	o.mock.SetSubscription("sk-ant-oat01-bea", mockupstream.SubscriptionClaudeExtraUsage)
	o.mock.SetSubscription("codex-access-cy", mockupstream.SubscriptionCodex)
	waitFor(t, "the new files are served", func() bool {
		o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		o.do(http.MethodPost, "/v1/responses", codexHTTPHeader(), `{"model":"gpt-5.5","stream":true,"instructions":"x","input":"hi","store":false}`)
		return len(o.mock.RequestsFor("sk-ant-oat01-bea")) > 0 && len(o.mock.RequestsFor("codex-access-cy")) > 0
	})
	o.mock.Reset()
	o.mock.SetSubscription(claudeSubscriptionToken, mockupstream.SubscriptionClaude)
	o.mock.SetSubscription("sk-ant-oat01-bea", mockupstream.SubscriptionClaudeExtraUsage)
	o.mock.SetSubscription("codex-access-cy", mockupstream.SubscriptionCodex)

	for i := range 3 {
		res, body := o.do(http.MethodPost, "/v1/messages", anthropicSDKHeader(), claudeBody)
		require.Equal(t, http.StatusOK, res.StatusCode, "SDK request %d: %s", i, body)
		assert.NotContains(t, body, "only authorized", "the refusal reached the client")
	}
	var refused, served int
	for _, r := range o.mock.Requests() {
		switch r.Key {
		case claudeSubscriptionToken, "sk-ant-oat01-bea":
			refused++
		case claudeKeyB:
			served++
		}
	}
	// the accounts are tried first every time: a refusal cools nothing
	assert.Equal(t, 3, served)
	assert.GreaterOrEqual(t, refused, 5, "each request tries both accounts before the key")

	res, body := o.do(http.MethodPost, "/v1/responses", hdr("Authorization", "Bearer "+clientKey, "User-Agent", "OpenAI/Python 1.109.1"),
		`{"model":"gpt-5.5","stream":true,"input":"hi","temperature":0.2}`)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	reqs := o.mock.Requests()
	require.GreaterOrEqual(t, len(reqs), 2)
	assert.Equal(t, "codex-access-cy", reqs[len(reqs)-2].Key)
	assert.Equal(t, openAIKey, reqs[len(reqs)-1].Key)

	api := o.adminAPI()
	for _, name := range []string{"claude-alice", "claude-bea", "codex-cy"} {
		c := api.credential(name)
		assert.Equal(t, "available", c.Get("status").String(), "%s cooled on a client mismatch: %s", name, c.Raw)
		assert.False(t, c.Get("models").Exists(), "%s has a blocked model: %s", name, c.Raw)
	}
	// its own CLI is served by the account as before
	res, body = o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Contains(t, []string{claudeSubscriptionToken, "sk-ant-oat01-bea"}, o.mock.Requests()[len(o.mock.Requests())-1].Key)
}

// When only refusing accounts are left, the client gets
// no_credential_for_client in its own shape, not the account's 400.
func TestClientMismatchWithNoKeyLeft(t *testing.T) {
	o := startOAuthGateway(t, "oauth_clients any")
	o.mock.SetSubscription(claudeSubscriptionToken, mockupstream.SubscriptionClaude)
	o.writeAuthFile(t, "claude-alice.json", claudeOAuthFile(claudeSubscriptionToken, "sk-ant-ort01-alice", time.Now().Add(6*time.Hour), o.mockURL))
	var res *http.Response
	var body string
	waitFor(t, "the account is tried", func() bool {
		res, body = o.do(http.MethodPost, "/v1/messages", anthropicSDKHeader(), claudeBody)
		return len(o.mock.RequestsFor(claudeSubscriptionToken)) > 0
	})
	assert.Equal(t, http.StatusForbidden, res.StatusCode, body)
	assert.Equal(t, "no_credential_for_client", gjson.Get(body, "error.code").String(), body)
	assert.NotContains(t, body, "only authorized")
	assert.Equal(t, "available", o.adminAPI().credential("claude-alice").Get("status").String())
}

// The Claude token endpoint is platform.claude.com's, refreshes there speak
// as Claude Code does, and a host answering like the old one (a Cloudflare
// challenge page) is reported where an operator looks: the credential's
// refresh state in the management API and a warning in the log, while the
// request is served by another credential.
func TestClaudeTokenEndpoint(t *testing.T) {
	u, err := url.Parse(oauth.DefaultTokenURL(oauth.OAuthClaude))
	require.NoError(t, err)
	assert.Equal(t, "platform.claude.com", u.Host)
	assert.Equal(t, "/v1/oauth/token", u.Path)

	// refresh at the mock standing in for the default (oauth_token_url)
	o := startOAuthGateway(t, "")
	o.writeAuthFile(t, "claude-gus.json", claudeOAuthFile("sk-ant-oat01-gus-old", "sk-ant-ort01-gus", time.Now().Add(-time.Minute), o.mockURL))
	waitFor(t, "the expired token is refreshed and used", func() bool {
		res, _ := o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		return res.StatusCode == http.StatusOK && o.token.Refreshes() > 0
	})
	reqs := o.token.Requests()
	require.NotEmpty(t, reqs)
	assert.Equal(t, "/v1/oauth/token", reqs[0].Path)
	assert.Equal(t, oauth.ClaudeTokenUserAgent, reqs[0].UserAgent)
	assert.True(t, strings.HasPrefix(reqs[0].UserAgent, "claude-cli/"), reqs[0].UserAgent)
	assert.Equal(t, "9d1c250a-e61b-44d9-88ed-5944d1962f5e", reqs[0].ClientID)

	// a token host that answers like console.anthropic.com does today
	old := &mockoauth.Challenge{}
	oldHost := httptest.NewServer(old)
	t.Cleanup(oldHost.Close)
	// (the later oauth_token_url claude wins)
	g := startOAuthGateway(t, spareAPIKey+`
		oauth_token_url claude `+oldHost.URL+`/v1/oauth/token`)
	g.writeAuthFile(t, "claude-hal.json",
		claudeOAuthFile("sk-ant-oat01-hal-expired", "sk-ant-ort01-hal", time.Now().Add(-time.Minute), g.mockURL))
	waitFor(t, "the refresh is tried", func() bool {
		res, _ := g.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		return res.StatusCode == http.StatusOK && old.Hits() > 0
	})
	for _, r := range g.mock.Requests() {
		assert.Equal(t, claudeKeyB, r.Key, "the expired token went upstream")
	}
	c := g.adminAPI().credential("claude-hal")
	assert.GreaterOrEqual(t, c.Get("oauth.failures").Int(), int64(1), c.Raw)
	assert.Contains(t, c.Get("oauth.last_error").String(), "status 403", c.Raw)
	assert.Contains(t, c.Get("oauth.last_error").String(), "Cloudflare challenge page", c.Raw)
	assert.NotContains(t, c.Raw, "sk-ant-ort01-hal")

	// the background refresher tries again after its backoff (5 s); from
	// the second failure in a row on, each is a warning
	deadline := time.Now().Add(20 * time.Second)
	for !hasWarning(g.logs(), "oauth token refresh failed") {
		require.True(t, time.Now().Before(deadline), "no warning about the failing refresh:\n%s", g.logs())
		time.Sleep(100 * time.Millisecond)
	}
	assert.NotContains(t, g.logs(), "sk-ant-ort01-hal")
	assert.NotContains(t, g.logs(), "Just a moment", "the challenge page is described, not logged")
}

// mustJSON encodes v.
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return string(raw)
}

// hasWarning reports whether logs hold a warn-level entry with msg.
func hasWarning(logs, msg string) bool {
	for _, line := range strings.Split(logs, "\n") {
		if gjson.Get(line, "level").String() == "warn" && strings.Contains(gjson.Get(line, "msg").String(), msg) {
			return true
		}
	}
	return false
}

// A Gemini CLI file without project_id (a free-tier account, whose project
// Google manages) is set up as the Gemini CLI does it, loadCodeAssist and
// onboardUser with a pending operation, then serves with that project,
// which is written into the file; countTokens is served through Code
// Assist too.
func TestGeminiFileWithoutProjectIsOnboarded(t *testing.T) {
	o := startOAuthGateway(t, "")
	o.mock.SetCodeAssistAccount(mockupstream.CodeAssistAccount{Project: "quiet-lake-8q2z", PendingPolls: 1})
	o.mock.SetReply("*", "free tier says hi")
	o.writeAuthFile(t, "gemini-ida.json", map[string]any{
		"type": "gemini", "email": "ida@example.com",
		"token":    map[string]any{"access_token": "ya29.ida", "refresh_token": "1//ida", "expiry": time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339)},
		"base_url": o.mockURL,
	})
	body := `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`
	var res *http.Response
	var got string
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, got = o.do(http.MethodPost, "/v1beta/models/gemini-2.5-flash:generateContent", geminiCLIHeader(), body)
		if res.StatusCode == http.StatusOK {
			break
		}
		require.True(t, time.Now().Before(deadline), "never served: %d %s", res.StatusCode, got)
		time.Sleep(100 * time.Millisecond)
	}
	assert.Equal(t, "free tier says hi", gjson.Get(got, "candidates.0.content.parts.0.text").String(), got)

	var setup []string
	for _, r := range o.mock.Requests() {
		switch {
		case strings.HasPrefix(r.Path, "/v1internal:generateContent"):
			assert.Equal(t, "quiet-lake-8q2z", gjson.GetBytes(r.Body, "project").String(), "a request went without the project")
		default:
			setup = append(setup, r.Method+" "+r.Path)
			assert.Equal(t, "Bearer ya29.ida", r.Header.Get("Authorization"))
		}
	}
	assert.Equal(t, []string{
		"POST /v1internal:loadCodeAssist", "POST /v1internal:onboardUser", "GET /v1internal/operations/onboard-1",
		"GET /v1internal/operations/onboard-1",
	}, setup)
	waitFor(t, "the project is written into the file", func() bool {
		return o.readAuthFile(t, "gemini-ida.json")["project_id"] == "quiet-lake-8q2z"
	})
	f := o.readAuthFile(t, "gemini-ida.json")
	assert.Equal(t, "ya29.ida", gjson.Get(mustJSON(t, f), "token.access_token").String(), "the file kept its layout")

	res, got = o.do(http.MethodPost, "/v1beta/models/gemini-2.5-flash:countTokens", geminiCLIHeader(), body)
	require.Equal(t, http.StatusOK, res.StatusCode, got)
	assert.Positive(t, gjson.Get(got, "totalTokens").Int(), got)
	last := o.mock.Requests()[len(o.mock.Requests())-1]
	assert.Equal(t, "/v1internal:countTokens", last.Path)
	assert.Equal(t, "models/gemini-2.5-flash", gjson.GetBytes(last.Body, "request.model").String())
	assert.JSONEq(t, gjson.Get(body, "contents").Raw, gjson.GetBytes(last.Body, "request.contents").Raw)
	assert.Equal(t, 1, o.mock.CodeAssistOnboardings())
}

// auth_header bearer sends a claude key as Authorization: Bearer, for an
// Anthropic-compatible host that wants it; x-api-key stays the default.
func TestClaudeAuthHeaderBearer(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: `
		client_key ` + clientKey + `
		credential compat-claude {
			provider claude
			api_key sk-compat-bearer-secret
			base_url MOCK
			auth_header bearer
			priority 1
		}
		credential plain {
			provider claude
			api_key ` + claudeKeyA + `
			base_url MOCK
		}`})
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicSDKHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	r := g.mock.Requests()[0]
	assert.Equal(t, "Bearer sk-compat-bearer-secret", r.Header.Get("Authorization"))
	assert.Empty(t, r.Header.Get("X-Api-Key"))
	assert.NotContains(t, r.Header.Get("Authorization"), clientKey)
}
