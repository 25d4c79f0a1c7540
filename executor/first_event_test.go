package executor

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// haltCounter is an attempt's halt function that counts its calls.
type haltCounter struct{ n atomic.Int32 }

func (h *haltCounter) halt() { h.n.Add(1) }

// An answer whose first event does not come in time halts the attempt,
// and nothing of it reaches the client, not even what comes after.
func TestFirstEventClockRunsOut(t *testing.T) {
	for _, stream := range []bool{false, true} {
		spy := newSpy()
		aw := newAttemptWriter(spy, true)
		var h haltCounter
		aw.halt = h.halt
		aw.clock = startFirstEventClock(20*time.Millisecond, aw.halt)
		if stream {
			aw.Header().Set("Content-Type", "text/event-stream")
		}
		aw.WriteHeader(http.StatusOK)
		require.Eventually(t, aw.clock.expired, time.Second, time.Millisecond)
		assert.Equal(t, int32(1), h.n.Load())
		_, err := aw.Write([]byte("event: message_start\ndata: {}\n\n"))
		require.NoError(t, err)
		assert.NoError(t, aw.finish())
		assert.False(t, aw.committed)
		assert.True(t, spy.untouched(), "an answer that came too late reached the client")
	}
}

// An answer whose first event came in time keeps going however slow the
// rest is.
func TestFirstEventClockStopsAtFirstEvent(t *testing.T) {
	spy := newSpy()
	aw := newAttemptWriter(spy, true)
	var h haltCounter
	aw.halt = h.halt
	aw.clock = startFirstEventClock(30*time.Millisecond, aw.halt)
	aw.Header().Set("Content-Type", "text/event-stream")
	aw.WriteHeader(http.StatusOK)
	_, err := aw.Write([]byte("event: message_start\ndata: {}\n"))
	require.NoError(t, err)
	assert.True(t, spy.untouched())
	_, err = aw.Write([]byte("\n"))
	require.NoError(t, err)
	assert.True(t, aw.committed)
	time.Sleep(60 * time.Millisecond)
	assert.False(t, aw.clock.expired())
	assert.Zero(t, h.n.Load())
	_, err = aw.Write([]byte("event: ping\ndata: {}\n\n"))
	require.NoError(t, err)
	assert.Contains(t, spy.Body.String(), "event: ping")
}

// A held failure's first bytes stop the clock too: its body ends on its
// own.
func TestFirstEventClockStopsAtHeldBody(t *testing.T) {
	spy := newSpy()
	aw := newAttemptWriter(spy, true)
	var h haltCounter
	aw.halt = h.halt
	aw.clock = startFirstEventClock(30*time.Millisecond, aw.halt)
	aw.WriteHeader(http.StatusTooManyRequests)
	_, err := aw.Write([]byte(`{"error":`))
	require.NoError(t, err)
	time.Sleep(60 * time.Millisecond)
	assert.False(t, aw.clock.expired())
	assert.Zero(t, h.n.Load())
}

// A stream whose first event is an error that fails over halts the attempt
// at once: the upstream may keep the stream open.
func TestErrorEventHaltsTheAttempt(t *testing.T) {
	spy := newSpy()
	aw := newAttemptWriter(spy, true)
	var h haltCounter
	aw.halt = h.halt
	aw.Header().Set("Content-Type", "text/event-stream")
	aw.WriteHeader(http.StatusOK)
	_, err := aw.Write([]byte("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"))
	require.NoError(t, err)
	assert.True(t, aw.held)
	assert.Equal(t, 529, aw.failStatus)
	assert.Equal(t, int32(1), h.n.Load(), "the attempt was not halted")
	assert.True(t, spy.untouched())
}
