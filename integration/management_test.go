package integration

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// mgmt calls the management API and keeps every answer, so a test can
// check at the end that none of them carried a secret.
type mgmt struct {
	g    *gateway
	base string // up to the endpoint, e.g. <adminURL>/cliproxy/ (a free port)
	// query is appended to every request (the admin mount's ?pool=)
	query  string
	header http.Header
	seen   strings.Builder
}

// adminAPI is the management API on Caddy's admin endpoint, for g's pool.
func (g *gateway) adminAPI() *mgmt {
	return &mgmt{g: g, base: adminURL + "/cliproxy/", query: "pool=" + g.pool}
}

// siteAPI is the management API mounted on the site, presenting key.
func (g *gateway) siteAPI(header http.Header) *mgmt {
	return &mgmt{g: g, base: g.url("/v0/management/"), header: header}
}

// call sends method to endpoint (which may carry a query) with body and
// returns the status, the parsed answer and its headers.
func (m *mgmt) call(method, endpoint, body string) (int, gjson.Result, http.Header) {
	m.g.t.Helper()
	u := m.base + endpoint
	if m.query != "" {
		sep := "?"
		if strings.Contains(endpoint, "?") {
			sep = "&"
		}
		u += sep + m.query
	}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(m.g.t, err)
	for k, v := range m.header {
		req.Header[k] = v
	}
	res, err := m.g.tester.Client.Do(req)
	require.NoError(m.g.t, err)
	out, err := readAll(res)
	require.NoError(m.g.t, err)
	m.seen.Write(out)
	m.seen.WriteString(fmt.Sprint(res.Header))
	if len(out) > 0 {
		require.True(m.g.t, gjson.ValidBytes(out), "%s %s answered no JSON: %s", method, endpoint, out)
		assert.Equal(m.g.t, "application/json", res.Header.Get("Content-Type"))
	}
	return res.StatusCode, gjson.ParseBytes(out), res.Header
}

// ok calls and requires a 2xx answer.
func (m *mgmt) ok(method, endpoint, body string) gjson.Result {
	m.g.t.Helper()
	status, out, _ := m.call(method, endpoint, body)
	require.True(m.g.t, status >= 200 && status < 300, "%s %s: %d %s", method, endpoint, status, out.Raw)
	return out
}

// fails calls and requires the error status and code.
func (m *mgmt) fails(method, endpoint, body string, status int, code string) gjson.Result {
	m.g.t.Helper()
	got, out, _ := m.call(method, endpoint, body)
	require.Equal(m.g.t, status, got, "%s %s: %s", method, endpoint, out.Raw)
	require.Equal(m.g.t, code, out.Get("code").String(), out.Raw)
	require.NotEmpty(m.g.t, out.Get("error").String(), "an error without a message")
	return out
}

// credential returns the listed state of the credential called name.
func (m *mgmt) credential(name string) gjson.Result {
	m.g.t.Helper()
	list := m.ok(http.MethodGet, "credentials", "")
	c := list.Get(`credentials.#(name==` + name + `)`)
	require.True(m.g.t, c.Exists(), "credential %s is not listed: %s", name, list.Raw)
	return c
}

// noSecrets checks that no answer carried any of secrets.
func (m *mgmt) noSecrets(secrets ...string) {
	m.g.t.Helper()
	assert.Empty(m.g.t, containsAny([]byte(m.seen.String()), secrets...), "a management answer carried a secret")
}

// claude sends a Claude request of session (none if "") and returns the
// answer's input and output tokens.
func (g *gateway) claude(sessionID, prompt string) (in, out int64) {
	g.t.Helper()
	h := anthropicHeader()
	if sessionID != "" {
		h.Set("X-Session-ID", sessionID)
	}
	res, body := g.do(http.MethodPost, "/v1/messages", h,
		`{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"`+prompt+`"}]}`)
	require.Equal(g.t, http.StatusOK, res.StatusCode, body)
	return gjson.Get(body, "usage.input_tokens").Int(), gjson.Get(body, "usage.output_tokens").Int()
}

// keysSeen returns the upstream keys of the mock's requests since its last
// reset.
func (g *gateway) keysSeen() []string {
	var keys []string
	for _, r := range g.mock.Requests() {
		keys = append(keys, r.Key)
	}
	return keys
}

const managedPool = poolConfig + `
		session_affinity on
`

// Every endpoint of the admin mount, over a pool that serves meanwhile;
// no answer carries an upstream key or the client key.
func TestManagementAdminCredentials(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: managedPool})
	api := g.adminAPI()

	assert.Contains(t, api.ok(http.MethodGet, "", "").Get("endpoints").String(), "credentials/{name}/reset")
	assert.Contains(t, api.ok(http.MethodGet, "pools", "").Get("pools").String(), g.pool)

	list := api.ok(http.MethodGet, "credentials", "").Get("credentials").Array()
	var names []string
	for _, c := range list {
		names = append(names, c.Get("name").String())
		assert.Regexp(t, `^[0-9a-f]{8}$`, c.Get("fingerprint").String())
		assert.Equal(t, "available", c.Get("status").String())
	}
	assert.Equal(t, []string{"claude-a", "claude-b", "compat-a", "gemini-a", "gemini-b", "openai-a"}, names)

	// a 429 with a hint cools claude-a for that model
	g.mock.SetFault(claudeKeyA, mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "600", Times: 1})
	g.claude("", "first")
	a := api.credential("claude-a")
	assert.Equal(t, "degraded", a.Get("status").String(), a.Raw)
	assert.Equal(t, "cooldown", a.Get("models.claude-sonnet-4-5.status").String(), a.Raw)
	assert.Equal(t, int64(429), a.Get("models.claude-sonnet-4-5.last_error.status").Int())
	assert.True(t, a.Get("models.claude-sonnet-4-5.quota.exceeded").Bool())

	// reset of one model, then of all
	out := api.ok(http.MethodPost, "credentials/claude-a/reset?model=claude-sonnet-4-5", "")
	assert.Equal(t, int64(1), out.Get("cleared").Int())
	assert.Equal(t, "available", api.credential("claude-a").Get("status").String())
	g.mock.Reset()
	g.claude("", "second") // round robin: a's turn, and a serves again
	g.claude("", "third")
	assert.ElementsMatch(t, []string{claudeKeyA, claudeKeyB}, g.keysSeen(), "a reset credential is back in rotation")

	g.mock.SetFault(claudeKeyA, mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "600", Times: 2})
	g.claude("", "fourth")
	g.claude("", "fifth")
	require.Equal(t, "degraded", api.credential("claude-a").Get("status").String())
	assert.Positive(t, api.ok(http.MethodPost, "credentials/claude-a/reset", "").Get("cleared").Int())
	assert.Equal(t, "available", api.credential("claude-a").Get("status").String())
	assert.Zero(t, api.ok(http.MethodPost, "credentials/claude-a/reset", "").Get("cleared").Int(), "nothing left to clear")

	// disable: the credential leaves the rotation, across a config reload
	out = api.ok(http.MethodPost, "credentials/claude-a/disable", "")
	assert.True(t, out.Get("disabled").Bool())
	a = api.credential("claude-a")
	assert.Equal(t, "disabled", a.Get("status").String())
	assert.Equal(t, "disabled", a.Get("override").String())
	g.reload(gatewayOptions{Handler: managedPool})
	api.query = "pool=" + g.pool
	assert.Equal(t, "disabled", api.credential("claude-a").Get("status").String(), "a reload forgot the operator's disable")
	g.mock.Reset()
	for i := range 4 {
		g.claude("", fmt.Sprintf("while disabled %d", i))
	}
	assert.Equal(t, []string{claudeKeyB, claudeKeyB, claudeKeyB, claudeKeyB}, g.keysSeen())

	api.ok(http.MethodPost, "credentials/claude-a/enable", "")
	a = api.credential("claude-a")
	assert.Equal(t, "available", a.Get("status").String())
	assert.Equal(t, "enabled", a.Get("override").String())
	g.mock.Reset()
	g.claude("", "enabled again 1")
	g.claude("", "enabled again 2")
	assert.ElementsMatch(t, []string{claudeKeyA, claudeKeyB}, g.keysSeen())

	// errors, each with its code
	api.fails(http.MethodPost, "credentials/nope/disable", "", http.StatusNotFound, "credential_not_found")
	api.fails(http.MethodPost, "credentials/nope/reset", "", http.StatusNotFound, "credential_not_found")
	api.fails(http.MethodPost, "credentials/claude-a/explode", "", http.StatusNotFound, "not_found")
	api.fails(http.MethodGet, "credentials/claude-a/reset", "", http.StatusMethodNotAllowed, "method_not_allowed")
	api.fails(http.MethodDelete, "credentials", "", http.StatusMethodNotAllowed, "method_not_allowed")
	api.fails(http.MethodGet, "bogus", "", http.StatusNotFound, "not_found")
	api.query = "pool=no-such-pool"
	api.fails(http.MethodGet, "credentials", "", http.StatusNotFound, "pool_not_found")

	api.noSecrets(append(upstreamKeys, clientKey)...)
}

func TestManagementAdminSessionsStrategyUsage(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: managedPool})
	api := g.adminAPI()
	var wantIn, wantOut int64
	requests := 0
	send := func(sessionID, prompt string) {
		in, out := g.claude(sessionID, prompt)
		wantIn += in
		wantOut += out
		requests++
	}

	// sessions: three bound conversations
	for _, s := range []string{"s1", "s2", "s3"} {
		send(s, "hello from "+s)
	}
	var list gjson.Result
	require.Eventually(t, func() bool {
		list = api.ok(http.MethodGet, "sessions", "")
		return list.Get("count").Int() == 3
	}, 5*time.Second, 20*time.Millisecond, "bindings: %s", list.Raw)
	s1 := list.Get(`bindings.#(key%"*::x-session-id:s1::*")`)
	require.True(t, s1.Exists(), list.Raw)
	home := s1.Get("credential").String()
	assert.Contains(t, []string{"claude-a", "claude-b"}, home)
	assert.Equal(t, int64(3), list.Get("by_credential.claude-a").Int()+list.Get("by_credential.claude-b").Int())
	assert.Len(t, api.ok(http.MethodGet, "sessions?limit=1", "").Get("bindings").Array(), 1)
	assert.True(t, api.ok(http.MethodGet, "sessions?limit=1", "").Get("truncated").Bool())
	api.fails(http.MethodGet, "sessions?limit=many", "", http.StatusBadRequest, "bad_request")

	// dropping s1's binding places it anew
	assert.Equal(t, int64(1), api.ok(http.MethodDelete, "sessions/x-session-id:s1", "").Get("deleted").Int())
	api.fails(http.MethodDelete, "sessions/x-session-id:s1", "", http.StatusNotFound, "session_not_found")
	assert.Equal(t, int64(2), api.ok(http.MethodGet, "sessions", "").Get("count").Int())

	// dropping a credential's bindings
	list = api.ok(http.MethodGet, "sessions", "")
	cred := list.Get("bindings.0.credential").String()
	n := list.Get("by_credential." + cred).Int()
	out := api.ok(http.MethodDelete, "sessions?credential="+cred, "")
	assert.Equal(t, n, out.Get("deleted").Int())
	assert.Zero(t, api.ok(http.MethodGet, "sessions?credential="+cred, "").Get("count").Int())
	api.fails(http.MethodDelete, "sessions", "", http.StatusBadRequest, "bad_request")

	// strategy: switched at run time, kept by a reload of the same
	// configured strategy, ended by a reload that changes it
	st := api.ok(http.MethodGet, "strategy", "")
	assert.Equal(t, "round-robin", st.Get("strategy").String())
	assert.Equal(t, "round-robin", st.Get("configured").String())
	st = api.ok(http.MethodPut, "strategy", `{"strategy":"ff"}`)
	assert.Equal(t, "fill-first", st.Get("strategy").String())
	assert.Equal(t, "round-robin", st.Get("configured").String())
	g.mock.Reset()
	for i := range 4 {
		send("", fmt.Sprintf("fill first %d", i)) // new conversations, placed by the strategy
	}
	assert.Equal(t, []string{claudeKeyA, claudeKeyA, claudeKeyA, claudeKeyA}, g.keysSeen(), "fill-first fills the first credential")
	api.fails(http.MethodPut, "strategy", `{"strategy":"random"}`, http.StatusBadRequest, "unknown_strategy")
	api.fails(http.MethodPut, "strategy", `{"strategy":""}`, http.StatusBadRequest, "unknown_strategy")
	api.fails(http.MethodPut, "strategy", `fill-first`, http.StatusBadRequest, "bad_request")
	api.fails(http.MethodPost, "strategy", `{}`, http.StatusMethodNotAllowed, "method_not_allowed")

	g.reload(gatewayOptions{Handler: managedPool + "\t\tstrategy rr\n"})
	assert.Equal(t, "fill-first", api.ok(http.MethodGet, "strategy", "").Get("strategy").String())
	g.reload(gatewayOptions{Handler: managedPool + "\t\tstrategy wrr\n"})
	st = api.ok(http.MethodGet, "strategy", "")
	assert.Equal(t, "weighted-round-robin", st.Get("strategy").String(), "a changed config ends the override")
	assert.Equal(t, "weighted-round-robin", st.Get("configured").String())

	// usage: what the mock reported, per member and per credential, and
	// it survived the reloads
	send("", "one more")
	var usage gjson.Result
	require.Eventually(t, func() bool {
		usage = api.ok(http.MethodGet, "usage", "")
		return usage.Get("members.alice.requests").Int() == int64(requests)
	}, 5*time.Second, 20*time.Millisecond, "usage: %s", usage.Raw)
	assert.Positive(t, wantIn)
	assert.Equal(t, wantIn, usage.Get("members.alice.tokens.input").Int(), usage.Raw)
	assert.Equal(t, wantOut, usage.Get("members.alice.tokens.output").Int(), usage.Raw)
	assert.Equal(t, wantIn, usage.Get("total.tokens.input").Int())
	assert.Zero(t, usage.Get("total.errors").Int())
	assert.Equal(t, int64(requests),
		usage.Get("credentials.claude-a.requests").Int()+usage.Get("credentials.claude-b.requests").Int())
	assert.Equal(t, wantIn,
		usage.Get("credentials.claude-a.tokens.input").Int()+usage.Get("credentials.claude-b.tokens.input").Int())
	a := api.credential("claude-a")
	assert.Equal(t, usage.Get("credentials.claude-a.requests").Int(), a.Get("usage.requests").Int(), "credentials show their usage")

	// a request every credential refuses counts as an error of its member
	for _, k := range []string{claudeKeyA, claudeKeyB} {
		g.mock.SetFault(k, mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "600"})
	}
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), `{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"refused"}]}`)
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, body)
	require.Eventually(t, func() bool {
		usage = api.ok(http.MethodGet, "usage", "")
		return usage.Get("members.alice.requests").Int() == int64(requests+1)
	}, 5*time.Second, 20*time.Millisecond, "usage: %s", usage.Raw)
	assert.Equal(t, int64(1), usage.Get("members.alice.errors").Int())
	assert.Equal(t, int64(1), usage.Get("total.errors").Int())
	assert.Equal(t, wantIn, usage.Get("total.tokens.input").Int(), "a refusal costs no tokens")

	api.noSecrets(append(upstreamKeys, clientKey)...)
}

func TestManagementAuthFiles(t *testing.T) {
	dir := t.TempDir()
	// token endpoints that answer nothing: no refresh is due, and none
	// may reach a real provider
	g := startGateway(t, gatewayOptions{Handler: poolConfig + "\t\tauth_dir " + dir + `
		oauth_token_url claude http://127.0.0.1:9/token
		oauth_token_url google http://127.0.0.1:9/token
`})
	t.Cleanup(func() { unloadConfig(t) })
	api := g.adminAPI()
	const fileKey = "sk-ant-file-zzzz-secret"
	file := `{"type":"claude","email":"zed@example.com","api_key":"` + fileKey + `","base_url":"` + g.mockURL + `","priority":5}`

	out := api.ok(http.MethodPut, "auth-files/claude-zed.json", file)
	assert.True(t, out.Get("created").Bool())
	info, err := os.Stat(filepath.Join(dir, "claude-zed.json"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	var zed gjson.Result
	require.Eventually(t, func() bool {
		zed = api.ok(http.MethodGet, "credentials", "").Get(`credentials.#(name=="claude-zed")`)
		return zed.Exists()
	}, 5*time.Second, 50*time.Millisecond, "the uploaded file was not loaded")
	assert.Equal(t, "claude-zed.json", zed.Get("source").String())
	assert.Equal(t, "zed@example.com", zed.Get("email").String())
	assert.Regexp(t, `^[0-9a-f]{8}$`, zed.Get("fingerprint").String())

	// it serves: priority 5 puts it above the configured credentials
	g.mock.Reset()
	g.claude("", "from the file")
	assert.Equal(t, []string{fileKey}, g.keysSeen())

	// a second upload replaces it
	out = api.ok(http.MethodPut, "auth-files/claude-zed.json", strings.Replace(file, `"priority":5`, `"priority":6`, 1))
	assert.False(t, out.Get("created").Bool())
	data, err := os.ReadFile(filepath.Join(dir, "claude-zed.json"))
	require.NoError(t, err)
	assert.Contains(t, string(data), `"priority": 6`)

	// what is refused is not written
	api.fails(http.MethodPut, "auth-files/broken.json", `{"type":`, http.StatusBadRequest, "invalid_auth_file")
	api.fails(http.MethodPut, "auth-files/broken.json", `{"type":"mistral","api_key":"k"}`, http.StatusBadRequest, "invalid_auth_file")
	api.fails(http.MethodPut, "auth-files/broken.json", `{"type":"claude","email":"x@example.com"}`, http.StatusBadRequest, "invalid_auth_file")
	api.fails(http.MethodPut, "auth-files/broken.txt", file, http.StatusBadRequest, "invalid_auth_file")
	api.fails(http.MethodPut, "auth-files/.hidden.json", file, http.StatusBadRequest, "invalid_auth_file")
	api.fails(http.MethodPut, "auth-files/big.json", `{"type":"claude","api_key":"`+strings.Repeat("k", 1<<20)+`"}`, http.StatusRequestEntityTooLarge, "invalid_auth_file")
	api.fails(http.MethodGet, "auth-files/claude-zed.json", "", http.StatusMethodNotAllowed, "method_not_allowed")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "a refused upload left a file")

	api.ok(http.MethodDelete, "auth-files/claude-zed.json", "")
	_, err = os.Stat(filepath.Join(dir, "claude-zed.json"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	require.Eventually(t, func() bool {
		return !api.ok(http.MethodGet, "credentials", "").Get(`credentials.#(name=="claude-zed")`).Exists()
	}, 5*time.Second, 50*time.Millisecond, "a deleted file's credential stayed")
	api.fails(http.MethodDelete, "auth-files/claude-zed.json", "", http.StatusNotFound, "auth_file_not_found")

	// OAuth accounts: tokens never show, and a Code Assist file's
	// per-project credentials (named <file>/<project>) are managed by name
	const access, refresh = "sk-ant-oat01-access-zzzz-secret", "sk-ant-ort01-refresh-zzzz-secret"
	const gAccess, gRefresh = "ya29.google-access-zzzz-secret", "1//google-refresh-zzzz-secret"
	expiry := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	api.ok(http.MethodPut, "auth-files/claude-oauth.json", `{"type":"claude","email":"o@example.com","access_token":"`+access+`","refresh_token":"`+refresh+`","expired":"`+expiry+`"}`)
	api.ok(http.MethodPut, "auth-files/gem.json", `{"type":"gemini-cli","email":"g@example.com","project_id":"p1,p2","token":{"access_token":"`+gAccess+`","refresh_token":"`+gRefresh+`","expiry":"`+expiry+`"}}`)
	require.Eventually(t, func() bool {
		names := api.ok(http.MethodGet, "credentials", "").Get("credentials.#.name").String()
		return strings.Contains(names, `"claude-oauth"`) && strings.Contains(names, `"gem/p2"`)
	}, 5*time.Second, 50*time.Millisecond, "the OAuth files were not loaded")
	assert.Equal(t, "gem", api.credential("gem/p1").Get("group").String())
	api.ok(http.MethodPost, "credentials/gem/p1/disable", "")
	assert.Equal(t, "disabled", api.credential("gem/p1").Get("status").String())
	assert.Equal(t, "available", api.credential("gem/p2").Get("status").String(), "one project disabled, not the account")
	assert.Equal(t, int64(0), api.ok(http.MethodPost, "credentials/gem/p2/reset", "").Get("cleared").Int())

	api.noSecrets(append(upstreamKeys, clientKey, fileKey, access, refresh, gAccess, gRefresh)...)
}

func TestManagementAuthFilesNeedAnAuthDir(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	g.adminAPI().fails(http.MethodPut, "auth-files/claude-zed.json", `{"type":"claude","api_key":"k"}`, http.StatusConflict, "no_auth_dir")
}

// Uploads the store cannot take are the caller's fault, answered 400 with
// nothing written: a name too long for the file system, a symlink to a
// missing file (without naming where it points), a proxy_url the loader
// would refuse.
func TestManagementAuthFileUploadEdgeCases(t *testing.T) {
	dir := t.TempDir()
	g := startGateway(t, gatewayOptions{Handler: poolConfig + "\t\tauth_dir " + dir + "\n"})
	t.Cleanup(func() { unloadConfig(t) })
	api := g.adminAPI()
	file := `{"type":"claude","email":"zed@example.com","api_key":"sk-ant-edge-zzzz-secret","base_url":"` + g.mockURL + `"}`

	api.fails(http.MethodPut, "auth-files/"+strings.Repeat("n", 295)+".json", file, http.StatusBadRequest, "invalid_auth_file")
	api.fails(http.MethodDelete, "auth-files/"+strings.Repeat("n", 295)+".json", "", http.StatusBadRequest, "invalid_auth_file")
	// the longest name that fits is written
	long := strings.Repeat("n", 234) + ".json"
	api.ok(http.MethodPut, "auth-files/"+long, file)
	api.ok(http.MethodDelete, "auth-files/"+long, "")

	target := filepath.Join(t.TempDir(), "operator-layout", "gone.json")
	require.NoError(t, os.Symlink(target, filepath.Join(dir, "dangling.json")))
	out := api.fails(http.MethodPut, "auth-files/dangling.json", file, http.StatusBadRequest, "invalid_auth_file")
	assert.NotContains(t, out.Raw, "operator-layout", "the answer shows where the link points")
	assert.NotContains(t, out.Raw, filepath.Dir(target))

	for _, proxy := range []string{"ftp://proxy.example:21", "socks4://proxy.example:1080", "proxy.example:3128"} {
		withProxy := strings.Replace(file, `"email"`, `"proxy_url":"`+proxy+`","email"`, 1)
		api.fails(http.MethodPut, "auth-files/proxied.json", withProxy, http.StatusBadRequest, "invalid_auth_file")
	}
	withCreds := strings.Replace(file, `"email"`, `"proxy_url":"gopher://user:proxy-pass-zzzz@proxy.example","email"`, 1)
	api.fails(http.MethodPut, "auth-files/proxied.json", withCreds, http.StatusBadRequest, "invalid_auth_file")
	api.ok(http.MethodPut, "auth-files/proxied.json", strings.Replace(file, `"email"`, `"proxy_url":"socks5://proxy.example:1080","email"`, 1))

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"dangling.json", "proxied.json"}, names, "a refused upload left a file")
	_, err = os.Lstat(target)
	assert.ErrorIs(t, err, os.ErrNotExist, "the link's target was created")
	api.noSecrets("proxy-pass-zzzz", "sk-ant-edge-zzzz-secret")
}

const mgmtKey = "mgmt-key-0123456789-secret"

// The site mount: a key, from loopback; the same handlers as the admin
// mount; and the pool's own requests still served beside it.
func TestManagementOnSite(t *testing.T) {
	t.Setenv("CLIPROXY_TEST_MGMT_KEY", mgmtKey)
	g := startGateway(t, gatewayOptions{Handler: poolConfig + `
		management {
			key {env.CLIPROXY_TEST_MGMT_KEY}
		}
`})
	withKey := g.siteAPI(hdr("Authorization", "Bearer "+mgmtKey))
	names := withKey.ok(http.MethodGet, "credentials", "").Get("credentials.#.name").String()
	assert.Contains(t, names, "claude-a")
	withKey.ok(http.MethodPost, "credentials/claude-b/disable", "")
	assert.Equal(t, "disabled", g.adminAPI().credential("claude-b").Get("status").String(), "both mounts manage one pool")
	withKey.ok(http.MethodPost, "credentials/claude-b/enable", "")

	// X-Forwarded-For means nothing without trusted_proxies
	xff := g.siteAPI(hdr("Authorization", "Bearer "+mgmtKey, "X-Forwarded-For", "203.0.113.7"))
	xff.ok(http.MethodGet, "usage", "")

	none := g.siteAPI(nil)
	none.fails(http.MethodGet, "credentials", "", http.StatusUnauthorized, "unauthorized")
	// the client key is not a management key
	g.siteAPI(hdr("Authorization", "Bearer "+clientKey)).fails(http.MethodGet, "credentials", "", http.StatusUnauthorized, "unauthorized")
	// the mount point itself, and requests beside it
	withKey.base = g.url("/v0/management")
	assert.NotEmpty(t, withKey.ok(http.MethodGet, "", "").Get("endpoints").Array())
	g.claude("", "still served")

	// the key is a placeholder in the saved config, never its value
	res, err := http.Get(adminURL + "/config/")
	require.NoError(t, err)
	cfg, err := readAll(res)
	require.NoError(t, err)
	assert.Contains(t, string(cfg), "{env.CLIPROXY_TEST_MGMT_KEY}")
	assert.NotContains(t, string(cfg), mgmtKey)
	assert.NotContains(t, g.logs(), mgmtKey)

	for _, m := range []*mgmt{withKey, xff, none} {
		m.noSecrets(append(upstreamKeys, clientKey, mgmtKey)...)
	}

	// only Authorization, which the access log redacts, carries the key
	// (this request puts the key into the log, so it comes last)
	g.siteAPI(hdr("X-Management-Key", mgmtKey)).fails(http.MethodGet, "credentials", "", http.StatusUnauthorized, "unauthorized")
}

// Five wrong keys lock the address out for 30 minutes, even from the
// right key, and a reload does not lift the lock.
func TestManagementLockout(t *testing.T) {
	cfg := gatewayOptions{Handler: poolConfig + `
		management {
			path /ops
			key ` + mgmtKey + `
		}
`}
	g := startGateway(t, cfg)
	good := g.siteAPI(hdr("Authorization", "Bearer "+mgmtKey))
	good.base = g.url("/ops/")
	bad := g.siteAPI(hdr("Authorization", "Bearer wrong-key"))
	bad.base = good.base

	good.ok(http.MethodGet, "strategy", "")
	for range 4 {
		bad.fails(http.MethodGet, "credentials", "", http.StatusUnauthorized, "unauthorized")
	}
	good.ok(http.MethodGet, "strategy", "") // a success forgets the failures
	for range 4 {
		bad.fails(http.MethodGet, "credentials", "", http.StatusUnauthorized, "unauthorized")
	}
	out := bad.fails(http.MethodGet, "credentials", "", http.StatusForbidden, "locked_out")
	assert.InDelta(t, 1800, out.Get("retry_after_seconds").Int(), 5)
	status, out, header := good.call(http.MethodGet, "credentials", "")
	assert.Equal(t, http.StatusForbidden, status)
	assert.Equal(t, "locked_out", out.Get("code").String())
	assert.InDelta(t, 1800, mustAtoi(t, header.Get("Retry-After")), 5)

	g.reload(cfg)
	good.fails(http.MethodGet, "credentials", "", http.StatusForbidden, "locked_out")
	// the admin endpoint is for local operators and has no lockout
	g.adminAPI().ok(http.MethodGet, "credentials", "")
	good.noSecrets(append(upstreamKeys, clientKey, mgmtKey)...)
}

// The Bearer scheme is case-insensitive (RFC 9110): a management key sent
// as "bearer <key>" is admitted, and so never counts toward the lockout.
func TestManagementKeySchemeInAnyCase(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig + `
		management {
			key ` + mgmtKey + `
		}
`})
	for _, scheme := range []string{"bearer", "BEARER", "bEARER", "bearer", "bearer", "bearer"} {
		g.siteAPI(hdr("Authorization", scheme+" "+mgmtKey)).ok(http.MethodGet, "strategy", "")
	}
	g.siteAPI(hdr("Authorization", "Bearer "+mgmtKey)).ok(http.MethodGet, "credentials", "")
}

// Every loopback address is one machine: guesses sent from 127.0.1.1,
// 127.0.1.2, … are counted together, and the fifth locks loopback out.
func TestManagementLockoutCountsLoopbackAsOne(t *testing.T) {
	startGateway(t, gatewayOptions{Handler: poolConfig + `
		management {
			key ` + mgmtKey + `
		}
`})
	from := func(src string, key string) (int, gjson.Result) {
		t.Helper()
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}).DialContext,
		}}
		defer client.CloseIdleConnections()
		req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/v0/management/strategy", gatewayPort), nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := client.Do(req)
		require.NoError(t, err)
		body, err := readAll(res)
		require.NoError(t, err)
		return res.StatusCode, gjson.ParseBytes(body)
	}
	for i := 1; i <= 4; i++ {
		status, out := from(fmt.Sprintf("127.0.1.%d", i), "wrong-key")
		require.Equal(t, http.StatusUnauthorized, status, out.Raw)
	}
	status, out := from("127.0.1.5", "wrong-key")
	assert.Equal(t, http.StatusForbidden, status, "the fifth guess from loopback did not lock it: %s", out.Raw)
	assert.Equal(t, "locked_out", out.Get("code").String())
	status, out = from("127.0.0.1", mgmtKey)
	assert.Equal(t, http.StatusForbidden, status, "another loopback address is not locked: %s", out.Raw)
	assert.Equal(t, "locked_out", out.Get("code").String())
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	_, err := fmt.Sscan(s, &n)
	require.NoError(t, err, "not a number: %q", s)
	return n
}

// The runtime password works from loopback only and is written nowhere:
// not in the config, the logs or an answer.
func TestManagementRuntimePassword(t *testing.T) {
	const password = "runtime-password-4242-secret"
	t.Setenv("CLIPROXY_MANAGEMENT_PASSWORD", password)
	g := startGateway(t, gatewayOptions{
		Server: "\t\ttrusted_proxies static 127.0.0.1/32\n\t\tclient_ip_headers X-Forwarded-For",
		Handler: poolConfig + `
		management {
			allow_remote on
		}
`,
	})
	local := g.siteAPI(hdr("Authorization", "Bearer "+password))
	local.ok(http.MethodGet, "credentials", "")
	// a client behind the trusted proxy is remote: the password is
	// refused, even with remote access allowed
	remote := g.siteAPI(hdr("Authorization", "Bearer "+password, "X-Forwarded-For", "203.0.113.7"))
	remote.fails(http.MethodGet, "credentials", "", http.StatusUnauthorized, "unauthorized")

	res, err := http.Get(adminURL + "/config/")
	require.NoError(t, err)
	cfg, err := readAll(res)
	require.NoError(t, err)
	assert.NotContains(t, string(cfg), password)
	assert.NotContains(t, g.logs(), password)
	local.noSecrets(append(upstreamKeys, clientKey, password)...)
	remote.noSecrets(password)
}

// Behind a trusted proxy, Caddy's client IP decides: remote clients are
// refused unless allow_remote is on, whatever key they hold.
func TestManagementRefusesRemoteClients(t *testing.T) {
	server := "\t\ttrusted_proxies static 127.0.0.1/32\n\t\tclient_ip_headers X-Forwarded-For"
	mgmtBlock := func(remote string) string {
		return poolConfig + "\t\tmanagement {\n\t\t\tkey " + mgmtKey + "\n\t\t\tallow_remote " + remote + "\n\t\t}\n"
	}
	g := startGateway(t, gatewayOptions{Server: server, Handler: mgmtBlock("off")})
	remote := g.siteAPI(hdr("Authorization", "Bearer "+mgmtKey, "X-Forwarded-For", "203.0.113.7"))
	local := g.siteAPI(hdr("Authorization", "Bearer "+mgmtKey))
	for range 6 {
		// refusals are not failures: they lock nobody out
		remote.fails(http.MethodGet, "credentials", "", http.StatusForbidden, "remote_refused")
	}
	local.ok(http.MethodGet, "credentials", "")

	g.reload(gatewayOptions{Server: server, Handler: mgmtBlock("on")})
	remote.ok(http.MethodGet, "credentials", "")
	g.siteAPI(hdr("Authorization", "Bearer nope", "X-Forwarded-For", "203.0.113.7")).
		fails(http.MethodGet, "credentials", "", http.StatusUnauthorized, "unauthorized")
	remote.noSecrets(append(upstreamKeys, clientKey, mgmtKey)...)
}
