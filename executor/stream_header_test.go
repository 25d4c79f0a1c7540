package executor

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clockedWriter is an attempt writer timed by a clock of first and header
// that halts it, the client's writer, and the count of halts.
func clockedWriter(first, header time.Duration) (*spyWriter, *attemptWriter, *haltCounter) {
	spy := newSpy()
	aw := newAttemptWriter(spy, true)
	h := new(haltCounter)
	aw.halt = h.halt
	aw.clock = startAttemptClock(first, header, aw.halt)
	return spy, aw, h
}

// An answer whose headers do not come within the header bound halts the
// attempt as a stream-header timeout, and headers that come after that
// reach nobody.
func TestAttemptClockRunsOutBeforeHeaders(t *testing.T) {
	spy, aw, h := clockedWriter(time.Minute, 20*time.Millisecond)
	require.Eventually(t, aw.clock.expired, time.Second, time.Millisecond)
	assert.Equal(t, int32(1), h.n.Load())
	assert.ErrorIs(t, aw.clock.err(), errHeaderTimeout)
	assert.ErrorIs(t, aw.clock.err(), errFirstEventTimeout, "given up like a silent answer")

	aw.Header().Set("Content-Type", "application/json")
	aw.WriteHeader(http.StatusOK)
	_, err := aw.Write([]byte(`{"content":[]}`))
	require.NoError(t, err)
	require.NoError(t, aw.finish())
	assert.False(t, aw.committed)
	assert.True(t, spy.untouched(), "an answer whose headers came too late reached the client")
}

// Headers in time end the header bound: the first event then has the rest
// of its own bound, however much longer.
func TestAttemptClockHeadersInTimeLeaveTheFirstEventBound(t *testing.T) {
	spy, aw, h := clockedWriter(time.Minute, 30*time.Millisecond)
	aw.Header().Set("Content-Type", "text/event-stream")
	aw.WriteHeader(http.StatusOK)
	time.Sleep(60 * time.Millisecond)
	assert.False(t, aw.clock.expired())
	assert.Zero(t, h.n.Load())
	_, err := aw.Write([]byte("event: message_start\ndata: {}\n\n"))
	require.NoError(t, err)
	assert.True(t, aw.committed)
	assert.Contains(t, spy.Body.String(), "message_start")

	// and the first event's own bound still runs out after headers
	late := startAttemptClock(20*time.Millisecond, 10*time.Millisecond, func() {})
	require.True(t, late.headers())
	require.Eventually(t, late.expired, time.Second, time.Millisecond)
	assert.NotErrorIs(t, late.err(), errHeaderTimeout)
	assert.ErrorIs(t, late.err(), errFirstEventTimeout)
}

// Only a request that asks for a streamed answer gets the header bound.
func TestAsksForStream(t *testing.T) {
	b := func(s string) *body { return newBody(&hold{buf: bytes.NewBufferString(s)}) }
	cases := []struct {
		name  string
		route Route
		body  *body
		want  bool
	}{
		{"anthropic stream", Route{Family: FamilyAnthropic, Endpoint: "messages"}, b(`{"model":"m","messages":[],"stream":true}`), true},
		{"anthropic whole", Route{Family: FamilyAnthropic, Endpoint: "messages"}, b(`{"model":"m","messages":[]}`), false},
		{"stream false", Route{Family: FamilyOpenAI, Endpoint: "chat/completions"}, b(`{"model":"m","stream":false}`), false},
		{"nested stream is not the request's", Route{Family: FamilyOpenAI, Endpoint: "responses"}, b(`{"model":"m","metadata":{"stream":true}}`), false},
		{"gemini stream", Route{Family: FamilyGemini, Endpoint: "streamGenerateContent"}, b(`{"contents":[]}`), true},
		{"gemini whole", Route{Family: FamilyGemini, Endpoint: "generateContent"}, b(`{"contents":[]}`), false},
		{"no body", Route{Family: FamilyOpenAI, Endpoint: "models"}, nil, false},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, asksForStream(tc.route, tc.body), tc.name)
	}
}
