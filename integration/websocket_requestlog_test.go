package integration

import (
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

// assertNoWSSecretInDir reads every request log file of dir for the
// WebSocket pool's keys and the client's.
func assertNoWSSecretInDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		for _, secret := range []string{wsKeyA, wsKeyB, clientKey} {
			assert.NotContains(t, string(raw), secret, e.Name())
		}
	}
}

// With request_log all, each WebSocket turn is logged like an HTTP
// request: the handshake's path and redacted headers, the turn's message
// as the request body, the attempts (a refusal the client never saw with
// its event), and no secret in any frame.
func TestRequestLogAllLogsWebSocketTurns(t *testing.T) {
	dir := t.TempDir()
	g := startGateway(t, gatewayOptions{Handler: wsTiered + "\t\trequest_log all\n\t\trequest_log_dir " + dir + "\n"})
	g.mock.SetReply("*", "answered")
	conn := g.mustDialWS(codexHeader("sess-logged"))

	sendWS(t, conn, turnMsg("gpt-5.5", "first", ""))
	require.Equal(t, "answered", turnText(readTurn(t, conn)))
	var logs []gjson.Result
	require.Eventually(t, func() bool { logs = requestLogs(t, dir); return len(logs) == 1 }, 5*time.Second, 10*time.Millisecond)
	l := logs[0]
	assert.Equal(t, int64(1), l.Get("websocket_turn").Int(), l.Raw)
	assert.Equal(t, "GET", l.Get("method").String())
	assert.Equal(t, "/v1/responses", l.Get("path").String())
	assert.Equal(t, "gpt-5.5", l.Get("model").String())
	assert.Equal(t, "alice", l.Get("client").String())
	assert.Equal(t, int64(200), l.Get("status").Int())
	assert.Equal(t, "REDACTED", l.Get("request_headers.Authorization.0").String())
	assert.Equal(t, "sess-logged", l.Get("request_headers.Session-Id.0").String())
	assert.Equal(t, "first", l.Get("request_body.json.input.0.content.0.text").String(), l.Raw)
	require.Len(t, l.Get("attempts").Array(), 1)
	assert.Equal(t, "ws-a", l.Get("attempts.0.credential").String())
	assert.Equal(t, int64(200), l.Get("attempts.0.status").Int())
	assert.False(t, l.Get("response_body").Exists(), "a success's events were captured")

	// the next turn is refused by ws-a with an event that echoes its key,
	// and the client pasted its own key into the prompt
	echo := `{"type":"error","status":429,"error":{"type":"rate_limit_exceeded","code":"rate_limit_exceeded","message":"Rate limit reached for key ` + wsKeyA + `"}}`
	g.mock.SetFault(wsKeyA, mockupstream.Fault{WSError: "rate_limit_exceeded", Body: echo, Times: 1})
	sendWS(t, conn, turnMsg("gpt-5.5", "my key is "+clientKey, ""))
	require.Equal(t, "answered", turnText(readTurn(t, conn)))
	require.Eventually(t, func() bool { logs = requestLogs(t, dir); return len(logs) == 2 }, 5*time.Second, 10*time.Millisecond)
	l = logs[1]
	assert.Equal(t, int64(2), l.Get("websocket_turn").Int(), l.Raw)
	assert.Equal(t, int64(200), l.Get("status").Int())
	assert.Equal(t, "my key is REDACTED", l.Get("request_body.json.input.0.content.0.text").String(), l.Raw)
	attempts := l.Get("attempts").Array()
	require.Len(t, attempts, 2, l.Raw)
	assert.Equal(t, "ws-a", attempts[0].Get("credential").String())
	assert.Equal(t, int64(429), attempts[0].Get("status").Int())
	assert.Equal(t, "Rate limit reached for key REDACTED", attempts[0].Get("body.json.error.message").String(), attempts[0].Raw)
	assert.Equal(t, "ws-b", attempts[1].Get("credential").String())
	assert.Equal(t, int64(200), attempts[1].Get("status").Int())
	assertNoWSSecretInDir(t, dir)
}

// With request_log errors (the default), a turn that succeeds leaves no
// file; one that ends in the client's own error, or in the gateway's,
// leaves one with the error event the client got.
func TestRequestLogErrorsLogsFailedWebSocketTurns(t *testing.T) {
	dir := t.TempDir()
	g := startGateway(t, gatewayOptions{Handler: wsTiered + "\t\trequest_log_dir " + dir + "\n"})
	conn := g.mustDialWS(codexHeader("sess-errors"))

	sendWS(t, conn, turnMsg("gpt-5.5", "fine", ""))
	readTurn(t, conn)
	g.mock.SetFault(wsKeyA, mockupstream.Fault{WSError: "invalid_prompt", Times: 1})
	sendWS(t, conn, turnMsg("gpt-5.5", "bad", ""))
	events := readTurn(t, conn)
	require.Equal(t, "invalid_prompt", gjson.Get(events[len(events)-1], "error.code").String())

	var logs []gjson.Result
	require.Eventually(t, func() bool { logs = requestLogs(t, dir); return len(logs) == 1 }, 5*time.Second, 10*time.Millisecond)
	l := logs[0]
	assert.Equal(t, int64(2), l.Get("websocket_turn").Int(), "the successful turn was logged: %s", l.Raw)
	assert.Equal(t, int64(400), l.Get("status").Int())
	assert.Equal(t, "bad", l.Get("request_body.json.input.0.content.0.text").String())
	assert.Equal(t, "invalid_prompt", l.Get("response_body.json.error.code").String(), l.Raw)

	// every credential refuses: the gateway's own answer, with its code
	g.mock.SetFault("*", mockupstream.Fault{WSError: "rate_limit_exceeded"})
	sendWS(t, conn, turnMsg("gpt-5.5", "anyone?", ""))
	readTurn(t, conn)
	require.Eventually(t, func() bool { logs = requestLogs(t, dir); return len(logs) == 2 }, 5*time.Second, 10*time.Millisecond)
	l = logs[1]
	assert.Equal(t, int64(3), l.Get("websocket_turn").Int())
	assert.Equal(t, int64(429), l.Get("status").Int())
	assert.True(t, strings.HasPrefix(l.Get("error").String(), "model_cooldown"), l.Raw)
	assert.Equal(t, "model_cooldown", l.Get("response_body.json.error.code").String(), l.Raw)
	assert.Len(t, l.Get("attempts").Array(), 2)
	assertNoWSSecretInDir(t, dir)
}
