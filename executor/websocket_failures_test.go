package executor_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// When every credential refuses a turn, the client hears it as an error
// event on its open connection, without the upstream's secrets.
func TestWebSocketTurnThatEveryCredentialRefusesEndsInAnError(t *testing.T) {
	h := newHarness(t, withTransports, openai("a"), openai("b"))
	h.mock.SetFault("*", mockupstream.Fault{WSError: "server_is_overloaded"})
	conn := dial(t, h.listen(), "sess-f1")
	events := play(t, conn, turn("gpt-5.5", "hi"))
	last := events[len(events)-1]
	assert.Contains(t, []string{"error", "response.failed"}, lastType(events), last)
	assert.Empty(t, text(events), "no output")
	for _, e := range events {
		assert.NotContains(t, e, "sk-a")
		assert.NotContains(t, e, "sk-b")
	}
	assert.Len(t, wsRecords(h.mock, "WS"), 2, "each credential was tried once")
	for _, name := range []string{"a", "b"} {
		ok, _ := h.pool.Available(h.pool.Get(name), "gpt-5.5")
		assert.False(t, ok, "credential %s cools", name)
	}
}

// closedWith reads conn until it is closed and returns the events read
// before and the close the client got.
func closedWith(t *testing.T, conn *websocket.Conn) ([]string, websocket.CloseError) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var events []string
	for {
		_, m, err := conn.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			require.ErrorAs(t, err, &ce, "the connection ends with a close frame")
			return events, ce
		}
		events = append(events, string(m))
	}
}

// A turn whose output has begun is not replayed on another credential
// (the client would see the answer twice): the upstream's loss reaches the
// client as "going away", after the output it had.
func TestWebSocketTurnBrokenAfterOutputIsNotReplayed(t *testing.T) {
	h := newHarness(t, withTransports, openai("a"), openai("b"))
	h.mock.SetReply("*", "a long answer in several words")
	h.mock.SetFault("sk-a", mockupstream.Fault{ResetAfter: 4, Times: 1})
	conn := dial(t, h.listen(), "sess-f2")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte(turn("gpt-5.5", "hi"))))
	events, ce := closedWith(t, conn)
	assert.Equal(t, websocket.StatusGoingAway, ce.Code)
	assert.NotEmpty(t, events, "the output before the break was relayed")
	assert.NotEqual(t, "response.completed", lastType(events))
	assert.NotEqual(t, "a long answer in several words", text(events), "the broken answer is not completed elsewhere")
	for _, r := range wsRecords(h.mock, "WS") {
		assert.Equal(t, "sk-a", r.Key, "no turn went to b")
	}
}

// An upstream that closes the connection after a turn closes the client's
// with its own code and reason, once the turn is complete.
func TestWebSocketPassesTheUpstreamsCloseOnAfterTheTurn(t *testing.T) {
	h := newHarness(t, withTransports, openai("a"))
	h.mock.SetReply("*", "last words")
	h.mock.SetFault("sk-a", mockupstream.Fault{WSClose: int(websocket.StatusTryAgainLater), WSCloseReason: "rotating", Times: 1})
	conn := dial(t, h.listen(), "sess-f3")
	events := play(t, conn, turn("gpt-5.5", "hi"))
	require.Equal(t, "response.completed", lastType(events))
	assert.Equal(t, "last words", text(events))
	_, ce := closedWith(t, conn)
	assert.Equal(t, websocket.StatusTryAgainLater, ce.Code)
	assert.Equal(t, "rotating", ce.Reason)
}

// The HTTP bridge reports an upstream failure as an error event too.
func TestWebSocketBridgedTurnReportsTheUpstreamFailure(t *testing.T) {
	c := &auth.Credential{Name: "compat", Provider: auth.OpenAICompatible, APIKey: "sk-compat", BaseURL: &url.URL{Path: "/v1"}}
	h := newHarness(t, withTransports, c)
	h.mock.SetFault("*", mockupstream.Fault{Status: http.StatusServiceUnavailable})
	conn := dial(t, h.listen(), "sess-f4")
	events := play(t, conn, turn("some-model", "hi"))
	last := events[len(events)-1]
	assert.Contains(t, []string{"error", "response.failed"}, lastType(events), last)
	assert.NotContains(t, last, "sk-compat")
	assert.NotEmpty(t, gjson.Get(last, "error.message").String()+gjson.Get(last, "response.error.message").String(), last)
}
