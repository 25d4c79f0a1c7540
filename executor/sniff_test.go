package executor

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEventStreamIsHeldUntilItsFirstEvent(t *testing.T) {
	spy := newSpy()
	aw := newAttemptWriter(spy, true)
	aw.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	aw.WriteHeader(http.StatusOK)
	_, err := aw.Write([]byte("event: message_start\ndata: {\"type\":\"mess"))
	require.NoError(t, err)
	assert.True(t, spy.untouched(), "part of a first event reached the client")
	_, err = aw.Write([]byte("age_start\"}\n\nevent: ping\n"))
	require.NoError(t, err)
	assert.True(t, aw.committed)
	assert.Equal(t, http.StatusOK, spy.Code)
	assert.Equal(t, "event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: ping\n", spy.Body.String())
	assert.Positive(t, spy.flushes, "the first event must be flushed at once")
	_, err = aw.Write([]byte("data: {}\n\n"))
	require.NoError(t, err)
	assert.Contains(t, spy.Body.String(), "data: {}\n\n")
}

func TestEventStreamOpeningWithErrorIsHeld(t *testing.T) {
	cases := []struct {
		name, stream string
		status       int
	}{
		{"anthropic overloaded", "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n", 529},
		{"anthropic rate limit", "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"x\"}}\n\n", 429},
		{"responses failed", "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":\"server_error\"}}}\n\n", 500},
		{"responses error event", "event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"x\"}\n\n", 429},
		{"chat error chunk", "data: {\"error\":{\"message\":\"x\",\"type\":\"insufficient_quota\"}}\n\n", 429},
		{"gemini error", "data: {\"error\":{\"code\":503,\"message\":\"x\",\"status\":\"UNAVAILABLE\"}}\r\n\r\n", 503},
		{"gemini refused key", "data: {\"error\":{\"code\":400,\"message\":\"API key not valid.\",\"status\":\"INVALID_ARGUMENT\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"API_KEY_INVALID\"}]}}\r\n\r\n", 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spy := newSpy()
			aw := newAttemptWriter(spy, true)
			aw.Header().Set("Content-Type", "text/event-stream")
			aw.WriteHeader(http.StatusOK)
			_, err := aw.Write([]byte(tc.stream))
			require.NoError(t, err)
			assert.True(t, aw.held)
			assert.Equal(t, tc.status, aw.failStatus)
			assert.True(t, spy.untouched())
			// when nobody else can answer, the client gets the stream as sent
			require.NoError(t, aw.release())
			assert.Equal(t, http.StatusOK, spy.Code)
			assert.Equal(t, tc.stream, spy.Body.String())
		})
	}
}

func TestEventStreamOpeningWithClientErrorIsCommitted(t *testing.T) {
	spy := newSpy()
	aw := newAttemptWriter(spy, true)
	aw.Header().Set("Content-Type", "text/event-stream")
	aw.WriteHeader(http.StatusOK)
	stream := "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"prompt is too long\"}}\n\n"
	_, err := aw.Write([]byte(stream))
	require.NoError(t, err)
	assert.False(t, aw.held)
	assert.True(t, aw.committed)
	assert.Equal(t, stream, spy.Body.String())
}

func TestEventStreamEndingBeforeFirstEventIsCommittedByFinish(t *testing.T) {
	spy := newSpy()
	aw := newAttemptWriter(spy, true)
	aw.Header().Set("Content-Type", "text/event-stream")
	aw.WriteHeader(http.StatusOK)
	_, _ = aw.Write([]byte("data: partial"))
	assert.True(t, spy.untouched())
	require.NoError(t, aw.finish())
	assert.True(t, aw.committed)
	assert.Equal(t, "data: partial", spy.Body.String())
	require.NoError(t, aw.finish(), "finish twice")
}

func TestNotFoundIsHeldAndModelNotFoundRecognised(t *testing.T) {
	aw := newAttemptWriter(newSpy(), true)
	aw.WriteHeader(http.StatusNotFound)
	assert.True(t, aw.held)
	cases := map[string]bool{
		`{"type":"error","error":{"type":"not_found_error","message":"model: claude-opus-9"}}`:                             true,
		`{"error":{"message":"The model 'gpt-9' does not exist","type":"invalid_request_error","code":"model_not_found"}}`: true,
		`{"error":{"code":404,"message":"models/gemini-9 is not found for API version v1beta","status":"NOT_FOUND"}}`:      true,
		`{"error":{"message":"No file found with id 'file-1'","type":"invalid_request_error"}}`:                            false,
		`{"type":"error","error":{"type":"not_found_error","message":"batch not found"}}`:                                  false,
		`not json`: false,
	}
	for body, want := range cases {
		assert.Equal(t, want, modelNotFound([]byte(body)), body)
	}
}
