package executor

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// heldBodyLimit caps how much of a held-back failure response is kept;
// error bodies are small, and a hint that does not fit is not worth more.
const heldBodyLimit = 64 << 10

// sniffLimit caps how much of an event stream is held while waiting for
// its first event to end.
const sniffLimit = 64 << 10

// attemptWriter is the response writer one upstream attempt writes to. It
// gives the attempt a header map of its own, and when the attempt may still
// fail over it holds back a failure response (status, headers and body)
// instead of sending it, so the client never sees a header or byte of a
// response it is not given. An event stream is held until its first event
// is complete: a stream that opens with an error event is a failure like
// the matching status. Everything else goes straight to the client,
// flushed as the proxy flushes (SSE event by event).
type attemptWriter struct {
	w      http.ResponseWriter
	header http.Header
	// mayHold is whether a failover status may be held back.
	mayHold bool
	// holdBadRequest holds back a 400 too: the attempt's subscription
	// account may refuse a client that is not its own that way.
	holdBadRequest bool
	// wrongClient marks a held 400 that was such a refusal.
	wrongClient bool
	// onHeader, if set, sees the status and headers of a response that is
	// about to be committed, and may change the headers.
	onHeader func(status int, header http.Header)

	status    int
	held      bool
	sniffing  bool
	committed bool
	body      bytes.Buffer
	// tap, if set, sees every byte sent to the client (usage accounting).
	tap io.Writer
	// capture, if set, keeps the start of what was sent (an error's body,
	// for the request log).
	capture *capture
	// headerAt is when the upstream's response header arrived.
	headerAt time.Time
	// failStatus is the status a held response counts as: the HTTP
	// status, or for a stream that opened with an error, the status that
	// error stands for.
	failStatus int
	// retryAt is when the credential of a held failure may be tried
	// again; zero when unknown.
	retryAt time.Time
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
	a.headerAt = time.Now()
	switch {
	case a.mayHold && (holds(code) || a.holdBadRequest && code == http.StatusBadRequest):
		a.held, a.failStatus = true, code
	case a.mayHold && code == http.StatusOK && isEventStream(a.header):
		a.sniffing = true
	default:
		a.commit()
	}
}

// commit sends the attempt's status and headers to the client.
func (a *attemptWriter) commit() {
	if a.onHeader != nil {
		a.onHeader(a.status, a.header)
	}
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
	switch {
	case a.held:
		if room := heldBodyLimit - a.body.Len(); room > 0 {
			a.body.Write(p[:min(len(p), room)])
		}
		return len(p), nil
	case a.sniffing:
		a.body.Write(p)
		return len(p), a.sniff(false)
	}
	return a.send(p)
}

// send writes to the client, and shows what was written to the tap.
func (a *attemptWriter) send(p []byte) (int, error) {
	n, err := a.w.Write(p)
	if a.tap != nil && n > 0 {
		_, _ = a.tap.Write(p[:n])
	}
	if a.capture != nil && n > 0 {
		a.capture.keep(p[:n])
	}
	return n, err
}

// sniff decides a held event stream once its first event is complete (or
// the stream ended, or grew past sniffLimit): an error event fails the
// attempt over, anything else is committed with what was held.
func (a *attemptWriter) sniff(ended bool) error {
	first, complete := firstEvent(a.body.Bytes())
	if !complete && !ended && a.body.Len() < sniffLimit {
		return nil
	}
	a.sniffing = false
	if status := streamErrorStatus(first); status != 0 && holds(status) {
		// the rest of an error stream is held (and capped) like any
		// failure body; ending the copy with an error would make the
		// proxy log a warning and abort the handler
		a.held, a.failStatus = true, status
		return nil
	}
	a.commit()
	_, err := a.send(a.body.Bytes())
	a.body.Reset()
	if err == nil {
		err = http.NewResponseController(a.w).Flush()
	}
	return err
}

// finish settles a stream that ended while its first event was still being
// held.
func (a *attemptWriter) finish() error {
	if !a.sniffing {
		return nil
	}
	return a.sniff(true)
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
// other credential left to try, as the upstream sent it.
func (a *attemptWriter) release() error {
	if !a.held {
		return nil
	}
	a.held = false
	// a released failure was already recorded as one: it must not count
	// as the success or client fault a committed answer is
	a.onHeader = nil
	// the held body may have been cut at heldBodyLimit
	a.header.Set("Content-Length", strconv.Itoa(a.body.Len()))
	a.commit()
	_, err := a.send(a.body.Bytes())
	return err
}

// holds reports whether a status is held back while another credential
// may still answer: the failover statuses, and 404, which may say the
// model does not exist for this credential.
func holds(status int) bool {
	return failsOver(status) || status == http.StatusNotFound
}

func isEventStream(h http.Header) bool {
	return strings.HasPrefix(strings.ToLower(h.Get("Content-Type")), "text/event-stream")
}
