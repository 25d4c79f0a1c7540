package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

const (
	wsKeyA = "sk-openai-ws-aaaa-secret"
	wsKeyB = "sk-openai-ws-bbbb-secret"
)

// wsPool has two OpenAI credentials on the mock, with session affinity.
const wsPool = `
		client_key ` + clientKey + ` alice
		session_affinity on
		credential ws-a {
			provider openai
			api_key ` + wsKeyA + `
			base_url MOCK/v1
		}
		credential ws-b {
			provider openai
			api_key ` + wsKeyB + `
			base_url MOCK/v1
		}
`

// dialWS opens a WebSocket to the gateway's path with header.
func (g *gateway) dialWS(path string, header http.Header) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, fmt.Sprintf("ws://localhost:%d%s", gatewayPort, path), &websocket.DialOptions{HTTPHeader: header})
	if conn != nil {
		conn.SetReadLimit(64 << 20)
		g.t.Cleanup(func() { _ = conn.CloseNow() })
	}
	return conn, res, err
}

// mustDialWS is dialWS that fails the test on an error.
func (g *gateway) mustDialWS(header http.Header) *websocket.Conn {
	g.t.Helper()
	conn, _, err := g.dialWS("/v1/responses", header)
	require.NoError(g.t, err)
	return conn
}

// codexHeader is what Codex CLI 0.169.0 sends on its handshake.
func codexHeader(session string) http.Header {
	return hdr("Authorization", "Bearer "+clientKey, "Openai-Beta", "responses_websockets=2026-02-06",
		"Session-Id", session, "Originator", "codex_exec", "User-Agent", codexUserAgent)
}

// turnMsg is a response.create for model with a one-message input and
// the extra fields given as a JSON fragment (",\"k\":v").
func turnMsg(model, input, extra string) string {
	return `{"type":"response.create","model":"` + model + `","stream":true,"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"` + input + `"}]}]` + extra + `}`
}

func sendWS(t *testing.T, conn *websocket.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte(msg)))
}

// readTurn reads events until the turn's last one (response.completed,
// response.failed, response.incomplete or error).
func readTurn(t *testing.T, conn *websocket.Conn) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var events []string
	for {
		_, msg, err := conn.Read(ctx)
		require.NoError(t, err, "after events %v", typesOf(events))
		events = append(events, string(msg))
		switch gjson.GetBytes(msg, "type").String() {
		case "response.completed", "response.failed", "response.incomplete", "error":
			return events
		}
	}
}

func typesOf(events []string) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = gjson.Get(e, "type").String()
	}
	return out
}

// turnText joins the output_text deltas of a turn.
func turnText(events []string) string {
	var b strings.Builder
	for _, e := range events {
		if gjson.Get(e, "type").String() == "response.output_text.delta" {
			b.WriteString(gjson.Get(e, "delta").String())
		}
	}
	return b.String()
}

// wsRecords returns the mock's WebSocket records: handshakes (GET) and
// turns (WS).
func wsRecords(m *mockupstream.Server, method string) []mockupstream.Recorded {
	var out []mockupstream.Recorded
	for _, r := range m.Requests() {
		if r.Provider == "openai-responses-ws" && r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

func TestWebSocketHandshakeNeedsClientKey(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: wsPool})
	for _, h := range []http.Header{hdr("Openai-Beta", "responses_websockets=2026-02-06"), hdr("Authorization", "Bearer sk-wrong")} {
		conn, res, err := g.dialWS("/v1/responses", h)
		require.Error(t, err)
		require.Nil(t, conn)
		require.NotNil(t, res)
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
		body, _ := readAll(res)
		assert.Equal(t, "invalid_client_key", gjson.GetBytes(body, "error.code").String(), string(body))
	}
	assert.Empty(t, g.mock.Requests(), "a refused handshake reached the upstream")
}

func TestWebSocketTurnGoesUpstreamWithPooledKey(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: wsPool})
	g.mock.SetReply("*", "hello over websocket")
	for _, path := range []string{"/v1/responses", "/backend-api/codex/responses"} {
		t.Run(path, func(t *testing.T) {
			g.mock.Reset()
			g.mock.SetReply("*", "hello over websocket")
			// with the key also where the gateway does not read it
			conn, _, err := g.dialWS(path, withHeaders(codexHeader("sess-handshake-1"),
				"Api-Key", clientKey, "X-Forwarded-Authorization", "Bearer "+clientKey))
			require.NoError(t, err)
			sendWS(t, conn, turnMsg("gpt-5.5", "hi", ""))
			events := readTurn(t, conn)
			assert.Equal(t, "hello over websocket", turnText(events))
			assert.Equal(t, "response.completed", gjson.Get(events[len(events)-1], "type").String())

			hs := wsRecords(g.mock, http.MethodGet)
			require.Len(t, hs, 1)
			assert.Contains(t, []string{wsKeyA, wsKeyB}, hs[0].Key)
			assert.Equal(t, "/v1/responses", hs[0].Path)
			assert.Equal(t, "responses_websockets=2026-02-06", hs[0].Header.Get("Openai-Beta"))
			assert.Equal(t, "sess-handshake-1", hs[0].Header.Get("Session-Id"))
			assert.Equal(t, "codex_exec", hs[0].Header.Get("Originator"))
			for name, values := range hs[0].Header {
				for _, v := range values {
					assert.NotContains(t, v, clientKey, "header %s carried the client key upstream", name)
				}
			}
			turns := wsRecords(g.mock, "WS")
			require.Len(t, turns, 1)
			assert.JSONEq(t, turnMsg("gpt-5.5", "hi", ""), string(turns[0].Body))
		})
	}
}

// A reconnecting Codex session (same Session-Id) comes back to its
// credential; another session is placed on the other one.
func TestWebSocketSessionAffinity(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: wsPool})
	turnOn := func(session string) string {
		conn := g.mustDialWS(codexHeader(session))
		sendWS(t, conn, turnMsg("gpt-5.5", "hi", ""))
		readTurn(t, conn)
		require.NoError(t, conn.Close(websocket.StatusNormalClosure, ""))
		turns := wsRecords(g.mock, "WS")
		return turns[len(turns)-1].Key
	}
	first := turnOn("sess-affinity-1")
	for range 3 {
		assert.Equal(t, first, turnOn("sess-affinity-1"), "a reconnect of the session moved to another credential")
	}
	assert.NotEqual(t, first, turnOn("sess-affinity-2"), "round robin should place a new session on the other credential")
}
