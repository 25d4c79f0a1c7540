package executor_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// When every credential is blocked for a reason other than its quota
// (refused keys), the client is told the gateway cannot serve it now
// (503 auth_unavailable) and when to try again, and no upstream is asked.
func TestEveryCredentialBlockedIsUnavailable(t *testing.T) {
	h := newHarness(t, withTransports, claude("a"), claude("b"))
	now := time.Unix(1_900_000_000, 0)
	h.pool.Now = func() time.Time { return now }
	h.pool.RecordFailure(h.pool.Get("a"), "claude-sonnet-4-5", auth.Outcome{Status: http.StatusForbidden})
	h.pool.RecordFailure(h.pool.Get("b"), "claude-sonnet-4-5", auth.Outcome{Status: http.StatusPaymentRequired})

	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.Equal(t, http.StatusServiceUnavailable, res.Code, res.Body.String())
	body := res.Body.String()
	assert.Equal(t, "auth_unavailable", gjson.Get(body, "error.code").String(), body)
	assert.Contains(t, gjson.Get(body, "error.message").String(), `"claude-sonnet-4-5"`)
	retry, err := strconv.Atoi(res.Header().Get("Retry-After"))
	require.NoError(t, err, "a 503 with a known end of the blocks says when")
	assert.InDelta(t, (30 * time.Minute).Seconds(), retry, 1)
	assert.Empty(t, h.mock.Requests())
	assert.NotContains(t, body, "key-a")
	assert.NotContains(t, body, "key-b")
}

// A credential cooling and one blocked: the answer is 429 model_cooldown
// (the client may retry), at the nearest recovery of either.
func TestCoolingAndBlockedIsACooldown(t *testing.T) {
	h := newHarness(t, withTransports, claude("a"), claude("b"))
	now := time.Unix(1_900_000_000, 0)
	h.pool.Now = func() time.Time { return now }
	h.pool.RecordFailure(h.pool.Get("a"), "claude-sonnet-4-5", auth.Outcome{Status: http.StatusTooManyRequests, Hint: auth.Hint{RetryAfter: 2 * time.Hour}})
	h.pool.RecordFailure(h.pool.Get("b"), "claude-sonnet-4-5", auth.Outcome{Status: http.StatusForbidden})

	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.Equal(t, http.StatusTooManyRequests, res.Code, res.Body.String())
	body := res.Body.String()
	assert.Equal(t, "rate_limit_error", gjson.Get(body, "error.type").String(), body)
	retry, err := strconv.Atoi(res.Header().Get("Retry-After"))
	require.NoError(t, err)
	assert.InDelta(t, (30 * time.Minute).Seconds(), retry, 1, "the blocked credential is back before the cooling one")
	assert.Empty(t, h.mock.Requests())

	// another model is served: the blocks are the model's
	res = h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), `{"model":"claude-opus-4-1","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`)
	assert.Equal(t, http.StatusOK, res.Code, res.Body.String())
}
