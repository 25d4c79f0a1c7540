package executor_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
	"github.com/caddy-cliproxy/cliproxy/outcome"
)

// waitRequests waits for the recorder to hear of n requests and returns the
// last: a turn is reported after its last event went to the client.
func (r *recorder) waitRequests(t *testing.T, n int) outcome.Request {
	t.Helper()
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.requests) >= n
	}, 5*time.Second, 5*time.Millisecond)
	return r.last(t)
}

// A WebSocket turn the capturer wants gets a record like an HTTP request:
// its message as the request body, its attempts (a refusal with its
// event), the error event that ended it, and the secrets to scrub.
func TestWebSocketTurnRecordForTheRequestLog(t *testing.T) {
	h := newHarness(t, withTransports, openai("a"), openai("b"))
	h.rec.wants = func(int) bool { return true }
	h.mock.SetFault("sk-a", mockupstream.Fault{WSError: "server_is_overloaded", Times: 1})
	conn := dial(t, h.listen(), "sess-log")
	msg := turn("gpt-5.5", "hi")
	assert.Equal(t, "response.completed", lastType(play(t, conn, msg)))

	req := h.rec.waitRequests(t, 1)
	require.NotNil(t, req.Log, "the turn has no record")
	rec := req.Log
	assert.Equal(t, 1, rec.Turn)
	assert.Equal(t, http.MethodGet, rec.Method)
	assert.Equal(t, "/v1/responses", rec.Path)
	assert.Equal(t, msg, string(rec.RequestBody))
	assert.Equal(t, http.StatusOK, rec.Status)
	require.Len(t, rec.Attempts, 2)
	assert.Equal(t, "a", rec.Attempts[0].Credential)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Attempts[0].Status)
	assert.Contains(t, string(rec.Attempts[0].Body), "server_is_overloaded")
	assert.Equal(t, "b", rec.Attempts[1].Credential)
	assert.Subset(t, rec.Secrets, []string{"sk-a", "sk-b", "client-secret-of-alice"})
	assert.Empty(t, rec.ResponseBody)

	// the client's own fault: the event it got is the response body
	h.mock.SetFault("sk-b", mockupstream.Fault{WSError: "invalid_prompt", Times: 1})
	events := play(t, conn, turn("gpt-5.5", "bad"))
	req = h.rec.waitRequests(t, 2)
	require.NotNil(t, req.Log)
	assert.Equal(t, 2, req.Log.Turn)
	assert.Equal(t, http.StatusBadRequest, req.Log.Status)
	assert.Equal(t, events[len(events)-1], string(req.Log.ResponseBody))

	// a capturer that wants errors only gets no record of a success
	h.rec.wants = func(status int) bool { return status >= 400 }
	play(t, conn, turn("gpt-5.5", "fine"))
	assert.Nil(t, h.rec.waitRequests(t, 3).Log)
}

// A WebSocket turn for a prefixed credential goes upstream without the
// prefix.
func TestWebSocketTurnPrefixStripped(t *testing.T) {
	h := newHarness(t, withTransports, prefixed(openai("a"), "team-a"))
	conn := dial(t, h.listen(), "sess-prefix")
	assert.Equal(t, "response.completed", lastType(play(t, conn, turn("team-a/gpt-5.5", "hi"))))
	turns := wsRecords(h.mock, "WS")
	require.Len(t, turns, 1)
	assert.Equal(t, "gpt-5.5", turns[0].Model)
	assert.Equal(t, "team-a/gpt-5.5", h.rec.waitRequests(t, 1).Model)
}
