package executor

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// spyWriter is the client's response writer: a recorder that also counts
// what reached it.
type spyWriter struct {
	*httptest.ResponseRecorder
	writeHeaders int
	writes       int
	flushes      int
}

func newSpy() *spyWriter { return &spyWriter{ResponseRecorder: httptest.NewRecorder()} }

func (s *spyWriter) WriteHeader(code int) {
	s.writeHeaders++
	s.ResponseRecorder.WriteHeader(code)
}

func (s *spyWriter) Write(p []byte) (int, error) {
	s.writes++
	return s.ResponseRecorder.Write(p)
}

func (s *spyWriter) Flush() {
	s.flushes++
	s.ResponseRecorder.Flush()
}

// untouched reports whether nothing of a response reached the client.
func (s *spyWriter) untouched() bool {
	return s.writeHeaders == 0 && s.writes == 0 && s.flushes == 0 &&
		len(s.Header()) == 0 && s.Body.Len() == 0
}

func TestFailsOver(t *testing.T) {
	tests := []struct {
		status int
		want   bool
	}{
		{200, false},
		{201, false},
		{204, false},
		{301, false},
		{304, false},
		{400, false},
		{404, false},
		{405, false},
		{409, false},
		{413, false},
		{415, false},
		{422, false},
		{401, true},
		{402, true},
		{403, true},
		{408, true},
		{429, true},
		{500, true},
		{502, true},
		{503, true},
		{504, true},
		{529, true},
		{599, true},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			assert.Equal(t, tt.want, failsOver(tt.status))
		})
	}
}

// A failover status on an attempt that may still fail over is held back
// entirely; release sends it as it was.
func TestAttemptWriterHoldsFailover(t *testing.T) {
	for _, status := range []int{401, 402, 403, 408, 429, 500, 502, 503, 529} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			spy := newSpy()
			aw := newAttemptWriter(spy, true)
			aw.Header().Set("Content-Type", "application/json")
			aw.Header().Set("Retry-After", "7")
			aw.WriteHeader(status)
			n, err := aw.Write([]byte(`{"error":`))
			assert.NoError(t, err)
			assert.Equal(t, 9, n)
			_, err = aw.Write([]byte(`"quota"}`))
			assert.NoError(t, err)
			assert.NoError(t, aw.FlushError())

			assert.True(t, aw.held)
			assert.False(t, aw.committed)
			assert.True(t, spy.untouched(), "a held response reached the client: %d headers, %d writes, %d flushes, %v",
				spy.writeHeaders, spy.writes, spy.flushes, spy.Header())

			require.NoError(t, aw.release())
			assert.True(t, aw.committed)
			assert.Equal(t, 1, spy.writeHeaders)
			assert.Equal(t, status, spy.Code)
			assert.Equal(t, "application/json", spy.Header().Get("Content-Type"))
			assert.Equal(t, "7", spy.Header().Get("Retry-After"))
			assert.Equal(t, `{"error":"quota"}`, spy.Body.String())

			require.NoError(t, aw.release(), "a second release")
			assert.Equal(t, 1, spy.writeHeaders, "a second release wrote again")
			assert.Equal(t, `{"error":"quota"}`, spy.Body.String())
		})
	}
}

// Anything not held is committed with its first body byte: until then an
// upstream that answered and went silent can still fail over.
func TestAttemptWriterCommitsWithFirstByte(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		mayHold bool
	}{
		{"success that may hold", 200, true},
		{"created", 201, true},
		{"client fault 413", 413, true},
		{"client fault 422", 422, true},
		{"rate limit on the last attempt", 429, false},
		{"server error on the last attempt", 503, false},
		{"success on the last attempt", 200, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spy := newSpy()
			aw := newAttemptWriter(spy, tt.mayHold)
			aw.Header().Set("Content-Type", "application/x-ndjson")
			aw.Header().Set("X-Request-Id", "req_1")
			aw.WriteHeader(tt.status)
			require.NoError(t, aw.FlushError())
			assert.False(t, aw.held)
			assert.False(t, aw.committed)
			assert.True(t, spy.untouched(), "headers went out before a body byte")

			_, err := aw.Write([]byte("data: 1\n\n"))
			require.NoError(t, err)
			assert.True(t, aw.committed)
			assert.Equal(t, 1, spy.writeHeaders)
			assert.Equal(t, tt.status, spy.Code)
			assert.Equal(t, "application/x-ndjson", spy.Header().Get("Content-Type"))
			assert.Equal(t, "req_1", spy.Header().Get("X-Request-Id"))
			assert.Equal(t, "data: 1\n\n", spy.Body.String(), "body not passed through")
			require.NoError(t, aw.FlushError())
			assert.Equal(t, 1, spy.flushes, "flush did not reach the client")
			assert.True(t, spy.Flushed)

			require.NoError(t, aw.release(), "release of a committed response")
			assert.Equal(t, 1, spy.writeHeaders)
			assert.Equal(t, "data: 1\n\n", spy.Body.String())
		})
	}
}

func TestAttemptWriterImplicitOK(t *testing.T) {
	spy := newSpy()
	aw := newAttemptWriter(spy, true)
	_, err := aw.Write([]byte("hello"))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, aw.status)
	assert.Equal(t, 1, spy.writeHeaders)
	assert.Equal(t, http.StatusOK, spy.Code)
	assert.Equal(t, "hello", spy.Body.String())
}

// An answer that ends without a body byte is committed when it ends.
func TestAttemptWriterCommitsEmptyAnswerAtFinish(t *testing.T) {
	spy := newSpy()
	aw := newAttemptWriter(spy, true)
	aw.Header().Set("X-Request-Id", "req_2")
	aw.WriteHeader(http.StatusNoContent)
	assert.True(t, spy.untouched())
	require.NoError(t, aw.finish())
	assert.True(t, aw.committed)
	assert.Equal(t, http.StatusNoContent, spy.Code)
	assert.Equal(t, "req_2", spy.Header().Get("X-Request-Id"))
}

func TestAttemptWriterIgnoresSecondStatus(t *testing.T) {
	spy := newSpy()
	aw := newAttemptWriter(spy, true)
	aw.WriteHeader(200)
	aw.WriteHeader(500)
	_, _ = aw.Write([]byte("x"))
	assert.Equal(t, 200, spy.Code)
	assert.Equal(t, 1, spy.writeHeaders)
	assert.False(t, aw.held)
}

func TestAttemptWriterInformational(t *testing.T) {
	spy := newSpy()
	aw := newAttemptWriter(spy, true)
	aw.WriteHeader(http.StatusContinue)
	aw.WriteHeader(http.StatusEarlyHints)
	assert.Zero(t, spy.writeHeaders, "an informational status reached the client")
	aw.WriteHeader(http.StatusTooManyRequests)
	assert.True(t, aw.held, "the final status after an informational one was not held")
	assert.Zero(t, spy.writeHeaders)

	spy = newSpy()
	aw = newAttemptWriter(spy, true)
	aw.Header().Set("Upgrade", "websocket")
	aw.WriteHeader(http.StatusSwitchingProtocols)
	assert.True(t, aw.committed, "101 was not committed")
	assert.Equal(t, http.StatusSwitchingProtocols, spy.Code)
	assert.Equal(t, "websocket", spy.Header().Get("Upgrade"))
}

// The attempt writes into a header map of its own; the client's headers are
// touched only when the attempt's response is committed, and the headers of
// an abandoned attempt never reach the client.
func TestAttemptWriterHeaderIsolation(t *testing.T) {
	spy := newSpy()
	spy.Header().Set("Alt-Svc", `h3=":443"`) // set by Caddy before the handler
	first := newAttemptWriter(spy, true)
	require.NotNil(t, first.Header())
	first.Header().Set("X-Failed-Attempt", "yes")
	first.Header().Set("Anthropic-Ratelimit-Requests-Remaining", "0")
	assert.Empty(t, spy.Header().Get("X-Failed-Attempt"), "attempt header leaked before commit")
	first.WriteHeader(http.StatusTooManyRequests)
	_, _ = first.Write([]byte(`{"type":"error"}`))
	assert.Empty(t, spy.Header().Get("X-Failed-Attempt"), "held attempt header leaked")

	// failover: the next attempt gets a fresh writer
	second := newAttemptWriter(spy, false)
	assert.Empty(t, second.Header(), "the next attempt inherited headers")
	second.Header().Set("Content-Type", "application/json")
	second.WriteHeader(http.StatusOK)
	_, _ = second.Write([]byte(`{"ok":true}`))

	assert.Equal(t, http.StatusOK, spy.Code)
	assert.Empty(t, spy.Header().Get("X-Failed-Attempt"), "a failed attempt's header reached the client")
	assert.Empty(t, spy.Header().Get("Anthropic-Ratelimit-Requests-Remaining"))
	assert.Equal(t, "application/json", spy.Header().Get("Content-Type"))
	assert.Equal(t, `h3=":443"`, spy.Header().Get("Alt-Svc"), "the client's own headers were dropped")
	assert.Equal(t, `{"ok":true}`, spy.Body.String())
}

func TestAttemptWriterHeldBodyCapped(t *testing.T) {
	spy := newSpy()
	aw := newAttemptWriter(spy, true)
	aw.WriteHeader(http.StatusServiceUnavailable)
	chunk := bytes.Repeat([]byte("e"), 10_000)
	total := 0
	for total < heldBodyLimit+50_000 {
		n, err := aw.Write(chunk)
		require.NoError(t, err, "a held write failed: the proxy would abort")
		require.Equal(t, len(chunk), n)
		total += n
	}
	assert.Equal(t, heldBodyLimit, aw.body.Len(), "held body not capped")
	assert.True(t, spy.untouched())
	require.NoError(t, aw.release())
	assert.Equal(t, heldBodyLimit, spy.Body.Len())
}

// When a held body is cut at heldBodyLimit, the released response must
// not announce the upstream's original length: a client would wait for
// bytes that never come (net/http closes the connection on the mismatch).
func TestAttemptWriterReleasedTruncatedBodyLength(t *testing.T) {
	const upstreamLen = heldBodyLimit + 1000
	spy := newSpy()
	aw := newAttemptWriter(spy, true)
	aw.Header().Set("Content-Type", "application/json")
	aw.Header().Set("Content-Length", strconv.Itoa(upstreamLen))
	aw.WriteHeader(http.StatusTooManyRequests)
	_, err := aw.Write(bytes.Repeat([]byte("x"), upstreamLen))
	require.NoError(t, err)
	require.NoError(t, aw.release())

	sent := spy.Body.Len()
	if cl := spy.Header().Get("Content-Length"); cl != "" {
		assert.Equal(t, strconv.Itoa(sent), cl, "Content-Length does not match the %d bytes sent", sent)
	}
}

// An untruncated held body keeps its length header.
func TestAttemptWriterReleasedBodyKeepsLength(t *testing.T) {
	spy := newSpy()
	aw := newAttemptWriter(spy, true)
	body := `{"error":{"type":"rate_limit_error"}}`
	aw.Header().Set("Content-Length", strconv.Itoa(len(body)))
	aw.WriteHeader(http.StatusTooManyRequests)
	_, _ = aw.Write([]byte(body))
	require.NoError(t, aw.release())
	assert.Equal(t, strconv.Itoa(len(body)), spy.Header().Get("Content-Length"))
	assert.Equal(t, body, spy.Body.String())
}

func TestAttemptWriterOnHeader(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		mayHold bool
		held    bool
	}{
		{"committed", http.StatusOK, true, false},
		{"held", http.StatusTooManyRequests, true, true},
		{"last attempt", http.StatusTooManyRequests, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spy := newSpy()
			aw := newAttemptWriter(spy, tt.mayHold)
			var seen []int
			var sawUpstreamHeader string
			aw.onHeader = func(status int, h http.Header) {
				seen = append(seen, status)
				sawUpstreamHeader = h.Get("X-Upstream")
				h.Set("Retry-After", "12")
			}
			aw.Header().Set("X-Upstream", "1")
			aw.WriteHeader(tt.status)
			aw.WriteHeader(tt.status) // ignored, and not seen again
			_, _ = aw.Write([]byte("x"))
			assert.Equal(t, tt.held, aw.held)
			if tt.held {
				// a held answer was recorded as a failure already: its
				// release is not seen as a committed answer
				assert.True(t, spy.untouched())
				require.NoError(t, aw.release())
				assert.Empty(t, seen)
				assert.Equal(t, tt.status, spy.Code)
				return
			}
			assert.Equal(t, []int{tt.status}, seen)
			assert.Equal(t, "1", sawUpstreamHeader, "onHeader did not see the attempt's headers")
			assert.Equal(t, tt.status, spy.Code)
			assert.Equal(t, "12", spy.Header().Get("Retry-After"), "a header added by onHeader did not reach the client")
		})
	}
}

func TestAttemptWriterOnHeaderImplicitOK(t *testing.T) {
	spy := newSpy()
	aw := newAttemptWriter(spy, true)
	var seen []int
	aw.onHeader = func(status int, _ http.Header) { seen = append(seen, status) }
	_, _ = aw.Write([]byte("x"))
	_, _ = aw.Write([]byte("y"))
	assert.Equal(t, []int{http.StatusOK}, seen)
}

func TestAttemptWriterUnwrap(t *testing.T) {
	spy := newSpy()
	aw := newAttemptWriter(spy, true)
	assert.Same(t, spy, aw.Unwrap().(*spyWriter))
	// http.ResponseController finds the client's flusher through Unwrap
	aw.WriteHeader(http.StatusOK)
	_, _ = aw.Write([]byte("x"))
	require.NoError(t, http.NewResponseController(aw).Flush())
	assert.Equal(t, 1, spy.flushes)
}

// Caddy's reverse proxy writes upstream trailers into the writer's header
// map after the body (announced in a Trailer header, or with
// http.TrailerPrefix). They must reach the client.
func TestAttemptWriterTrailersAfterCommit(t *testing.T) {
	tests := []struct {
		name     string
		announce bool
		key      string
	}{
		{"announced trailer", true, "X-Checksum"},
		{"TrailerPrefix trailer", false, http.TrailerPrefix + "X-Checksum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spy := newSpy()
			aw := newAttemptWriter(spy, true)
			if tt.announce {
				aw.Header().Set("Trailer", "X-Checksum")
			}
			aw.WriteHeader(http.StatusOK)
			_, _ = aw.Write([]byte("body"))
			aw.Header().Set(tt.key, "abc123")
			res := spy.Result()
			assert.Equal(t, "abc123", res.Trailer.Get("X-Checksum"), "upstream trailer lost")
		})
	}
}

// A 400 is held while another credential may answer: it may be a refused
// key, which counts as the 401 it stands for. Any other 400 goes to the
// client as it was; one too long to be an error worth failing over on goes
// through at once, whole.
func TestAttemptWriterHoldsBadRequest(t *testing.T) {
	refused := map[string]string{
		"gemini": `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT",` +
			`"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}`,
		"gemini stream array": `[{"error":{"code":400,"status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}]`,
		"anthropic":           `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`,
		"openai compatible":   `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
	}
	for name, body := range refused {
		t.Run(name, func(t *testing.T) {
			spy := newSpy()
			aw := newAttemptWriter(spy, true)
			aw.WriteHeader(http.StatusBadRequest)
			_, err := aw.Write([]byte(body))
			require.NoError(t, err)
			require.NoError(t, aw.finish())
			assert.True(t, aw.held)
			assert.Equal(t, http.StatusUnauthorized, aw.failStatus, "a refused key is a credential failure")
			assert.True(t, spy.untouched())
		})
	}

	t.Run("bad request", func(t *testing.T) {
		spy := newSpy()
		aw := newAttemptWriter(spy, true)
		aw.Header().Set("Content-Type", "application/json")
		aw.WriteHeader(http.StatusBadRequest)
		body := `{"error":{"code":400,"message":"Invalid JSON payload received.","status":"INVALID_ARGUMENT"}}`
		_, err := aw.Write([]byte(body))
		require.NoError(t, err)
		require.NoError(t, aw.finish())
		assert.True(t, aw.held)
		assert.Equal(t, http.StatusBadRequest, aw.failStatus)
		assert.True(t, spy.untouched())
		require.NoError(t, aw.release())
		assert.Equal(t, http.StatusBadRequest, spy.Code)
		assert.Equal(t, body, spy.Body.String())
	})

	t.Run("long bad request", func(t *testing.T) {
		spy := newSpy()
		aw := newAttemptWriter(spy, true)
		aw.WriteHeader(http.StatusBadRequest)
		chunk := bytes.Repeat([]byte("x"), 40<<10)
		for range 3 {
			_, err := aw.Write(chunk)
			require.NoError(t, err)
		}
		assert.True(t, aw.committed)
		assert.False(t, aw.held)
		assert.Equal(t, http.StatusBadRequest, spy.Code)
		assert.Equal(t, 3*len(chunk), spy.Body.Len(), "a long 400 was cut")
	})
}
