package executor

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/tidwall/gjson"
)

func TestFailsOverAndTerminal(t *testing.T) {
	for status, want := range map[int]bool{
		200: false, 400: false, 404: false, 409: false, 413: false, 422: false,
		401: true, 402: true, 403: true, 408: true, 429: true, 500: true, 502: true, 503: true, 529: true,
	} {
		assert.Equal(t, want, failsOver(status), status)
	}
	for status, want := range map[int]bool{401: true, 402: true, 403: true, 429: false, 500: false, 529: false} {
		assert.Equal(t, want, terminal(status), status)
	}
}

func TestFirstEvent(t *testing.T) {
	ev, ok := firstEvent([]byte("event: error\ndata: {}\n\nevent: more\n"))
	assert.True(t, ok)
	assert.Equal(t, "event: error\ndata: {}", string(ev))
	ev, ok = firstEvent([]byte("data: {}\r\n\r\ndata: x"))
	assert.True(t, ok)
	assert.Equal(t, "data: {}\r", string(ev))
	ev, ok = firstEvent([]byte("data: {\"partial\""))
	assert.False(t, ok, "an event not yet ended")
	assert.Equal(t, `data: {"partial"`, string(ev))
}

// The first event of a stream that opened 200 tells whether the upstream
// failed after all, in each provider's streaming error shape.
func TestStreamErrorStatus(t *testing.T) {
	cases := map[string]int{
		// Anthropic
		"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}": 529,
		"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\"}}":                            http.StatusTooManyRequests,
		"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\"}}":                                   http.StatusInternalServerError,
		"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"authentication_error\"}}":                        http.StatusUnauthorized,
		"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"permission_error\"}}":                            http.StatusForbidden,
		"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\"}}":                       http.StatusBadRequest,
		// OpenAI chat: an error object in a data line
		"data: {\"error\":{\"type\":\"insufficient_quota\",\"code\":\"insufficient_quota\"}}": http.StatusTooManyRequests,
		"data: {\"error\":{\"message\":\"x\",\"code\":503}}":                                  http.StatusServiceUnavailable,
		// OpenAI Responses
		"event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":\"server_error\"}}}": http.StatusInternalServerError,
		"data: {\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":\"rate_limit_exceeded\"}}}":                  http.StatusTooManyRequests,
		"event: error\ndata: {\"type\":\"error\",\"code\":\"context_length_exceeded\"}":                                     http.StatusBadRequest,
		// Gemini
		"data: {\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\"}}":  http.StatusTooManyRequests,
		"data: {\"error\":{\"status\":\"UNAVAILABLE\"}}":                      http.StatusServiceUnavailable,
		"data: {\"error\":{\"status\":\"UNAUTHENTICATED\"}}":                  http.StatusUnauthorized,
		"data: {\"error\":{\"status\":\"INVALID_ARGUMENT\"}}":                 http.StatusBadRequest,
		"data: {\"error\":{\"status\":\"DEADLINE_EXCEEDED\",\"code\":\"x\"}}": 0,
		// not errors
		"event: message_start\ndata: {\"type\":\"message_start\"}":                        0,
		"data: {\"choices\":[]}":                                                          0,
		"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"something_new\"}}": 0,
	}
	for ev, want := range cases {
		assert.Equal(t, want, streamErrorStatus([]byte(ev)), ev)
	}
}

func TestErrorStatusPrefersANumericCode(t *testing.T) {
	assert.Equal(t, 402, errorStatus(gjson.Parse(`{"code":402,"type":"rate_limit_error"}`)))
	assert.Equal(t, http.StatusTooManyRequests, errorStatus(gjson.Parse(`{"code":200,"type":"rate_limit_error"}`)), "a code outside 4xx-5xx is not a status")
	assert.Equal(t, http.StatusInternalServerError, errorStatus(gjson.Parse(`{"code":"internal"}`)))
	assert.Equal(t, http.StatusInternalServerError, errorStatus(gjson.Parse(`{"type":"timeout"}`)))
	assert.Equal(t, http.StatusBadRequest, errorStatus(gjson.Parse(`{"type":"not_found_error"}`)))
	assert.Zero(t, errorStatus(gjson.Parse(`{}`)))
}

func TestModelNotFound(t *testing.T) {
	for body, want := range map[string]bool{
		`{"type":"error","error":{"type":"not_found_error","message":"model: claude-typo"}}`:                          true,
		`{"error":{"code":"model_not_found","message":"The model gpt-9 does not exist"}}`:                             true,
		`{"error":{"message":"The model 'x' does not exist or you do not have access to it."}}`:                       true,
		`{"error":{"code":404,"message":"models/gemini-9 is not found for API version v1beta","status":"NOT_FOUND"}}`: true,
		`{"error":{"type":"not_found_error","message":"file not found"}}`:                                             false,
		`{"error":{"message":"Previous response with id 'resp_1' not found."}}`:                                       false,
		`not json`: false,
		``:         false,
	} {
		assert.Equal(t, want, modelNotFound([]byte(body)), body)
	}
}
