package executor_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/executor"
	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// The WebSocket tests need a real connection to the client: the executor
// serves from a loopback HTTP server, as Caddy's would.

// withTransports gives the executor the proxy's transport for the
// connections it opens itself (WebSocket upstreams, the HTTP bridge).
func withTransports(o *executor.Options) {
	tr := o.Proxy.(*reverseproxy.Handler).Transport
	o.Transport, o.TLSTransport = tr, tr
}

// listen serves the executor on a loopback server and returns its ws:// URL.
func (h *harness) listen() string {
	h.t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, &caddyhttp.Server{})
		route, ok := executor.Resolve(r)
		if !ok {
			http.NotFound(w, r)
			return
		}
		_ = h.exec.Serve(w, r, route, "alice")
	}))
	h.t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dial(t *testing.T, wsURL, session string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, wsURL+"/v1/responses", &websocket.DialOptions{HTTPHeader: http.Header{
		"Authorization": {"Bearer client-secret-of-alice"},
		"Openai-Beta":   {"responses_websockets=2026-02-06"},
		"Session-Id":    {session},
	}})
	require.NoError(t, err)
	conn.SetReadLimit(64 << 20)
	t.Cleanup(func() { _ = conn.CloseNow() })
	return conn
}

func turn(model, input string) string {
	return `{"type":"response.create","model":"` + model + `","stream":true,"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"` + input + `"}]}]}`
}

// play sends one turn and reads its events to the last.
func play(t *testing.T, conn *websocket.Conn, msg string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte(msg)))
	var events []string
	for {
		_, m, err := conn.Read(ctx)
		require.NoError(t, err, "after %d events", len(events))
		events = append(events, string(m))
		switch gjson.GetBytes(m, "type").String() {
		case "response.completed", "response.failed", "response.incomplete", "error":
			return events
		}
	}
}

func lastType(events []string) string { return gjson.Get(events[len(events)-1], "type").String() }

func text(events []string) string {
	var b strings.Builder
	for _, e := range events {
		if gjson.Get(e, "type").String() == "response.output_text.delta" {
			b.WriteString(gjson.Get(e, "delta").String())
		}
	}
	return b.String()
}

func openai(name string) *auth.Credential {
	return &auth.Credential{Name: name, Provider: auth.OpenAI, APIKey: "sk-" + name, BaseURL: &url.URL{Path: "/v1"}}
}

func wsRecords(m *mockupstream.Server, method string) []mockupstream.Recorded {
	var out []mockupstream.Recorded
	for _, r := range m.Requests() {
		if r.Provider == "openai-responses-ws" && r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

func TestWebSocketTurnsAreRelayedAndRecorded(t *testing.T) {
	h := newHarness(t, withTransports, openai("a"))
	h.mock.SetReply("*", "hello over websocket")
	conn := dial(t, h.listen(), "sess-1")
	for i := range 2 {
		events := play(t, conn, turn("gpt-5.5", "hi"))
		assert.Equal(t, "response.completed", lastType(events), "turn %d", i)
		assert.Equal(t, "hello over websocket", text(events))
	}
	hs := wsRecords(h.mock, http.MethodGet)
	require.Len(t, hs, 1, "one upstream connection serves the session's turns")
	assert.Equal(t, "sk-a", hs[0].Key)
	assert.Equal(t, "sess-1", hs[0].Header.Get("Session-Id"))
	for _, vs := range hs[0].Header {
		for _, v := range vs {
			assert.NotContains(t, v, "client-secret-of-alice")
		}
	}
	assert.Len(t, wsRecords(h.mock, "WS"), 2)

	require.NoError(t, conn.Close(websocket.StatusNormalClosure, ""))
	require.Eventually(t, func() bool {
		h.rec.mu.Lock()
		defer h.rec.mu.Unlock()
		return len(h.rec.requests) == 2
	}, 5*time.Second, 10*time.Millisecond, "one finished request per turn")
	req := h.rec.last(t)
	assert.Equal(t, "a", req.Credential)
	assert.Equal(t, "gpt-5.5", req.Model)
	assert.Equal(t, "alice", req.Client)
	assert.Positive(t, req.Tokens.Output, "the turn's usage, read from its events")
}

// A credential that refuses the turn before any output is replaced within
// the turn: the client never sees the refusal.
func TestWebSocketTurnFailsOverBeforeAnyOutput(t *testing.T) {
	h := newHarness(t, withTransports, openai("a"), openai("b"))
	h.mock.SetFault("sk-a", mockupstream.Fault{WSError: "rate_limit_exceeded", RetryAfter: "30"})
	conn := dial(t, h.listen(), "sess-2")
	events := play(t, conn, turn("gpt-5.5", "hi"))
	assert.Equal(t, "response.completed", lastType(events))
	for _, e := range events {
		assert.NotContains(t, e, "rate_limit_exceeded")
	}
	require.Eventually(t, func() bool {
		h.rec.mu.Lock()
		defer h.rec.mu.Unlock()
		return len(h.rec.requests) == 1
	}, 5*time.Second, 10*time.Millisecond)
	req := h.rec.last(t)
	assert.Equal(t, "b", req.Credential)
	assert.Equal(t, 2, req.Attempts)
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	require.NotEmpty(t, h.rec.failures)
	assert.Equal(t, "a", h.rec.failures[0].Credential)
	assert.Equal(t, http.StatusTooManyRequests, h.rec.failures[0].Status)
	ok, _ := h.pool.Available(h.pool.Get("a"), "gpt-5.5")
	assert.False(t, ok, "the refusing credential cools")
}

// A credential without the upstream's WebSocket mode serves each turn
// through a streaming HTTP request instead.
func TestWebSocketTurnsAreBridgedToHTTP(t *testing.T) {
	c := &auth.Credential{Name: "compat", Provider: auth.OpenAICompatible, APIKey: "sk-compat", BaseURL: &url.URL{Path: "/v1"}}
	h := newHarness(t, withTransports, c)
	h.mock.SetReply("*", "bridged answer")
	conn := dial(t, h.listen(), "sess-3")
	events := play(t, conn, turn("some-model", "hi"))
	assert.Equal(t, "response.completed", lastType(events))
	assert.Equal(t, "bridged answer", text(events))
	assert.Empty(t, wsRecords(h.mock, http.MethodGet), "no upstream WebSocket")
	var posts []mockupstream.Recorded
	for _, r := range h.mock.Requests() {
		if r.Method == http.MethodPost {
			posts = append(posts, r)
		}
	}
	require.Len(t, posts, 1)
	assert.Equal(t, "/v1/responses", posts[0].Path)
	assert.Equal(t, "Bearer sk-compat", posts[0].Header.Get("Authorization"))
	assert.Equal(t, "some-model", gjson.GetBytes(posts[0].Body, "model").String())
}

func TestWebSocketNeedsTheExecutorsTransports(t *testing.T) {
	h := newHarness(t, nil, openai("a"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, res, err := websocket.Dial(ctx, h.listen()+"/v1/responses", &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer x"}}})
	require.Error(t, err)
	require.NotNil(t, res)
	assert.Equal(t, http.StatusNotImplemented, res.StatusCode)
	assert.Empty(t, h.mock.Requests())
}

func TestWebSocketNeedsACredentialForTheResponsesAPI(t *testing.T) {
	h := newHarness(t, withTransports, claude("a"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, res, err := websocket.Dial(ctx, h.listen()+"/v1/responses", &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer x"}}})
	require.Error(t, err)
	require.NotNil(t, res)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
}
