package mockupstream

import (
	"context"
	"net/http"
	"time"
)

// streamer writes a streaming answer piece by piece, flushing after each,
// waiting EventDelay between pieces and aborting the connection after
// ResetAfter pieces when a fault asks for it.
type streamer struct {
	w          http.ResponseWriter
	rc         *http.ResponseController
	ctx        context.Context
	delay      time.Duration
	resetAfter int
	sep        string // SSE event terminator: "\n\n", or "\r\n\r\n" for Gemini
	n          int    // pieces written so far
	dead       bool   // client went away or a write failed
}

// startStream writes the 200 headers of a streaming answer with contentType
// and returns a streamer honouring the call's fault.
func (c *call) startStream(contentType, sep string) *streamer {
	h := c.w.Header()
	setRequestID(c.w, c.rt.family)
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-cache")
	h.Del("Content-Length")
	c.w.WriteHeader(http.StatusOK)
	st := &streamer{
		w:          c.w,
		rc:         http.NewResponseController(c.w),
		ctx:        c.r.Context(),
		delay:      c.fault.EventDelay,
		resetAfter: c.fault.ResetAfter,
		sep:        sep,
	}
	_ = st.rc.Flush()
	if c.fault.StreamError == "" && !sleepCtx(st.ctx, c.fault.Stall) {
		st.dead = true
	}
	return st
}

// event writes one SSE event: an "event:" line when name is non-empty, then
// one "data:" line. It reports whether the stream is still alive.
func (st *streamer) event(name string, data []byte) bool {
	b := make([]byte, 0, len(name)+len(data)+16)
	if name != "" {
		b = append(b, "event: "...)
		b = append(b, name...)
		b = append(b, st.sep[:len(st.sep)/2]...)
	}
	b = append(b, "data: "...)
	b = append(b, data...)
	b = append(b, st.sep...)
	return st.piece(b)
}

// piece writes raw bytes as one stream piece (one event), flushes, and
// applies the fault's event delay and reset.
func (st *streamer) piece(b []byte) bool {
	if st.dead {
		return false
	}
	if st.n > 0 && !sleepCtx(st.ctx, st.delay) {
		st.dead = true
		return false
	}
	if _, err := st.w.Write(b); err != nil {
		st.dead = true
		return false
	}
	if err := st.rc.Flush(); err != nil {
		st.dead = true
		return false
	}
	st.n++
	if st.resetAfter > 0 && st.n >= st.resetAfter {
		// Abort the connection without terminating the chunked body: the
		// client sees an unexpected EOF.
		panic(http.ErrAbortHandler)
	}
	return true
}
