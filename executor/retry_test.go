package executor_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

func keysSeen(h *harness) []string { return keysOf(h.mock.Requests()) }

// request_retry sends a transient failure to the same credential again
// before the next one is tried, and the credential does not cool when a
// retry succeeds.
func TestServeRequestRetryStaysOnTheCredential(t *testing.T) {
	a := claude("a")
	a.RequestRetry = 2
	h := newHarness(t, nil, a, claude("b"))
	h.mock.SetFault("key-a", mockupstream.Fault{Status: http.StatusServiceUnavailable, Times: 2})
	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.Equal(t, []string{"key-a", "key-a", "key-a"}, keysSeen(h), "the retries left the credential")
	assert.Equal(t, 3, h.rec.last(t).Attempts)
	assert.Equal(t, "a", h.rec.last(t).Credential)
	ok, _ := h.pool.Available(h.pool.Get("a"), "claude-sonnet-4-5")
	assert.True(t, ok, "a credential whose retry succeeded cooled")
}

// Past its retries the request moves on, and the credential cools as
// after any transient failure; without request_retry it moves on at once.
func TestServeRequestRetryThenFailsOver(t *testing.T) {
	a := claude("a")
	a.RequestRetry = 1
	h := newHarness(t, nil, a, claude("b"))
	h.mock.SetFault("key-a", mockupstream.Fault{Status: http.StatusBadGateway})
	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.Equal(t, []string{"key-a", "key-a", "key-b"}, keysSeen(h))
	blocked, _ := h.pool.BlockedBy(h.pool.Get("a"), "claude-sonnet-4-5")
	assert.Equal(t, auth.BlockOther, blocked)

	h = newHarness(t, nil, claude("a"), claude("b"))
	h.mock.SetFault("key-a", mockupstream.Fault{Status: http.StatusBadGateway})
	res = h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.Equal(t, []string{"key-a", "key-b"}, keysSeen(h), "a credential without request_retry was retried")
}

// A rate limit is no transient failure: the same credential would say it
// again.
func TestServeRequestRetryNotOnRateLimit(t *testing.T) {
	a := claude("a")
	a.RequestRetry = 3
	h := newHarness(t, nil, a, claude("b"))
	h.mock.SetFault("key-a", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "30"})
	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.Equal(t, []string{"key-a", "key-b"}, keysSeen(h))
}

// A WebSocket turn that a credential with request_retry refuses
// transiently (overloaded, or a dropped connection) is replayed on a new
// connection of that credential first; a rate limit moves on at once.
func TestWebSocketTurnRequestRetry(t *testing.T) {
	for name, fault := range map[string]mockupstream.Fault{
		"overloaded": {WSError: "server_is_overloaded", Times: 1},
		"dropped":    {WSDrop: true, Times: 1},
	} {
		t.Run(name, func(t *testing.T) {
			a := openai("a")
			a.RequestRetry = 1
			a.Priority = 1
			h := newHarness(t, withTransports, a, openai("b"))
			h.mock.SetFault("sk-a", fault)
			conn := dial(t, h.listen(), "sess-retry-"+name)
			assert.Equal(t, "response.completed", lastType(play(t, conn, turn("gpt-5.5", "hi"))))
			assert.Equal(t, []string{"sk-a", "sk-a"}, keysOf(wsRecords(h.mock, "WS")))
			ok, _ := h.pool.Available(h.pool.Get("a"), "gpt-5.5")
			assert.True(t, ok, "a credential whose retry succeeded cooled")
			assert.Equal(t, 2, h.rec.waitRequests(t, 1).Attempts)
		})
	}

	a := openai("a")
	a.RequestRetry = 2
	a.Priority = 1
	h := newHarness(t, withTransports, a, openai("b"))
	h.mock.SetFault("sk-a", mockupstream.Fault{WSError: "rate_limit_exceeded"})
	conn := dial(t, h.listen(), "sess-retry-limited")
	assert.Equal(t, "response.completed", lastType(play(t, conn, turn("gpt-5.5", "hi"))))
	assert.Equal(t, []string{"sk-a", "sk-b"}, keysOf(wsRecords(h.mock, "WS")))
}

func keysOf(recs []mockupstream.Recorded) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Key
	}
	return out
}
