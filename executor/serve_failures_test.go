package executor_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/executor"
	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// How long each kind of upstream failure keeps a credential out, for the
// model asked (DESIGN §7), seen through Serve.
func TestServeCoolsEachFailureForItsTime(t *testing.T) {
	cases := []struct {
		name  string
		fault mockupstream.Fault
		block time.Duration
	}{
		{"server error: transient", mockupstream.Fault{Status: http.StatusInternalServerError}, time.Minute},
		{"overloaded: transient", mockupstream.Fault{Status: 529}, time.Minute},
		{"unauthorized: blocked", mockupstream.Fault{Status: http.StatusUnauthorized}, 30 * time.Minute},
		{"forbidden: blocked", mockupstream.Fault{Status: http.StatusForbidden}, 30 * time.Minute},
		{"payment required: blocked", mockupstream.Fault{Status: http.StatusPaymentRequired}, 30 * time.Minute},
		{"rate limited with a date", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "600"}, 10 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, claude("a"), claude("b"))
			h.mock.SetFault("key-a", tc.fault)
			res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
			require.Equal(t, http.StatusOK, res.Code, "b serves instead: %s", res.Body.String())
			assert.Equal(t, "b", h.rec.last(t).Credential)
			ok, until := h.pool.Available(h.pool.Get("a"), "claude-sonnet-4-5")
			assert.False(t, ok)
			assert.WithinDuration(t, time.Now().Add(tc.block), until, 5*time.Second)
			require.Len(t, h.rec.failures, 1)
			assert.Equal(t, tc.fault.Status, h.rec.failures[0].Status)
		})
	}
}

// A stream that opens 200 with an error event is a failure like the
// status it stands for: the next credential serves, and the client never
// sees the failed stream.
func TestServeFailsOverAStreamThatOpensWithAnError(t *testing.T) {
	h := newHarness(t, nil, claude("a"), claude("b"))
	h.mock.SetFault("key-a", mockupstream.Fault{StreamError: "overloaded_error"})
	body := `{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), body)
	require.Equal(t, http.StatusOK, res.Code)
	assert.NotContains(t, res.Body.String(), "overloaded_error")
	assert.Contains(t, res.Body.String(), "message_stop")
	assert.Equal(t, "b", h.rec.last(t).Credential)
	require.Len(t, h.rec.failures, 1)
	assert.Equal(t, "event stream opened with an error", h.rec.failures[0].Message)
	ok, _ := h.pool.Available(h.pool.Get("a"), "claude-sonnet-4-5")
	assert.False(t, ok, "the overloaded credential rests")
}

// A stream that breaks after the client got part of it cannot fail over:
// the client sees it end badly, and the request is one that failed.
func TestServeDoesNotFailOverAStreamTheClientHasSeen(t *testing.T) {
	h := newHarness(t, nil, claude("a"), claude("b"))
	h.mock.SetFault("key-a", mockupstream.Fault{ResetAfter: 2})
	body := `{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), body)
	assert.Equal(t, http.StatusOK, res.Code, "the status was sent before the break")
	assert.True(t, res.aborted, "the client's response is cut off, not ended cleanly")
	assert.NotContains(t, res.Body.String(), "message_stop", "the stream did not complete")
	assert.Len(t, h.mock.Requests(), 1, "no second credential was asked")
	assert.Equal(t, "a", h.rec.last(t).Credential)
}

// When every credential is cooling but one recovers within
// MaxRetryInterval, the request waits for it instead of failing.
func TestServeWaitsForTheNearestRecovery(t *testing.T) {
	h := newHarness(t, func(o *executor.Options) { o.MaxRetryInterval = 5 * time.Second }, claude("a"), claude("b"))
	h.mock.SetFault("*", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1", Times: 2})
	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.Equal(t, http.StatusTooManyRequests, res.Code, "a request does not wait for a credential it tried")

	start := time.Now()
	res = h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.GreaterOrEqual(t, time.Since(start), 500*time.Millisecond, "it waited for the nearest recovery")
	assert.Equal(t, 1, h.rec.last(t).Attempts)
}

// Without MaxRetryInterval the same request is answered 429 at once, with
// the time to come back.
func TestServeAnswersAtOnceWithoutARetryInterval(t *testing.T) {
	h := newHarness(t, nil, claude("a"))
	h.mock.SetFault("key-a", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "20", Times: 1})
	start := time.Now()
	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	assert.Equal(t, http.StatusTooManyRequests, res.Code)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.NotEmpty(t, res.Header().Get("Retry-After"))
}

// A model the upstream does not know is blocked on that credential for
// that model only, and the client gets the upstream's answer.
func TestServeBlocksAnUnknownModelOnly(t *testing.T) {
	h := newHarness(t, nil, claude("a"))
	h.mock.SetFault("key-a", mockupstream.Fault{
		Status: http.StatusNotFound, Times: 1,
		Body: `{"type":"error","error":{"type":"not_found_error","message":"model: claude-typo"}}`,
	})
	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), `{"model":"claude-typo","max_tokens":8,"messages":[]}`)
	assert.Equal(t, http.StatusNotFound, res.Code)
	assert.Equal(t, "not_found_error", gjson.Get(res.Body.String(), "error.type").String())
	ok, until := h.pool.Available(h.pool.Get("a"), "claude-typo")
	assert.False(t, ok)
	assert.WithinDuration(t, time.Now().Add(12*time.Hour), until, time.Minute)
	ok, _ = h.pool.Available(h.pool.Get("a"), "claude-sonnet-4-5")
	assert.True(t, ok, "other models are served on")
	res = h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	assert.Equal(t, http.StatusOK, res.Code)
}

// A client that went away before the answer is nobody's fault.
func TestServeBlamesNobodyWhenTheClientLeaves(t *testing.T) {
	h := newHarness(t, nil, claude("a"), claude("b"))
	h.mock.SetFault("*", mockupstream.Fault{FirstByteDelay: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	r := newRequest(ctx, http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	res := h.serveRequest(r)
	assert.Empty(t, res.Body.String(), "nobody to answer")
	assert.Zero(t, h.rec.last(t).Status, "the request went unanswered")
	assert.Empty(t, h.rec.failures, "and is nobody's failure")
	for _, name := range []string{"a", "b"} {
		ok, _ := h.pool.Available(h.pool.Get(name), "claude-sonnet-4-5")
		assert.True(t, ok, "%s is not cooled for the client's leaving", name)
	}
	assert.LessOrEqual(t, len(h.mock.Requests()), 1, "no failover for a client that left")
}

func TestServeOtherAnthropicRoutes(t *testing.T) {
	h := newHarness(t, withTransports, claude("a"))
	res := h.serve(http.MethodPost, "/v1/messages/count_tokens", anthropicHeader(), `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hello there"}]}`)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.Positive(t, gjson.Get(res.Body.String(), "input_tokens").Int())

	res = h.serve(http.MethodGet, "/v1/models", anthropicHeader(), "")
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.True(t, gjson.Get(res.Body.String(), "data").IsArray())
	reqs := h.mock.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "/v1/models", reqs[1].Path, "the listing is built from the upstream's own")
	assert.Equal(t, "key-a", reqs[1].Header.Get("X-Api-Key"))
}

func TestServeDecodesACompressedBodyForInspectionOnly(t *testing.T) {
	h := newHarness(t, nil, claude("a"))
	header := anthropicHeader()
	header.Set("Content-Encoding", "gzip")
	zipped := gzipString(t, messages)
	res := h.serve(http.MethodPost, "/v1/messages", header, zipped)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.Equal(t, "claude-sonnet-4-5", h.rec.last(t).Model, "the model was read from the decoded body")
	reqs := h.mock.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, zipped, string(reqs[0].Body), "the original bytes went upstream")

	header.Set("Content-Encoding", "deflate")
	res = h.serve(http.MethodPost, "/v1/messages", header, messages)
	assert.Equal(t, http.StatusUnsupportedMediaType, res.Code)
	assert.True(t, strings.Contains(res.Body.String(), "gzip"), res.Body.String())
}

func gzipString(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, err := zw.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return b.String()
}
