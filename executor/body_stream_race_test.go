package executor

import (
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readerWaitsOnTheSource reports whether a goroutine is in
// teeReader.Read, waiting for the body source's lock.
func readerWaitsOnTheSource() bool {
	buf := make([]byte, 1<<20)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "(*teeReader).Read") && strings.Contains(g, "sync.(*Mutex).Lock") {
			return true
		}
	}
	return false
}

// The transport may close the first attempt's reader while a read of it
// is under way (HTTP/2 closes a request body from another goroutine when
// the stream ends); once the request let the body go, that close frees the
// hold. A read that got past its check of closed just before must not
// then read the start from the freed hold: it panicked (nil buffer), in
// the transport's goroutine, which takes the process down.
func TestStreamedBodyReadOfTheStartRacingClose(t *testing.T) {
	// one processor: the goroutine the unlock wakes waits for it, so the
	// close, which runs on, takes the lock first
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for range 10 {
		readOfTheStartRacingClose(t)
	}
}

func readOfTheStartRacingClose(t *testing.T) {
	u := newSlowUpload([]byte(`{"model":"m","messages":"`+strings.Repeat("a", 32<<10)), -1)
	b, err := openBody(nil, u.r, bodyConfig{limit: 64 << 20, budget: NewBodyBudget(0)}, streamFound)
	require.NoError(t, err)
	require.NotNil(t, b.src)
	rd := b.reader()
	b.release() // the request is done with it: the reader's close frees the hold

	b.src.mu.Lock()
	type result struct {
		err   error
		panic any
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{panic: p}
			}
		}()
		_, err := rd.Read(make([]byte, 4096))
		done <- result{err: err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !readerWaitsOnTheSource() {
		require.True(t, time.Now().Before(deadline), "the read never reached the source's lock")
		time.Sleep(time.Millisecond)
	}
	// the read is past its check of closed; the close frees the hold
	b.src.mu.Unlock()
	require.NoError(t, rd.Close())
	r := <-done
	require.Nil(t, r.panic, "the read of a closed reader used the freed hold")
	if r.err != nil {
		// else the read took the lock before the close: it read the start
		assert.ErrorIs(t, r.err, http.ErrBodyReadAfterClose)
	}
	close(u.next)
	_, _ = io.Copy(io.Discard, u.r.Body)
}
