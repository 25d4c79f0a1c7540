package executor

import (
	"bytes"
	"net/http"
	"strconv"
)

// heldBodyLimit caps how much of a held-back failure response is kept;
// error bodies are small, and a hint that does not fit is not worth more.
const heldBodyLimit = 64 << 10

// attemptWriter is the response writer one upstream attempt writes to. It
// gives the attempt a header map of its own, and when the attempt may still
// fail over it holds back a failure response (status, headers and body)
// instead of sending it, so the client never sees a header or byte of a
// response it is not given. Everything else goes straight to the client,
// flushed as the proxy flushes (SSE event by event).
type attemptWriter struct {
	w      http.ResponseWriter
	header http.Header
	// mayHold is whether a failover status may be held back.
	mayHold bool
	// onHeader, if set, sees the status and headers before they are sent
	// or held, and may change the headers.
	onHeader func(status int, header http.Header)

	status    int
	held      bool
	committed bool
	body      bytes.Buffer
}

func newAttemptWriter(w http.ResponseWriter, mayHold bool) *attemptWriter {
	return &attemptWriter{w: w, header: make(http.Header), mayHold: mayHold}
}

// Header is the attempt's own header map until the response is committed,
// then the client's, so trailers the proxy sets after the body arrive.
func (a *attemptWriter) Header() http.Header {
	if a.committed {
		return a.w.Header()
	}
	return a.header
}

func (a *attemptWriter) WriteHeader(code int) {
	if a.status != 0 {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		return // informational responses are not relayed
	}
	a.status = code
	if a.onHeader != nil {
		a.onHeader(code, a.header)
	}
	if a.mayHold && failsOver(code) {
		a.held = true
		return
	}
	a.commit()
}

// commit sends the attempt's status and headers to the client.
func (a *attemptWriter) commit() {
	dst := a.w.Header()
	for k, v := range a.header {
		dst[k] = v
	}
	a.w.WriteHeader(a.status)
	a.committed = true
}

func (a *attemptWriter) Write(p []byte) (int, error) {
	if a.status == 0 {
		a.WriteHeader(http.StatusOK)
	}
	if a.held {
		if room := heldBodyLimit - a.body.Len(); room > 0 {
			a.body.Write(p[:min(len(p), room)])
		}
		return len(p), nil
	}
	return a.w.Write(p)
}

// FlushError flushes what was committed; a held response has nothing to
// flush.
func (a *attemptWriter) FlushError() error {
	if !a.committed {
		return nil
	}
	return http.NewResponseController(a.w).Flush()
}

// Unwrap lets http.ResponseController reach the client connection, for
// deadlines and protocol upgrades.
func (a *attemptWriter) Unwrap() http.ResponseWriter { return a.w }

// release sends a held response to the client after all, when there is no
// other credential left to try.
func (a *attemptWriter) release() error {
	if !a.held {
		return nil
	}
	a.held = false
	// the held body may have been cut at heldBodyLimit
	a.header.Set("Content-Length", strconv.Itoa(a.body.Len()))
	a.commit()
	_, err := a.w.Write(a.body.Bytes())
	return err
}
