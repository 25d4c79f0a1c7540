package executor

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-cliproxy/cliproxy/reqlog"
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
// the matching status, and the attempt is halted at once rather than left
// waiting for the upstream to close. Anything else is committed with its
// first body byte (or when it ends without one) and then goes straight to
// the client, flushed as the proxy flushes (SSE event by event): until
// then, an upstream that answered and went silent can still fail over.
type attemptWriter struct {
	w      http.ResponseWriter
	header http.Header
	// mayHold is whether a failover status may be held back.
	mayHold bool
	// wrongClient marks a held 400 that was such a refusal.
	wrongClient bool
	// onHeader, if set, sees the status and headers of a response that is
	// about to be committed, and may change the headers.
	onHeader func(status int, header http.Header)
	// onAnswer, if set, sees the headers of every upstream answer as it
	// arrives, held or not (usage windows are read there).
	onAnswer func(header http.Header)

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

	// clock, if set, times the first event; once it ran out nothing more
	// goes to the client.
	clock *firstEventClock
	// halt, if set, ends the attempt's upstream request, so the proxy
	// returns without waiting for an upstream that keeps its stream open.
	halt func()
	// ac, if set, is the attempt's credential, whose secrets an error
	// answer is scrubbed of (see scrubSecrets); scrub does it once on.
	ac    *attemptCredential
	scrub *reqlog.Scrubber
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
	if !a.clock.headers() {
		return // too late: the attempt is being halted and fails over
	}
	a.status = code
	a.headerAt = time.Now()
	if a.onAnswer != nil {
		a.onAnswer(a.header)
	}
	switch {
	case code == http.StatusSwitchingProtocols:
		a.commit()
	case a.mayHold && holds(code):
		a.held, a.failStatus = true, code
	case a.mayHold && code == http.StatusOK && isEventStream(a.header):
		a.sniffing = true
	}
	// anything else is committed with its first byte
}

// commit sends the attempt's status and headers to the client.
func (a *attemptWriter) commit() {
	if a.status >= 400 {
		a.scrubSecrets()
	}
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
	if !a.sniffing && !a.clock.arrived() {
		// too late: the attempt is being halted and fails over
		return len(p), nil
	}
	switch {
	case a.held && a.body.Len()+len(p) > heldBodyLimit && a.status == a.failStatus && !failsOver(a.status):
		// a 400 or 404 this long is no refused key or unknown model: it
		// is the client's, and goes to it whole
		a.held = false
		a.commit()
		if _, err := a.send(a.body.Bytes()); err != nil {
			return 0, err
		}
		a.body.Reset()
		return a.send(p)
	case a.held:
		if room := heldBodyLimit - a.body.Len(); room > 0 {
			a.body.Write(p[:min(len(p), room)])
		}
		return len(p), nil
	case a.sniffing:
		a.body.Write(p)
		return len(p), a.sniff(false)
	case !a.committed:
		a.commit()
	}
	return a.send(p)
}

// send writes p to the client, scrubbed of the attempt's secrets once
// they are being scrubbed.
func (a *attemptWriter) send(p []byte) (int, error) {
	if a.scrub == nil {
		return a.emit(p)
	}
	if _, err := a.emit(a.scrub.Next(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// emit writes to the client, and shows what was written to the tap.
func (a *attemptWriter) emit(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
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
	if !a.clock.arrived() {
		return nil // too late: the attempt is being halted
	}
	a.sniffing = false
	if e, isError := errorEvent(first); isError {
		if status := errorStatus(e); failsOver(status) || status == http.StatusNotFound {
			// the failure is known: the attempt ends now, whether or not
			// the upstream closes its stream; what else arrives until
			// then is held (and capped) like any failure body
			a.held, a.failStatus = true, status
			if a.halt != nil {
				a.halt()
			}
			return nil
		}
		a.scrubSecrets() // an error stream the client gets
	}
	a.commit()
	_, err := a.send(a.body.Bytes())
	a.body.Reset()
	if err == nil {
		err = http.NewResponseController(a.w).Flush()
	}
	return err
}

// finish settles an answer that ended: a held 400 that says the
// credential's key was refused counts as the 401 it stands for, a stream
// still waiting for its first event is decided on what came, and an answer
// without a body byte is committed.
func (a *attemptWriter) finish() error {
	if a.held && a.failStatus == http.StatusBadRequest && keyRefusedBody(a.body.Bytes()) {
		a.failStatus = http.StatusUnauthorized
	}
	switch {
	case a.sniffing:
		if err := a.sniff(true); err != nil {
			return err
		}
	case a.status != 0 && !a.held && !a.committed && a.clock.arrived():
		a.commit() // an answer without a body
	}
	if a.committed && a.scrub != nil {
		_, err := a.emit(a.scrub.End())
		return err
	}
	return nil
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
	a.scrubSecrets()
	body := a.body.Bytes()
	if a.scrub != nil {
		body = append(a.scrub.Next(body), a.scrub.End()...)
	}
	// the held body may have been cut at heldBodyLimit, and scrubbed
	a.header.Set("Content-Length", strconv.Itoa(len(body)))
	a.commit()
	_, err := a.emit(body)
	return err
}

// holds reports whether a status is held back while another credential
// may still answer: the failover statuses; 404, which may say the model
// does not exist for this credential; and 400, which may say its key was
// refused (Gemini's answer to a dead key).
func holds(status int) bool {
	return failsOver(status) || status == http.StatusNotFound || status == http.StatusBadRequest
}

func isEventStream(h http.Header) bool {
	return strings.HasPrefix(strings.ToLower(h.Get("Content-Type")), "text/event-stream")
}
