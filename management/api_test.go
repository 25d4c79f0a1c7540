package management_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
	"github.com/caddy-cliproxy/cliproxy/management"
	"github.com/caddy-cliproxy/cliproxy/outcome"
	"github.com/caddy-cliproxy/cliproxy/pool"
	"github.com/caddy-cliproxy/cliproxy/selector"
)

// member is a handler as the pool sees it, without Caddy: the credentials it
// was configured with, the auth.Pool it serves from now (rebuilt with the
// operator's overrides when told to, as the module does), and its strategy
// switch.
type member struct {
	t     *testing.T
	state *pool.State
	creds []*auth.Credential

	mu   sync.Mutex
	cur  *auth.Pool
	seen []string // the reasons it was told to rebuild
	m    *pool.Member
}

func (m *member) current() *auth.Pool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur
}

func (m *member) rebuild(reason string) {
	p, err := auth.NewPoolWithHealth(m.state.WithOverrides(cloneCreds(m.creds)), m.state.Health, auth.Policy{})
	require.NoError(m.t, err)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cur = p
	if reason != "" {
		m.seen = append(m.seen, reason)
	}
}

func cloneCreds(in []*auth.Credential) []*auth.Credential {
	out := make([]*auth.Credential, len(in))
	copy(out, in)
	return out
}

// api is the management API over a real pool state with one member.
type api struct {
	t     *testing.T
	state *pool.State
	m     *member
}

func newAPI(t *testing.T, names ...string) *api {
	t.Helper()
	st := pool.New(time.Hour)
	t.Cleanup(func() { _ = st.Destruct() })
	var creds []*auth.Credential
	for _, n := range names {
		creds = append(creds, &auth.Credential{Name: n, Provider: auth.Claude, APIKey: "sk-ant-secret-" + n, Weight: 1})
	}
	m := &member{t: t, state: st, creds: creds}
	m.rebuild("")
	sw, err := st.Selector(selector.RoundRobin)
	require.NoError(t, err)
	m.m = &pool.Member{Pool: m.current, Strategy: selector.RoundRobin, Selector: sw, Changed: m.rebuild}
	st.Register(m.m)
	t.Cleanup(func() { st.Unregister(m.m) })
	return &api{t: t, state: st, m: m}
}

// do serves one API request and returns the status and the body.
func (a *api) do(method, path, body string) (int, string) {
	a.t.Helper()
	rec := a.serve(method, path, body)
	return rec.Code, rec.Body.String()
}

func (a *api) serve(method, path, body string) *httptest.ResponseRecorder {
	a.t.Helper()
	r := httptest.NewRequest(method, "/cliproxy/"+path, strings.NewReader(body))
	rel, query, _ := strings.Cut(path, "?")
	r.URL.RawQuery = query
	rec := httptest.NewRecorder()
	management.Serve(rec, r, a.state, rel)
	return rec
}

func errCode(body string) string { return gjson.Get(body, "code").String() }

func TestIndexListsTheEndpoints(t *testing.T) {
	a := newAPI(t, "claude-a")
	status, body := a.do(http.MethodGet, "", "")
	require.Equal(t, http.StatusOK, status, body)
	var list []string
	for _, e := range gjson.Get(body, "endpoints").Array() {
		list = append(list, e.String())
	}
	assert.Contains(t, list, "GET credentials")
	assert.Contains(t, list, "PUT strategy")

	rec := a.serve(http.MethodPost, "", "")
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, management.CodeMethodNotAllowed, errCode(rec.Body.String()))
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
}

func TestUnknownEndpointsAreNotFound(t *testing.T) {
	a := newAPI(t, "claude-a")
	for _, path := range []string{"nope", "usage/x", "strategy/x", "credentials/claude-a", "credentials/claude-a/frob", "auth-files/a/b.json", "auth-files"} {
		method := http.MethodPost
		if strings.HasPrefix(path, "usage") || strings.HasPrefix(path, "strategy") {
			method = http.MethodGet
		}
		if strings.HasPrefix(path, "auth-files") {
			method = http.MethodPut
		}
		status, body := a.do(method, path, "")
		assert.Equal(t, http.StatusNotFound, status, path)
		assert.Equal(t, management.CodeNotFound, errCode(body), path)
		assert.Contains(t, gjson.Get(body, "error").String(), method, path)
	}
}

func TestCredentialsAreListedByNameWithoutSecrets(t *testing.T) {
	a := newAPI(t, "claude-b", "claude-a")
	a.state.Usage().Request(&outcome.Request{Credential: "claude-a", Client: "alice", Status: 200, Tokens: outcome.Tokens{Input: 7, Output: 3}})
	status, body := a.do(http.MethodGet, "credentials", "")
	require.Equal(t, http.StatusOK, status, body)
	creds := gjson.Get(body, "credentials").Array()
	require.Len(t, creds, 2)
	assert.Equal(t, "claude-a", creds[0].Get("name").String())
	assert.Equal(t, "claude-b", creds[1].Get("name").String())
	assert.EqualValues(t, 1, creds[0].Get("usage.requests").Int())
	assert.EqualValues(t, 7, creds[0].Get("usage.tokens.input").Int())
	assert.EqualValues(t, 0, creds[1].Get("usage.requests").Int())
	assert.NotEmpty(t, creds[0].Get("fingerprint").String())
	assert.NotContains(t, body, "sk-ant-secret")
	assert.False(t, creds[0].Get("override").Exists(), "no operator override yet")

	status, body = a.do(http.MethodPost, "credentials", "")
	assert.Equal(t, http.StatusMethodNotAllowed, status)
	assert.Equal(t, management.CodeMethodNotAllowed, errCode(body))
}

func TestDisableDropsSessionsAndRebuildsThePool(t *testing.T) {
	a := newAPI(t, "claude-a", "claude-b")
	a.state.Sessions.Set("claude-a", "alice::s1::opus")
	a.state.Sessions.Set("claude-a", "bob::s2::opus")
	a.state.Sessions.Set("claude-b", "carol::s3::opus")

	status, body := a.do(http.MethodPost, "credentials/claude-a/disable", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.True(t, gjson.Get(body, "disabled").Bool())
	assert.EqualValues(t, 2, gjson.Get(body, "sessions_dropped").Int())
	assert.True(t, a.m.current().Get("claude-a").Disabled, "the member rebuilt its pool with the override")
	assert.False(t, a.m.current().Get("claude-b").Disabled)
	assert.Equal(t, []string{"credential disabled by an operator"}, a.m.seen)
	_, ok := a.state.Sessions.Get("carol::s3::opus")
	assert.True(t, ok, "the other credential's sessions stay")

	_, body = a.do(http.MethodGet, "credentials", "")
	assert.Equal(t, management.OverrideDisabled, gjson.Get(body, `credentials.#(name=="claude-a").override`).String())

	status, body = a.do(http.MethodPost, "credentials/claude-a/enable", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.False(t, gjson.Get(body, "disabled").Bool())
	assert.False(t, gjson.Get(body, "sessions_dropped").Exists(), "enabling drops nothing")
	assert.False(t, a.m.current().Get("claude-a").Disabled)
	_, body = a.do(http.MethodGet, "credentials", "")
	assert.Equal(t, management.OverrideEnabled, gjson.Get(body, `credentials.#(name=="claude-a").override`).String())

	// the override outlives a rebuild that is not the operator's (an auth
	// directory change)
	a.do(http.MethodPost, "credentials/claude-b/disable", "")
	a.m.rebuild("credentials reloaded from auth_dir")
	assert.True(t, a.m.current().Get("claude-b").Disabled)
}

func TestCredentialActionsRefuseUnknownNamesAndMethods(t *testing.T) {
	a := newAPI(t, "claude-a")
	for _, action := range []string{"enable", "disable", "reset"} {
		status, body := a.do(http.MethodPost, "credentials/claude-zz/"+action, "")
		assert.Equal(t, http.StatusNotFound, status, action)
		assert.Equal(t, management.CodeCredentialNotFound, errCode(body), action)
	}
	status, body := a.do(http.MethodGet, "credentials/claude-a/disable", "")
	assert.Equal(t, http.StatusMethodNotAllowed, status)
	assert.Equal(t, management.CodeMethodNotAllowed, errCode(body))
	assert.Empty(t, a.m.seen, "nothing was rebuilt")
}

// A Gemini Code Assist credential is "<file>/<project>": the action is the
// last path segment, the rest is the name.
func TestCredentialNamesMayHoldASlash(t *testing.T) {
	a := newAPI(t, "gemini-dave/proj-1")
	status, body := a.do(http.MethodPost, "credentials/gemini-dave/proj-1/disable", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "gemini-dave/proj-1", gjson.Get(body, "credential").String())
	assert.True(t, a.m.current().Get("gemini-dave/proj-1").Disabled)
}

func TestResetLiftsBlocks(t *testing.T) {
	a := newAPI(t, "claude-a")
	p := a.m.current()
	c := p.Get("claude-a")
	p.RecordFailure(c, "opus", auth.Outcome{Status: http.StatusTooManyRequests})
	p.RecordFailure(c, "haiku", auth.Outcome{Status: http.StatusTooManyRequests})
	ok, _ := p.Available(c, "opus")
	require.False(t, ok)

	status, body := a.do(http.MethodPost, "credentials/claude-a/reset?model=opus", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "opus", gjson.Get(body, "model").String())
	assert.EqualValues(t, 1, gjson.Get(body, "cleared").Int())
	ok, _ = p.Available(c, "opus")
	assert.True(t, ok, "opus is served again")
	ok, _ = p.Available(c, "haiku")
	assert.False(t, ok, "a reset of one model leaves the others")

	status, body = a.do(http.MethodPost, "credentials/claude-a/reset", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.False(t, gjson.Get(body, "model").Exists())
	assert.GreaterOrEqual(t, gjson.Get(body, "cleared").Int(), int64(1))
	ok, _ = p.Available(c, "haiku")
	assert.True(t, ok)
}

const claudeFile = `{"type":"claude","email":"zed@example.com","access_token":"sk-ant-oat01-zed","refresh_token":"rt-zed","expired":"2030-01-01T00:00:00Z"}`

func TestAuthFilesNeedOneAuthDirectory(t *testing.T) {
	a := newAPI(t, "claude-a")
	status, body := a.do(http.MethodPut, "auth-files/claude-zed.json", claudeFile)
	assert.Equal(t, http.StatusConflict, status)
	assert.Equal(t, management.CodeNoAuthDir, errCode(body))

	one := t.TempDir()
	_, k1, err := a.state.OpenAuthDir(one, &oauth.Refresher{}, zap.NewNop())
	require.NoError(t, err)
	defer a.state.ReleaseAuthDir(k1)
	_, k2, err := a.state.OpenAuthDir(t.TempDir(), &oauth.Refresher{}, zap.NewNop())
	require.NoError(t, err)
	status, body = a.do(http.MethodPut, "auth-files/claude-zed.json", claudeFile)
	assert.Equal(t, http.StatusConflict, status, "two directories: which one is meant?")
	assert.Equal(t, management.CodeNoAuthDir, errCode(body))
	a.state.ReleaseAuthDir(k2)

	status, body = a.do(http.MethodPut, "auth-files/claude-zed.json", claudeFile)
	require.Equal(t, http.StatusCreated, status, body)
	_, err = os.Stat(filepath.Join(one, "claude-zed.json"))
	assert.NoError(t, err)
}

func TestAuthFilesAreWrittenAndDeleted(t *testing.T) {
	a := newAPI(t, "claude-a")
	dir := t.TempDir()
	_, key, err := a.state.OpenAuthDir(dir, &oauth.Refresher{}, zap.NewNop())
	require.NoError(t, err)
	defer a.state.ReleaseAuthDir(key)

	status, body := a.do(http.MethodPut, "auth-files/claude-zed.json", claudeFile)
	require.Equal(t, http.StatusCreated, status, body)
	assert.True(t, gjson.Get(body, "created").Bool())
	assert.Equal(t, "claude", gjson.Get(body, "type").String())
	assert.NotContains(t, body, "sk-ant-oat01-zed")
	info, err := os.Stat(filepath.Join(dir, "claude-zed.json"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	status, body = a.do(http.MethodPut, "auth-files/claude-zed.json", strings.Replace(claudeFile, "rt-zed", "rt-zed-2", 1))
	require.Equal(t, http.StatusOK, status, body)
	assert.False(t, gjson.Get(body, "created").Bool())
	raw, err := os.ReadFile(filepath.Join(dir, "claude-zed.json"))
	require.NoError(t, err)
	assert.Equal(t, "rt-zed-2", gjson.GetBytes(raw, "refresh_token").String())

	status, body = a.do(http.MethodDelete, "auth-files/claude-zed.json", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.True(t, gjson.Get(body, "deleted").Bool())
	_, err = os.Stat(filepath.Join(dir, "claude-zed.json"))
	assert.True(t, errors.Is(err, os.ErrNotExist))

	status, body = a.do(http.MethodDelete, "auth-files/claude-zed.json", "")
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, management.CodeAuthFileNotFound, errCode(body))

	status, body = a.do(http.MethodGet, "auth-files/claude-zed.json", "")
	assert.Equal(t, http.StatusMethodNotAllowed, status)
	assert.Equal(t, management.CodeMethodNotAllowed, errCode(body))
}

func TestBadAuthFilesAreRefused(t *testing.T) {
	a := newAPI(t, "claude-a")
	dir := t.TempDir()
	_, key, err := a.state.OpenAuthDir(dir, &oauth.Refresher{}, zap.NewNop())
	require.NoError(t, err)
	defer a.state.ReleaseAuthDir(key)

	cases := []struct {
		name, file, body string
		status           int
	}{
		{"a name outside the directory", "..%2Fescape.json", claudeFile, http.StatusBadRequest},
		{"a name that is not .json", "claude-zed.txt", claudeFile, http.StatusBadRequest},
		{"not JSON", "claude-zed.json", `{"type":`, http.StatusBadRequest},
		{"a type the gateway does not serve", "qwen-zed.json", `{"type":"qwen","access_token":"t"}`, http.StatusBadRequest},
		{"neither a key nor a token", "claude-zed.json", `{"type":"claude","email":"zed@example.com"}`, http.StatusBadRequest},
		{"too large", "claude-big.json", `{"type":"claude","api_key":"` + strings.Repeat("k", 1<<20) + `"}`, http.StatusRequestEntityTooLarge},
	}
	for _, tc := range cases {
		status, body := a.do(http.MethodPut, "auth-files/"+tc.file, tc.body)
		assert.Equal(t, tc.status, status, tc.name)
		assert.Equal(t, management.CodeInvalidAuthFile, errCode(body), tc.name)
		assert.NotContains(t, body, "kkkkkkkk", tc.name)
	}
	status, body := a.do(http.MethodDelete, "auth-files/..%2Fescape.json", "")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, management.CodeInvalidAuthFile, errCode(body))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing was written")
}

func TestSessionsAreListedFilteredAndBounded(t *testing.T) {
	a := newAPI(t, "claude-a", "claude-b")
	a.state.Sessions.Set("claude-b", "bob::s2::opus")
	a.state.Sessions.Set("claude-a", "alice::s1::opus")
	a.state.Sessions.Set("claude-a", "carol::s3::opus")

	status, body := a.do(http.MethodGet, "sessions", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.EqualValues(t, 3, gjson.Get(body, "count").Int())
	assert.EqualValues(t, 2, gjson.Get(body, "by_credential.claude-a").Int())
	assert.Equal(t, []string{"alice::s1::opus", "bob::s2::opus", "carol::s3::opus"}, keysOf(body))
	assert.False(t, gjson.Get(body, "truncated").Bool())
	assert.True(t, gjson.Get(body, "bindings.0.expires").Time().After(time.Now()))

	_, body = a.do(http.MethodGet, "sessions?credential=claude-b", "")
	assert.Equal(t, []string{"bob::s2::opus"}, keysOf(body))
	assert.EqualValues(t, 1, gjson.Get(body, "count").Int())

	_, body = a.do(http.MethodGet, "sessions?limit=1", "")
	assert.Equal(t, []string{"alice::s1::opus"}, keysOf(body))
	assert.True(t, gjson.Get(body, "truncated").Bool())
	assert.EqualValues(t, 3, gjson.Get(body, "count").Int(), "the count is of every binding")

	_, body = a.do(http.MethodGet, "sessions?credential=claude-zz", "")
	assert.Equal(t, "[]", gjson.Get(body, "bindings").Raw, "an empty list, not null")

	for _, bad := range []string{"x", "-1", "100001"} {
		status, body = a.do(http.MethodGet, "sessions?limit="+bad, "")
		assert.Equal(t, http.StatusBadRequest, status, bad)
		assert.Equal(t, management.CodeBadRequest, errCode(body), bad)
	}
	status, _ = a.do(http.MethodPut, "sessions", "")
	assert.Equal(t, http.StatusMethodNotAllowed, status)
}

func keysOf(body string) []string {
	var out []string
	for _, b := range gjson.Get(body, "bindings").Array() {
		out = append(out, b.Get("key").String())
	}
	return out
}

func TestSessionsAreDropped(t *testing.T) {
	a := newAPI(t, "claude-a", "claude-b")
	a.state.Sessions.Set("claude-a", "alice::s1::opus")
	a.state.Sessions.Set("claude-a", "alice::s1::haiku")
	a.state.Sessions.Set("claude-a", "alice::s10::opus")
	a.state.Sessions.Set("claude-b", "bob::s2::opus")
	a.state.Sessions.Set("claude-b", "bob::s3::opus")

	// by the session ID that logs show: every model's binding of it, and
	// no other session whose ID merely starts the same
	status, body := a.do(http.MethodDelete, "sessions/s1", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.EqualValues(t, 2, gjson.Get(body, "deleted").Int())
	_, ok := a.state.Sessions.Get("alice::s10::opus")
	assert.True(t, ok)

	// by the whole key
	status, body = a.do(http.MethodDelete, "sessions/alice::s10::opus", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.EqualValues(t, 1, gjson.Get(body, "deleted").Int())

	status, body = a.do(http.MethodDelete, "sessions/s1", "")
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, management.CodeSessionNotFound, errCode(body))

	status, body = a.do(http.MethodDelete, "sessions?credential=claude-b", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.EqualValues(t, 2, gjson.Get(body, "deleted").Int())
	_, ok = a.state.Sessions.Get("bob::s2::opus")
	assert.False(t, ok)

	status, body = a.do(http.MethodDelete, "sessions", "")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, management.CodeBadRequest, errCode(body))
	status, _ = a.do(http.MethodGet, "sessions/s2", "")
	assert.Equal(t, http.StatusMethodNotAllowed, status)
}

func TestStrategyIsSwitchedForEveryMember(t *testing.T) {
	a := newAPI(t, "claude-a", "claude-b")
	status, body := a.do(http.MethodGet, "strategy", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, selector.RoundRobin, gjson.Get(body, "strategy").String())
	assert.Equal(t, selector.RoundRobin, gjson.Get(body, "configured").String())

	status, body = a.do(http.MethodPut, "strategy", `{"strategy":"ff"}`)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, selector.FillFirst, gjson.Get(body, "strategy").String(), "aliases are accepted and named canonically")
	assert.Equal(t, selector.RoundRobin, gjson.Get(body, "configured").String())
	creds := a.m.current().Credentials()
	for range 3 {
		assert.Equal(t, "claude-a", a.m.m.Selector.Pick("claude:opus", creds).Name, "fill-first keeps to the first")
	}

	// a member provisioned later (a reload with the same strategy) starts
	// on the operator's choice
	sw, err := a.state.Selector(selector.RoundRobin)
	require.NoError(t, err)
	assert.Equal(t, "claude-a", sw.Pick("claude:opus", creds).Name)
	assert.Equal(t, "claude-a", sw.Pick("claude:opus", creds).Name)

	// back to the configured one ends the override
	_, body = a.do(http.MethodPut, "strategy", `{"strategy":"round-robin"}`)
	assert.Equal(t, selector.RoundRobin, gjson.Get(body, "strategy").String())
	first := a.m.m.Selector.Pick("claude:opus", creds).Name
	assert.NotEqual(t, first, a.m.m.Selector.Pick("claude:opus", creds).Name, "round robin rotates")
}

func TestBadStrategyRequestsAreRefused(t *testing.T) {
	a := newAPI(t, "claude-a")
	for body, want := range map[string]string{
		``:                            management.CodeBadRequest,
		`{}`:                          management.CodeBadRequest,
		`{"strategy":"rr","extra":1}`: management.CodeBadRequest,
		`["round-robin"]`:             management.CodeBadRequest,
		`{"strategy":"random"}`:       management.CodeUnknownStrategy,
		`{"strategy":" "}`:            management.CodeUnknownStrategy,
		`{"strategy":"` + strings.Repeat("x", 70000) + `"}`: management.CodeBadRequest,
	} {
		status, got := a.do(http.MethodPut, "strategy", body)
		assert.Equal(t, http.StatusBadRequest, status, body[:min(len(body), 40)])
		assert.Equal(t, want, errCode(got), body[:min(len(body), 40)])
	}
	_, body := a.do(http.MethodGet, "strategy", "")
	assert.Equal(t, selector.RoundRobin, gjson.Get(body, "strategy").String(), "nothing changed")
	status, _ := a.do(http.MethodDelete, "strategy", "")
	assert.Equal(t, http.StatusMethodNotAllowed, status)
}

func TestUsageReportsTheTotals(t *testing.T) {
	a := newAPI(t, "claude-a")
	u := a.state.Usage()
	u.Request(&outcome.Request{Credential: "claude-a", Client: "alice", Status: 200, Tokens: outcome.Tokens{Input: 10, Output: 5, CacheRead: 2}})
	u.Request(&outcome.Request{Credential: "claude-a", Client: "bob", Status: 529})
	u.Request(&outcome.Request{Client: "bob", Status: 429}) // every credential cooling
	u.Request(&outcome.Request{Client: "alice", Status: 0}) // the client went away
	u.Attempt(outcome.Attempt{Credential: "claude-a", Status: 200})
	u.Failure(outcome.Failure{Credential: "claude-a", Status: 529})

	status, body := a.do(http.MethodGet, "usage", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.EqualValues(t, 4, gjson.Get(body, "total.requests").Int(), "attempts and failures are not requests")
	assert.EqualValues(t, 3, gjson.Get(body, "total.errors").Int())
	assert.EqualValues(t, 10, gjson.Get(body, "total.tokens.input").Int())
	assert.EqualValues(t, 2, gjson.Get(body, "total.tokens.cache_read").Int())
	assert.EqualValues(t, 2, gjson.Get(body, "credentials.claude-a.requests").Int())
	assert.EqualValues(t, 2, gjson.Get(body, "members.bob.requests").Int())
	assert.EqualValues(t, 2, gjson.Get(body, "members.bob.errors").Int())
	assert.True(t, gjson.Get(body, "since").Time().Before(time.Now().Add(time.Second)))

	status, _ = a.do(http.MethodPost, "usage", "")
	assert.Equal(t, http.StatusMethodNotAllowed, status)
}

func TestWriteErrorShapes(t *testing.T) {
	rec := httptest.NewRecorder()
	management.WriteError(rec, errors.New("disk on fire"))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, management.CodeInternal, errCode(rec.Body.String()))
	assert.Equal(t, "disk on fire", gjson.Get(rec.Body.String(), "error").String())
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))

	rec = httptest.NewRecorder()
	e := &management.Error{Status: http.StatusTooManyRequests, Code: management.CodeLockedOut, Message: "locked", RetryAfter: 1500 * time.Millisecond}
	management.WriteError(rec, e)
	assert.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, "2", rec.Header().Get("Retry-After"), "rounded up")
	assert.EqualValues(t, 2, gjson.Get(rec.Body.String(), "retry_after_seconds").Int())
	assert.Zero(t, e.RetryAfterSeconds, "the caller's error is not changed")

	// an *Error wrapped by a caller keeps its status and code
	rec = httptest.NewRecorder()
	management.WriteError(rec, errors.Join(management.CredentialNotFound("x")))
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Equal(t, management.CodeCredentialNotFound, errCode(rec.Body.String()))
	assert.True(t, bytes.HasSuffix(rec.Body.Bytes(), []byte("}\n")))
}
