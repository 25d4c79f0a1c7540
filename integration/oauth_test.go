package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/internal/mockoauth"
	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// oauthGateway is a gateway whose credentials come from an auth directory,
// refreshing at a mock token endpoint.
type oauthGateway struct {
	*gateway
	dir   string
	token *mockoauth.Server
}

func startOAuthGateway(t *testing.T, extra string) *oauthGateway {
	t.Helper()
	token := mockoauth.New(mockoauth.Config{DetectReuse: true})
	ts := httptest.NewServer(token)
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	g := startGateway(t, gatewayOptions{Handler: `
		client_key ` + clientKey + `
		auth_dir ` + dir + `
		oauth_token_url claude ` + ts.URL + `/v1/oauth/token
		oauth_token_url codex ` + ts.URL + `/oauth/token
		oauth_token_url google ` + ts.URL + `/token
` + extra})
	// the refreshers write into dir: stop them (by unloading the config,
	// which destroys the pool state) before the directory is removed
	t.Cleanup(func() { unloadConfig(t) })
	return &oauthGateway{gateway: g, dir: dir, token: token}
}

// spareAPIKey is a lower-tier Claude API key beside an auth directory's
// accounts: what serves when an account is out.
const spareAPIKey = `
		credential spare {
			provider claude
			api_key ` + claudeKeyB + `
			base_url MOCK
			priority -1
		}`

// unloadConfig replaces the running config with one that serves nothing.
func unloadConfig(t *testing.T) {
	res, err := http.Post(adminURL+"/load", "application/json",
		strings.NewReader(`{"admin":{"listen":"`+adminAddr+`"}}`))
	if err != nil {
		t.Errorf("unloading the config: %v", err)
		return
	}
	res.Body.Close()
}

// writeAuthFile writes an auth file as CLIProxyAPI does.
func (o *oauthGateway) writeAuthFile(t *testing.T, name string, fields map[string]any) {
	t.Helper()
	raw, err := json.MarshalIndent(fields, "", "  ")
	require.NoError(t, err)
	tmp := filepath.Join(o.dir, "."+name+".tmp")
	require.NoError(t, os.WriteFile(tmp, raw, 0o600))
	require.NoError(t, os.Rename(tmp, filepath.Join(o.dir, name)))
}

// serveAuthFile writes an auth file and waits until management lists its
// credential, named as the file without ".json"; it returns the
// management API.
func (o *oauthGateway) serveAuthFile(t *testing.T, name string, fields map[string]any) *mgmt {
	t.Helper()
	o.writeAuthFile(t, name, fields)
	api := o.adminAPI()
	cred := strings.TrimSuffix(name, ".json")
	waitFor(t, "the auth file is served", func() bool {
		_, out, _ := api.call(http.MethodGet, "credentials", "")
		return out.Get(`credentials.#(name==` + cred + `)`).Exists()
	})
	return api
}

func (o *oauthGateway) readAuthFile(t *testing.T, name string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(o.dir, name))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	return m
}

// waitFor polls cond for up to 2 s (the auth directory's promise).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 2 s: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func claudeOAuthFile(access, refresh string, expires time.Time, baseURL string) map[string]any {
	return map[string]any{
		"type": "claude", "email": "alice@example.com",
		"access_token": access, "refresh_token": refresh,
		"expired": expires.UTC().Format(time.RFC3339), "last_refresh": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
		"base_url":    baseURL,
		"custom_note": "kept by the gateway",
	}
}

// An expiring Claude OAuth token is refreshed before use, sent as Bearer
// with the oauth beta flag, and written back to its file without losing
// fields the gateway does not know; 20 concurrent requests that all find the
// token due (the token endpoint answering slowly) cause one refresh.
func TestOAuthClaudeRefreshBeforeUseAndPersist(t *testing.T) {
	o := startOAuthGateway(t, "")
	const refreshDelay = 3 * time.Second
	o.token.SetFault("sk-ant-ort01-first", mockoauth.Fault{Delay: refreshDelay, Times: 1})
	o.writeAuthFile(t, "claude-alice.json", claudeOAuthFile("sk-ant-oat01-old", "sk-ant-ort01-first", time.Now().Add(time.Minute), o.mockURL))
	// wait for the file without sending a request: none may refresh the
	// token before the burst
	waitFor(t, "the new auth file is loaded", func() bool {
		for _, line := range strings.Split(o.logs(), "\n") {
			if strings.Contains(line, "credentials") && strings.Contains(line, "claude-alice") {
				return true
			}
		}
		return false
	})
	require.Empty(t, o.token.AccessTokens(), "the token was refreshed before the burst; the burst would prove nothing")

	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, body := o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
			assert.Equal(t, http.StatusOK, res.StatusCode, body)
		}()
	}
	close(start)
	wg.Wait()
	assert.Equal(t, 1, o.token.Refreshes(), "concurrent requests refreshed more than once")
	require.Len(t, o.mock.Requests(), 20)

	issued := o.token.AccessTokens()
	require.Len(t, issued, 1)
	for _, r := range o.mock.Requests() {
		assert.Equal(t, issued[0], r.Key, "the upstream did not get the refreshed token")
		assert.Equal(t, "Bearer "+issued[0], r.Header.Get("Authorization"))
		assert.Empty(t, r.Header.Get("X-Api-Key"))
		assert.Contains(t, r.Header.Get("Anthropic-Beta"), "oauth-2025-04-20")
	}
	waitFor(t, "the refreshed token is written back", func() bool {
		return o.readAuthFile(t, "claude-alice.json")["access_token"] == issued[0]
	})
	f := o.readAuthFile(t, "claude-alice.json")
	assert.Equal(t, "kept by the gateway", f["custom_note"])
	assert.NotEqual(t, "sk-ant-ort01-first", f["refresh_token"], "the rotated refresh token was not saved")
	info, err := os.Stat(filepath.Join(o.dir, "claude-alice.json"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

// A 401 makes the gateway refresh once and retry the same credential.
func TestOAuth401RefreshesAndRetries(t *testing.T) {
	o := startOAuthGateway(t, "")
	o.writeAuthFile(t, "claude-bob.json", claudeOAuthFile("sk-ant-oat01-revoked-early", "sk-ant-ort01-bob", time.Now().Add(6*time.Hour), o.mockURL))
	o.mock.SetFault("sk-ant-oat01-revoked-early", mockupstream.Fault{Status: http.StatusUnauthorized})
	waitFor(t, "the auth file is served", func() bool {
		res, _ := o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		return res.StatusCode != http.StatusNotFound
	})
	reqs := o.mock.Requests()
	require.Len(t, reqs, 2, "want the rejected attempt and the retry")
	assert.Equal(t, "sk-ant-oat01-revoked-early", reqs[0].Key)
	assert.Equal(t, o.token.AccessTokens()[0], reqs[1].Key)
	assert.Equal(t, 1, o.token.Refreshes())
}

// A token still rejected after its one refresh blocks the credential (for
// 30 minutes): the request fails over, and the credential is neither called
// nor refreshed again while the block lasts.
func TestOAuthStill401AfterRefreshBlocksCredential(t *testing.T) {
	o := startOAuthGateway(t, spareAPIKey)
	// the account is gone upstream: the old token and the refreshed one
	// are both refused
	o.mock.SetFault("sk-ant-oat01-account-gone", mockupstream.Fault{Status: http.StatusUnauthorized})
	o.mock.SetFault("mock-access-1", mockupstream.Fault{Status: http.StatusUnauthorized})
	o.writeAuthFile(t, "claude-gone.json", claudeOAuthFile("sk-ant-oat01-account-gone", "sk-ant-ort01-gone", time.Now().Add(6*time.Hour), o.mockURL))
	waitFor(t, "the auth file is tried", func() bool {
		o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		return o.token.Refreshes() > 0
	})
	oauthCalls := func() (n int) {
		for _, r := range o.mock.Requests() {
			if r.Key != claudeKeyB {
				n++
			}
		}
		return n
	}
	require.Equal(t, []string{"mock-access-1"}, o.token.AccessTokens())
	// the requests before the file was loaded went to the spare
	reqs := o.mock.Requests()
	first := slices.IndexFunc(reqs, func(r mockupstream.Recorded) bool { return r.Key != claudeKeyB })
	require.GreaterOrEqual(t, first, 0)
	reqs = reqs[first:]
	require.Len(t, reqs, 3, "want the refused token, the refused refreshed token and the spare")
	assert.Equal(t, "sk-ant-oat01-account-gone", reqs[0].Key)
	assert.Equal(t, "mock-access-1", reqs[1].Key, "the refreshed token was not retried on the same credential")
	assert.Equal(t, claudeKeyB, reqs[2].Key, "the request did not fail over after the second 401")
	require.Equal(t, 2, oauthCalls())

	for range 5 {
		res, body := o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		assert.Equal(t, http.StatusOK, res.StatusCode, body)
	}
	assert.Equal(t, 2, oauthCalls(), "the blocked credential was called again")
	assert.Equal(t, 1, o.token.Refreshes(), "the blocked credential was refreshed again")
}

// A refresh token refused for good disables the credential, with the
// reason visible, and the request is served by another credential.
func TestOAuthRevokedRefreshFailsOver(t *testing.T) {
	o := startOAuthGateway(t, spareAPIKey)
	o.token.SetFault("sk-ant-ort01-dead", mockoauth.Fault{Status: http.StatusBadRequest, Error: "invalid_grant", Description: "refresh token revoked"})
	o.writeAuthFile(t, "claude-carol.json", claudeOAuthFile("sk-ant-oat01-expired", "sk-ant-ort01-dead", time.Now().Add(-time.Minute), o.mockURL))
	waitFor(t, "the auth file is tried", func() bool {
		res, _ := o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		return res.StatusCode == http.StatusOK && o.token.Refreshes() > 0
	})
	for _, r := range o.mock.Requests() {
		assert.Equal(t, claudeKeyB, r.Key, "an expired token went upstream")
	}
	// the credential stays out: no new refresh, no request
	before := o.token.Refreshes()
	for range 3 {
		res, _ := o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		assert.Equal(t, http.StatusOK, res.StatusCode)
	}
	assert.Equal(t, before, o.token.Refreshes())

	// a new login written over the file brings the account back
	o.writeAuthFile(t, "claude-carol.json", claudeOAuthFile("sk-ant-oat01-new-login", "sk-ant-ort01-new-login", time.Now().Add(6*time.Hour), o.mockURL))
	waitFor(t, "the new login is served", func() bool {
		o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		reqs := o.mock.Requests()
		return reqs[len(reqs)-1].Key == "sk-ant-oat01-new-login"
	})
}

// Codex OAuth: the account ID from the id_token, Bearer, the Codex path.
func TestOAuthCodexRequestShape(t *testing.T) {
	o := startOAuthGateway(t, "")
	idToken := fakeJWT(map[string]any{"https://api.openai.com/auth": map[string]any{"chatgpt_account_id": "acct-from-jwt"}})
	o.writeAuthFile(t, "codex-dave.json", map[string]any{
		"type": "codex", "email": "dave@example.com",
		"access_token": "codex-access-1", "refresh_token": "codex-refresh-1", "id_token": idToken,
		"expired":  time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339),
		"base_url": o.mockURL + "/backend-api/codex",
	})
	var res *http.Response
	var body string
	waitFor(t, "the codex file is served", func() bool {
		res, body = o.do(http.MethodPost, "/v1/responses", codexHTTPHeader(), `{"model":"gpt-5.5","stream":true,"input":"hi","store":false}`)
		return res.StatusCode == http.StatusOK
	})
	assert.Contains(t, body, "response.completed")
	reqs := o.mock.Requests()
	require.NotEmpty(t, reqs)
	r := reqs[len(reqs)-1]
	assert.Equal(t, "/backend-api/codex/responses", r.Path)
	assert.Equal(t, "Bearer codex-access-1", r.Header.Get("Authorization"))
	assert.Equal(t, "acct-from-jwt", r.Header.Get("Chatgpt-Account-Id"))

	// Codex CLI's own path goes to the same place; chat completions do not
	// go to a Codex account
	res, _ = o.do(http.MethodPost, "/backend-api/codex/responses", codexHTTPHeader(), `{"model":"gpt-5.5","stream":true,"input":"hi"}`)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = o.do(http.MethodPost, "/v1/chat/completions", codexHTTPHeader(), `{"model":"gpt-5.5","messages":[]}`)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
}

// Files added, edited and removed are picked up within 2 s; a malformed
// file leaves the others serving.
func TestAuthDirFollowsFileChanges(t *testing.T) {
	o := startOAuthGateway(t, "")
	far := time.Now().Add(6 * time.Hour)
	o.writeAuthFile(t, "a.json", claudeOAuthFile("tok-a", "ref-a", far, o.mockURL))
	waitFor(t, "a is served", func() bool {
		res, _ := o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		return res.StatusCode == http.StatusOK
	})
	require.NoError(t, os.WriteFile(filepath.Join(o.dir, "broken.json"), []byte(`{"type":"claude",`), 0o600))
	o.writeAuthFile(t, "a.json", claudeOAuthFile("tok-a2", "ref-a2", far, o.mockURL))
	waitFor(t, "the edited token is used", func() bool {
		o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		reqs := o.mock.Requests()
		return reqs[len(reqs)-1].Key == "tok-a2"
	})
	require.NoError(t, os.Remove(filepath.Join(o.dir, "a.json")))
	waitFor(t, "the removed file stops serving", func() bool {
		res, _ := o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		return res.StatusCode == http.StatusNotFound
	})
	assert.Contains(t, o.logs(), "broken.json")
	assert.NotContains(t, o.logs(), "tok-a2", "a token reached the logs")
}

// fakeJWT builds an unsigned JWT with claims.
func fakeJWT(claims map[string]any) string {
	enc := func(v any) string {
		raw, _ := json.Marshal(v)
		return strings.TrimRight(base64url(raw), "=")
	}
	return fmt.Sprintf("%s.%s.sig", enc(map[string]string{"alg": "none"}), enc(claims))
}

// Gemini Code Assist: a Google account file with two projects serves Gemini
// clients; requests go to v1internal wrapped with model and project, and
// answers come back unwrapped, as JSON, as SSE and as a streamed array.
func TestOAuthCodeAssistWrapsAndUnwraps(t *testing.T) {
	o := startOAuthGateway(t, "")
	o.writeAuthFile(t, "gemini-erin.json", map[string]any{
		"type": "gemini-cli", "email": "erin@example.com",
		"access_token": "ya29.mock-access", "refresh_token": "1//mock-refresh",
		"expired":    time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339),
		"project_id": "proj-one,proj-two",
		"base_url":   o.mockURL,
	})
	o.mock.SetReply("*", "code assist says hi")
	body := `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`
	var res *http.Response
	var got string
	waitFor(t, "the gemini-cli file is served", func() bool {
		res, got = o.do(http.MethodPost, "/v1beta/models/gemini-2.5-pro:generateContent", geminiCLIHeader(), body)
		return res.StatusCode == http.StatusOK
	})
	assert.Equal(t, "code assist says hi", gjson.Get(got, "candidates.0.content.parts.0.text").String(), got)
	assert.False(t, gjson.Get(got, "response").Exists(), "the envelope reached the client")

	res, got = o.do(http.MethodPost, "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", geminiCLIHeader(), body)
	require.Equal(t, http.StatusOK, res.StatusCode, got)
	var text strings.Builder
	for _, ev := range parseSSE(t, got) {
		assert.False(t, gjson.Get(ev.Data, "response").Exists(), "a wrapped chunk reached the client")
		text.WriteString(gjson.Get(ev.Data, "candidates.0.content.parts.0.text").String())
	}
	assert.Equal(t, "code assist says hi", text.String())

	res, got = o.do(http.MethodPost, "/v1beta/models/gemini-2.5-pro:streamGenerateContent", geminiCLIHeader(), body)
	require.Equal(t, http.StatusOK, res.StatusCode, got)
	require.True(t, gjson.Valid(got), "not a JSON array: %s", got)
	text.Reset()
	for _, item := range gjson.Parse(got).Array() {
		text.WriteString(item.Get("candidates.0.content.parts.0.text").String())
	}
	assert.Equal(t, "code assist says hi", text.String())

	projects := map[string]int{}
	for _, r := range o.mock.Requests() {
		require.Equal(t, "code-assist", r.Provider, r.Path)
		assert.True(t, strings.HasPrefix(r.Path, "/v1internal:"), r.Path)
		assert.Equal(t, "Bearer ya29.mock-access", r.Header.Get("Authorization"))
		assert.Equal(t, "gemini-2.5-pro", gjson.GetBytes(r.Body, "model").String())
		assert.JSONEq(t, body, gjson.GetBytes(r.Body, "request").Raw)
		projects[gjson.GetBytes(r.Body, "project").String()]++
	}
	assert.Len(t, projects, 2, "both projects of the account should serve: %v", projects)
}

// An auth directory as CLIProxyAPI users already have it (the fixture of
// package auth) works unchanged: every usable file becomes a credential,
// the malformed one is reported by name, and no token reaches the logs.
func TestExistingAuthDirectoryWorksUnchanged(t *testing.T) {
	o := startOAuthGateway(t, "")
	src := filepath.Join("..", "auth", "authfile", "testdata", "authdir")
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(o.dir, e.Name()), raw, 0o600))
	}
	want := []string{
		"claude:claude-alice@example.com",
		"codex:codex-bob@example.com-plus",
		"gemini-cli:gemini-carol@example.com-all/",
		"gemini-cli:gemini-cli-dave@example.com/",
		"gemini:gemini-apikey-team",
		"legacy-erin@example.com",
		"codex:codex-frank@example.com-team",
	}
	waitFor(t, "the fixture files are loaded", func() bool {
		logs := o.logs()
		for _, w := range want {
			if !strings.Contains(logs, w) {
				return false
			}
		}
		return true
	})
	logs := o.logs()
	assert.Contains(t, logs, "broken-claude-zoe@example.com.json")
	assert.NotContains(t, logs, "FAKE", "a fixture token reached the logs")

	// Each credential type serves with the file's own token, in a second
	// gateway (the first one has refreshed the fixture's expired tokens).
	// The copies point at the mock (the fixture names real and example.com
	// hosts) and expire far ahead; every other field stays as it is.
	o = startOAuthGateway(t, "")
	far := time.Now().Add(6 * time.Hour)
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, "broken-") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(src, name))
		require.NoError(t, err)
		var f map[string]any
		require.NoError(t, json.Unmarshal(raw, &f))
		f["base_url"] = o.mockURL
		if f["type"] == "codex" {
			f["base_url"] = o.mockURL + "/backend-api/codex"
		}
		delete(f, "proxy_url")
		delete(f, "proxy-url")
		switch exp := f["expired"].(type) {
		case string:
			f["expired"] = far.UTC().Format(time.RFC3339)
		case float64:
			if exp > 1e12 {
				f["expired"] = far.UnixMilli()
			} else {
				f["expired"] = far.Unix()
			}
		}
		if tok, ok := f["token"].(map[string]any); ok {
			tok["expiry"] = far.Format(time.RFC3339Nano)
		}
		o.writeAuthFile(t, name, f)
	}
	last := func() mockupstream.Recorded {
		reqs := o.mock.Requests()
		require.NotEmpty(t, reqs)
		return reqs[len(reqs)-1]
	}
	const aliceToken = "sk-ant-oat01-FAKE-alice-access-0000000000000000000000000000000000000000000000000000000000-fake"
	waitFor(t, "claude is served from the rewritten file", func() bool {
		res, _ := o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		return res.StatusCode == http.StatusOK && last().Key == aliceToken
	})
	assert.Equal(t, "Bearer "+aliceToken, last().Header.Get("Authorization"))

	res, body := o.do(http.MethodPost, "/v1/responses", codexHTTPHeader(), `{"model":"gpt-5","stream":true,"input":"hi","store":false}`)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	r := last()
	assert.Equal(t, "/backend-api/codex/responses", r.Path)
	assert.True(t, strings.HasPrefix(r.Key, "eyJ"), "codex was not served with bob's access token: %.12s", r.Key)
	assert.Equal(t, "0b0b0b0b-fake-4acc-8ount-000000000b0b", r.Header.Get("Chatgpt-Account-Id"))
	assert.Equal(t, "platform", r.Header.Get("X-Team"))

	// the Gemini API key has the highest priority of the Gemini credentials
	const geminiBody = `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`
	res, body = o.do(http.MethodPost, "/v1beta/models/gemini-2.5-pro:generateContent", geminiCLIHeader(), geminiBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	r = last()
	assert.Equal(t, "AIzaSyFAKE-team-gemini-key-7777777777777", r.Key)
	assert.Equal(t, "team-billing", r.Header.Get("X-Goog-User-Project"))

	// with the key out for an hour, the Google accounts (Code Assist) of
	// the next tier serve: carol's three projects and erin's legacy file
	o.mock.SetFault("AIzaSyFAKE-team-gemini-key-7777777777777", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "3600"})
	res, body = o.do(http.MethodPost, "/v1beta/models/gemini-2.5-pro:generateContent", geminiCLIHeader(), geminiBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	r = last()
	assert.Equal(t, "code-assist", r.Provider)
	project := gjson.GetBytes(r.Body, "project").String()
	switch r.Key {
	case "ya29.FAKE-carol-access-token-3333333333333333333333333333":
		assert.Contains(t, []string{"proj-alpha", "proj-beta", "proj-gamma"}, project)
	case "ya29.FAKE-erin-access-token-8888888888888888888888888888":
		assert.Equal(t, "erin-legacy-proj", project)
	default:
		t.Errorf("code assist was served with %.16s…, not carol's or erin's token", r.Key)
	}

	for _, r := range o.mock.Requests() {
		assert.NotContains(t, r.Key, "frank", "the disabled codex file served")
	}
	assert.Zero(t, o.token.Refreshes(), "a token of the files was refreshed instead of used")
	assert.NotContains(t, o.logs(), "FAKE", "a fixture token reached the logs")
}

// A file with only an access token (a Claude setup token) takes an edited
// token without a restart.
func TestAccessTokenOnlyFileEdit(t *testing.T) {
	o := startOAuthGateway(t, "")
	far := time.Now().Add(6 * time.Hour)
	file := func(access string) map[string]any {
		return map[string]any{
			"type": "claude", "email": "setup@example.com", "access_token": access,
			"expired": far.UTC().Format(time.RFC3339), "base_url": o.mockURL,
		}
	}
	o.writeAuthFile(t, "claude-setup.json", file("sk-ant-oat01-setup-one"))
	waitFor(t, "the setup token is served", func() bool {
		res, _ := o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		return res.StatusCode == http.StatusOK
	})
	o.writeAuthFile(t, "claude-setup.json", file("sk-ant-oat01-setup-two"))
	waitFor(t, "the edited setup token is served", func() bool {
		o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		reqs := o.mock.Requests()
		return reqs[len(reqs)-1].Key == "sk-ant-oat01-setup-two"
	})
}
