package integration

import (
	"encoding/base64"
	"fmt"
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
	"golang.org/x/crypto/bcrypt"
)

// Two credentials: a shared one, and bob's own account, in a higher tier,
// which only bob may use. Were allowed_clients ignored, everyone would be
// served by bob's.
const identityCredentials = `
		credential shared {
			provider claude
			api_key ` + claudeKeyA + `
			base_url MOCK
		}
		credential bobs {
			provider claude
			api_key ` + claudeKeyB + `
			base_url MOCK
			priority 10
			allowed_clients bob
		}
`

const identityBody = `{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"who am i"}]}`

// basicAuthHash hashes password as `caddy hash-password` does (bcrypt),
// at the lowest cost so the test's requests stay fast.
func basicAuthHash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	require.NoError(t, err)
	return string(h)
}

func basicAuth(user, password string) http.Header {
	return hdr("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+password)),
		"Anthropic-Version", "2023-06-01", "Content-Type", "application/json")
}

// upstreamSawNoneOf fails when any request the mock received carried one
// of needles in a header or its query.
func (g *gateway) upstreamSawNoneOf(needles ...string) {
	g.t.Helper()
	for _, r := range g.mock.Requests() {
		for name, values := range r.Header {
			for _, v := range values {
				assert.Empty(g.t, containsAny([]byte(v), needles...), "header %s reached the upstream", name)
			}
		}
		assert.Empty(g.t, containsAny([]byte(r.RawQuery), needles...), "the query reached the upstream")
	}
}

// usageOf waits for the cliproxy.usage event of the n-th request (from 1).
func (g *gateway) usageOf(n int) gjson.Result {
	g.t.Helper()
	var events []gjson.Result
	require.Eventually(g.t, func() bool {
		events = g.usageEvents()
		return len(events) >= n
	}, 5*time.Second, 10*time.Millisecond)
	return events[n-1]
}

// Members signed in by Caddy's basic_auth are cliproxy members by their
// user name: in allowed_clients, the usage log, the management usage, the
// token metrics and the access log; their password never goes upstream.
func TestIdentityFromBasicAuth(t *testing.T) {
	g := startGateway(t, gatewayOptions{
		Before: fmt.Sprintf("\t\tbasic_auth {\n\t\t\talice %s\n\t\t\tbob %s\n\t\t}",
			basicAuthHash(t, "alice-password"), basicAuthHash(t, "bob-password")),
		Handler: "\t\tclient_identity {http.auth.user.id}\n\t\trequest_log all\n\t\tsession_affinity on\n" + identityCredentials,
	})
	before := g.scrape()

	aliceHeader := basicAuth("alice", "alice-password")
	aliceHeader.Set("X-Session-ID", "s1")
	res, body := g.do(http.MethodPost, "/v1/messages", aliceHeader, identityBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	aliceIn := gjson.Get(body, "usage.input_tokens").Int()
	res, body = g.do(http.MethodPost, "/v1/messages", basicAuth("bob", "bob-password"), identityBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	bobIn := gjson.Get(body, "usage.input_tokens").Int()
	require.Positive(t, aliceIn)

	// allowed_clients: alice is served by the shared credential, bob by his own
	assert.Equal(t, []string{claudeKeyA, claudeKeyB}, g.keysSeen())

	// a wrong password is basic_auth's refusal; cliproxy never sees it
	res, _ = g.do(http.MethodPost, "/v1/messages", basicAuth("alice", "wrong"), identityBody)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.Len(t, g.mock.Requests(), 2)

	// the usage log
	assert.Equal(t, "alice", g.usageOf(1).Get("client").String())
	assert.Equal(t, "shared", g.usageOf(1).Get("credential").String())
	assert.Equal(t, "bob", g.usageOf(2).Get("client").String())
	assert.Equal(t, "bobs", g.usageOf(2).Get("credential").String())

	// the management usage totals
	usage := g.adminAPI().ok(http.MethodGet, "usage", "")
	assert.Equal(t, int64(1), usage.Get("members.alice.requests").Int(), usage.Raw)
	assert.Equal(t, aliceIn, usage.Get("members.alice.tokens.input").Int(), usage.Raw)
	assert.Equal(t, int64(1), usage.Get("members.bob.requests").Int(), usage.Raw)

	// the session binding is scoped by the member
	var sessions gjson.Result
	require.Eventually(t, func() bool {
		sessions = g.adminAPI().ok(http.MethodGet, "sessions", "")
		return sessions.Get(`bindings.#(key%"*::alice::x-session-id:s1*")`).Exists()
	}, 5*time.Second, 20*time.Millisecond, sessions.Raw)

	// the token metrics, by member
	after := g.scrapeAfter(before, 2)
	grew := func(labels ...string) float64 {
		return after.value("caddy_cliproxy_tokens_total", labels...) - before.value("caddy_cliproxy_tokens_total", labels...)
	}
	assert.Equal(t, float64(aliceIn), grew("member", "alice", "kind", "input", "credential", "shared"))
	assert.Equal(t, float64(bobIn), grew("member", "bob", "kind", "input", "credential", "bobs"))

	// the request logs name the member, and hold no password
	var clients []string
	require.Eventually(t, func() bool {
		clients = clients[:0]
		for _, l := range requestLogs(t, g.reqLogDir) {
			clients = append(clients, l.Get("client").String())
			assert.NotContains(t, l.Raw, base64.StdEncoding.EncodeToString([]byte("alice:alice-password")))
			assert.NotContains(t, l.Raw, base64.StdEncoding.EncodeToString([]byte("bob:bob-password")))
		}
		return len(clients) == 2
	}, 5*time.Second, 20*time.Millisecond)
	assert.ElementsMatch(t, []string{"alice", "bob"}, clients)

	// the access log names the member
	assert.Contains(t, g.logs(), `"cliproxy_client":"alice"`)
	assert.Contains(t, g.logs(), `"cliproxy_client":"bob"`)

	// the Basic credentials stayed at the gateway
	g.upstreamSawNoneOf("alice-password", "bob-password", "Basic ",
		base64.StdEncoding.EncodeToString([]byte("alice:alice-password")))
	for _, r := range g.mock.Requests() {
		assert.Empty(t, r.Header.Values("Authorization"))
	}
}

// keyService is a company key service for forward_auth: it maps bearer
// tokens to members and answers their name in X-Member; "guest" tokens are
// let in with no member; anything else is refused.
type keyService struct {
	mu      sync.Mutex
	members map[string]string
	calls   int
}

func (k *keyService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	k.calls++
	k.mu.Unlock()
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if token == "tok-guest" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	member, ok := k.members[token]
	if !ok {
		http.Error(w, `{"error":"unknown token"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("X-Member", member)
	w.WriteHeader(http.StatusNoContent)
}

func tokenHeader(token string, more ...string) http.Header {
	h := hdr(append([]string{"Authorization", "Bearer " + token, "Anthropic-Version", "2023-06-01", "Content-Type", "application/json"}, more...)...)
	return h
}

// The safe forward_auth form: the key service names the member in a
// header that forward_auth copies onto the request, and removes from it
// when the answer has none, so a client cannot name itself.
func TestIdentityFromForwardAuth(t *testing.T) {
	keys := &keyService{members: map[string]string{"tok-carol": "carol", "tok-bob": "bob"}}
	srv := httptest.NewServer(keys)
	t.Cleanup(srv.Close)
	g := startGateway(t, gatewayOptions{
		Before: fmt.Sprintf("\t\tforward_auth %s {\n\t\t\turi /check\n\t\t\tcopy_headers X-Member\n\t\t}",
			strings.TrimPrefix(srv.URL, "http://")),
		Handler: "\t\tclient_identity {http.request.header.X-Member}\n" + identityCredentials,
	})
	before := g.scrape()

	// carol, claiming to be bob in the identity header, is carol
	res, body := g.do(http.MethodPost, "/v1/messages", tokenHeader("tok-carol", "X-Member", "bob"), identityBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	carolIn := gjson.Get(body, "usage.input_tokens").Int()
	assert.Equal(t, []string{claudeKeyA}, g.keysSeen(), "carol was served by bob's own credential")
	assert.Equal(t, "carol", g.usageOf(1).Get("client").String())

	// bob is bob, on his own credential
	res, body = g.do(http.MethodPost, "/v1/messages", tokenHeader("tok-bob"), identityBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, []string{claudeKeyA, claudeKeyB}, g.keysSeen())
	assert.Equal(t, "bob", g.usageOf(2).Get("client").String())

	// a token the service lets in without a member, with a spoofed
	// identity header: forward_auth removed the header, cliproxy refuses
	for _, tc := range []struct {
		path, body string
		header     http.Header
		errorPath  string
	}{
		{"/v1/messages", identityBody, tokenHeader("tok-guest", "X-Member", "bob"), "error.type"},
		{
			"/v1/chat/completions", `{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}`,
			hdr("Authorization", "Bearer tok-guest", "X-Member", "bob", "Content-Type", "application/json"), "error.code",
		},
	} {
		res, body = g.do(http.MethodPost, tc.path, tc.header, tc.body)
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode, body)
		assert.Equal(t, "false", res.Header.Get("X-Should-Retry"))
		assert.True(t, gjson.Get(body, tc.errorPath).Exists(), "not the client's error shape: %s", body)
		assert.NotContains(t, body, "bob")
	}
	assert.Len(t, g.mock.Requests(), 2, "a refused request reached the upstream")

	// an unknown token is the key service's refusal, passed to the client
	res, _ = g.do(http.MethodPost, "/v1/messages", tokenHeader("tok-mallory", "X-Member", "bob"), identityBody)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.Len(t, g.mock.Requests(), 2)

	after := g.scrapeAfter(before, 4) // two served, two refused
	assert.Equal(t, float64(carolIn), after.value("caddy_cliproxy_tokens_total", "member", "carol", "kind", "input")-
		before.value("caddy_cliproxy_tokens_total", "member", "carol", "kind", "input"))
	assert.Equal(t, 2.0, after.value("caddy_cliproxy_requests_total", "credential", "", "status", "4xx")-
		before.value("caddy_cliproxy_requests_total", "credential", "", "status", "4xx"), "the two refusals are counted")
	usage := g.adminAPI().ok(http.MethodGet, "usage", "")
	assert.Equal(t, int64(1), usage.Get("members.carol.requests").Int(), usage.Raw)
	assert.False(t, usage.Get("members.tok-carol").Exists())

	// neither the members' tokens nor the identity header went upstream
	g.upstreamSawNoneOf("tok-carol", "tok-bob")
	for _, r := range g.mock.Requests() {
		assert.Empty(t, r.Header.Values("X-Member"), "the member's name went upstream")
	}
}

// With no handler in front, a client key still admits its member, and a
// request with neither a key nor an identity is refused in the client's
// shape, told not to retry.
func TestIdentityUnresolvedIsRefused(t *testing.T) {
	g := startGateway(t, gatewayOptions{
		Handler: "\t\tclient_key " + clientKey + " alice\n\t\tclient_identity {http.auth.user.id}\n" + identityCredentials,
	})
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), identityBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, "alice", g.usageOf(1).Get("client").String())

	res, body = g.do(http.MethodPost, "/v1/messages", hdr("Anthropic-Version", "2023-06-01", "Content-Type", "application/json"), identityBody)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, body)
	assert.Equal(t, "false", res.Header.Get("X-Should-Retry"))
	assert.Equal(t, "authentication_error", gjson.Get(body, "error.type").String(), body)
	assert.NotContains(t, body, "{http.auth.user.id}")
	assert.Len(t, g.mock.Requests(), 1)
}

// The README shows the sites of the client_identity fixture verbatim, so
// what it documents is what the golden adapt test checks.
func TestIdentityReadmeShowsTheAdaptedFixture(t *testing.T) {
	fixture, err := os.ReadFile(filepath.Join("..", "testdata", "adapt", "client-identity.caddyfile"))
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	f := string(fixture)
	basic := f[strings.Index(f, "gateway.example.com {"):strings.Index(f, "team.example.com {")]
	forward := f[strings.Index(f, "team.example.com {"):]
	assert.Contains(t, string(readme), "```caddy\n"+strings.TrimRight(basic, "\n")+"\n```")
	assert.Contains(t, string(readme), "```caddy\n"+forward+"```")
}
