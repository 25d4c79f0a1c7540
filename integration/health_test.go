package integration

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

const threeClaude = `
		client_key ` + clientKey + `
		credential c1 {
			provider claude
			api_key key-c1
			base_url MOCK
		}
		credential c2 {
			provider claude
			api_key key-c2
			base_url MOCK
		}
		credential c3 {
			provider claude
			api_key key-c3
			base_url MOCK
		}`

func claudeReq(model string) string {
	return `{"model":"` + model + `","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`
}

// A 429 storm: every credential answers 429 with a 2 s hint. The client gets
// 429 with a Retry-After that matches, and the gateway serves again once the
// window has passed, without a reload.
func TestRateLimitStormAndRecovery(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: threeClaude})
	// the credentials come back at different times: the client is told the
	// nearest, already on the request that found them all out
	g.mock.SetFault("key-c1", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "9"})
	g.mock.SetFault("key-c2", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "2"})
	g.mock.SetFault("key-c3", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "5"})
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeReq("claude-sonnet-4-5"))
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, body)
	assert.Equal(t, "model_cooldown", gjson.Get(body, "error.code").String(), body)
	retry, err := strconv.Atoi(res.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After must always be sent")
	assert.InDelta(t, 2, retry, 1)
	assert.Len(t, g.mock.Requests(), 3, "all three credentials should have been tried")

	for range 5 {
		res, body = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeReq("claude-sonnet-4-5"))
		require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
		assert.Equal(t, "model_cooldown", gjson.Get(body, "error.code").String(), body)
		assert.Contains(t, gjson.Get(body, "error.message").String(), "claude-sonnet-4-5")
		assert.Contains(t, gjson.Get(body, "error.message").String(), "claude")
		retry, err := strconv.Atoi(res.Header.Get("Retry-After"))
		require.NoError(t, err, "Retry-After must always be sent")
		assert.InDelta(t, 2, retry, 1)
	}
	assert.Len(t, g.mock.Requests(), 3, "cooling credentials were called")

	g.mock.ClearFaults()
	time.Sleep(2100 * time.Millisecond)
	res, body = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeReq("claude-sonnet-4-5"))
	assert.Equal(t, http.StatusOK, res.StatusCode, body)
}

// A cooling model leaves the credential's other models usable.
func TestModelCooldownIsPerModel(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: `
		client_key ` + clientKey + `
		credential only {
			provider claude
			api_key key-only
			base_url MOCK
		}`})
	g.mock.SetFault("key-only", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "600", Times: 1})
	res, _ := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeReq("claude-opus-4-1"))
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeReq("claude-opus-4-1"))
	assert.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	assert.Equal(t, "model_cooldown", gjson.Get(body, "error.code").String())
	res, body = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeReq("claude-haiku-4-5"))
	assert.Equal(t, http.StatusOK, res.StatusCode, "another model of the cooling credential was blocked: %s", body)
}

// An Anthropic unified (subscription) rejection blocks the whole credential:
// every model moves to the other one.
func TestAnthropicUnifiedRejectBlocksWholeCredential(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: `
		client_key ` + clientKey + `
		strategy fill-first
		credential a {
			provider claude
			api_key key-a
			base_url MOCK
		}
		credential b {
			provider claude
			api_key key-b
			base_url MOCK
		}`})
	reset := strconv.FormatInt(time.Now().Add(3*time.Hour).Unix(), 10)
	g.mock.SetFault("key-a", mockupstream.Fault{Status: http.StatusTooManyRequests, Times: 1, Headers: map[string]string{
		"anthropic-ratelimit-unified-status":    "rejected",
		"anthropic-ratelimit-unified-5h-status": "rejected",
		"anthropic-ratelimit-unified-5h-reset":  reset,
		"anthropic-ratelimit-unified-7d-status": "allowed",
	}})
	res, _ := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeReq("claude-opus-4-1"))
	require.Equal(t, http.StatusOK, res.StatusCode)
	g.mock.Reset()
	for _, model := range []string{"claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5"} {
		res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeReq(model))
		require.Equal(t, http.StatusOK, res.StatusCode, body)
	}
	for _, r := range g.mock.Requests() {
		assert.Equal(t, "key-b", r.Key, "model %s was sent to the rejected credential", r.Model)
	}
}

// A stream that opens with an overloaded error is answered by another
// credential, and the client sees one clean stream.
func TestStreamOpeningWithErrorFailsOver(t *testing.T) {
	cases := []struct {
		name, path string
		header     http.Header
		body       string
		errType    string
		done       string
	}{
		{"anthropic overloaded", "/v1/messages", anthropicHeader(), claudeBody, "overloaded_error", "message_stop"},
		{"responses failed", "/v1/responses", bearer(), `{"model":"gpt-5","stream":true,"input":"hi"}`, "rate_limit_exceeded", "response.completed"},
		{"chat error chunk", "/v1/chat/completions", bearer(), `{"model":"gpt-5","stream":true,"messages":[]}`, "server_error", "[DONE]"},
		{"gemini error json", "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", geminiHeader(), `{"contents":[]}`, "RESOURCE_EXHAUSTED", `"finishReason":"STOP"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, gatewayOptions{Handler: poolConfig + `
		credential openai-b {
			provider openai
			api_key sk-openai-b
			base_url MOCK/v1
		}`})
			first := map[string]string{"/v1/messages": claudeKeyA, "/v1/responses": openAIKey, "/v1/chat/completions": openAIKey}[tc.path]
			if first == "" {
				first = geminiKeyA
			}
			g.mock.SetFault(first, mockupstream.Fault{StreamError: tc.errType})
			res, body := g.do(http.MethodPost, tc.path, tc.header, tc.body)
			require.Equal(t, http.StatusOK, res.StatusCode, body)
			assert.NotContains(t, body, "mock stream error", "the error event reached the client")
			assert.NotContains(t, body, tc.errType)
			assert.Contains(t, body, tc.done, "the stream is not complete")
			reqs := g.mock.Requests()
			require.Len(t, reqs, 2)
			assert.Equal(t, first, reqs[0].Key)
			assert.NotEqual(t, first, reqs[1].Key)
		})
	}
}

// A stream that opens with the client's own error is not failed over.
func TestStreamOpeningWithClientErrorIsPassedOn(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	g.mock.SetFault("*", mockupstream.Fault{StreamError: "invalid_request_error"})
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, body, "invalid_request_error")
	assert.Len(t, g.mock.Requests(), 1)
}

// A 400 reaches the client exactly as the upstream sent it, after exactly
// one upstream attempt.
func TestClientErrorUntouched(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: threeClaude})
	upstreamBody := `{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 250000 tokens > 200000 maximum"}}`
	g.mock.SetFault("*", mockupstream.Fault{Status: http.StatusBadRequest, Body: upstreamBody, Headers: map[string]string{"X-Upstream-Note": "kept"}})
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeReq("claude-sonnet-4-5"))
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.Equal(t, upstreamBody, body)
	assert.Equal(t, "kept", res.Header.Get("X-Upstream-Note"))
	assert.Len(t, g.mock.Requests(), 1)
}

// A 404 that says the model does not exist for a credential fails over;
// a 404 of anything else is the client's.
func TestModelNotFoundFailsOver(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: threeClaude + "\n strategy fill-first\n"})
	g.mock.SetFault("key-c1", mockupstream.Fault{Status: http.StatusNotFound, Body: `{"type":"error","error":{"type":"not_found_error","message":"model: claude-opus-9"}}`})
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeReq("claude-opus-9"))
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Len(t, g.mock.Requests(), 2)

	g.mock.Reset()
	g.mock.SetFault("*", mockupstream.Fault{Status: http.StatusNotFound, Body: `{"error":{"message":"No file found with id 'file-1'","type":"invalid_request_error"}}`})
	res, body = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeReq("claude-sonnet-4-5"))
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.Contains(t, body, "file-1")
	assert.Len(t, g.mock.Requests(), 1)
}

// With max_retry_interval, a request waits for a recovery that is near
// instead of answering 429.
func TestMaxRetryIntervalWaitsForRecovery(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: `
		client_key ` + clientKey + `
		max_retry_interval 3s
		credential only {
			provider claude
			api_key key-only
			base_url MOCK
		}`})
	g.mock.SetFault("key-only", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1", Times: 1})
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeReq("claude-sonnet-4-5"))
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, "one credential, one attempt: %s", body)
	start := time.Now()
	res, body = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeReq("claude-sonnet-4-5"))
	assert.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.GreaterOrEqual(t, time.Since(start), 500*time.Millisecond, "it did not wait")
	assert.True(t, strings.Contains(body, "Hello"), body)
}

// When the credentials are out for reasons other than a quota (here a
// revoked key), the client is told 503 auth_unavailable, not a cooldown.
func TestAuthUnavailableWhenBlockedForOtherReasons(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: threeClaude})
	g.mock.SetFault("*", mockupstream.Fault{Status: http.StatusUnauthorized})
	// an upstream 401 passed on would tell the member their own key is bad
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeReq("claude-sonnet-4-5"))
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, body)
	assert.Equal(t, "auth_unavailable", gjson.Get(body, "error.code").String(), body)
	res, body = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeReq("claude-sonnet-4-5"))
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode, body)
	assert.Equal(t, "auth_unavailable", gjson.Get(body, "error.code").String(), body)
	assert.Equal(t, "error", gjson.Get(body, "type").String(), "not in Anthropic's shape: %s", body)
	assert.Len(t, g.mock.Requests(), 3)
}

// A cooldown outlives a config reload: the pool state is kept by pool
// name, so a credential told to wait an hour is not called again after the
// same config is loaded anew, although its upstream would now answer.
func TestCooldownSurvivesConfigReload(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: threeClaude})
	g.mock.SetFault("key-c1", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "3600", Times: 1})
	// round robin reaches c1 within three requests; its 429 fails over
	for range 3 {
		res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeReq("claude-sonnet-4-5"))
		require.Equal(t, http.StatusOK, res.StatusCode, body)
	}
	require.Len(t, g.mock.RequestsFor("key-c1"), 1, "c1 should have been tried once and cooled")

	g.reload(gatewayOptions{Handler: threeClaude})
	for range 6 {
		res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeReq("claude-sonnet-4-5"))
		require.Equal(t, http.StatusOK, res.StatusCode, body)
	}
	assert.Len(t, g.mock.RequestsFor("key-c1"), 1, "the cooling credential was called after the reload")
	assert.NotEmpty(t, g.mock.RequestsFor("key-c2"))
	assert.NotEmpty(t, g.mock.RequestsFor("key-c3"))
}
