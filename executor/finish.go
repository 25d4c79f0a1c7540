package executor

import (
	"errors"
	"net/http"
	"time"

	"github.com/caddy-cliproxy/cliproxy/access"
	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/reqlog"
)

// RequestLogger receives the records of the requests it wants logged.
type RequestLogger interface {
	// Wants reports whether a request the client got status for (0: no
	// answer) is logged. An upstream failure the client got, or a stream
	// that broke off, is asked about as status 0.
	Wants(status int) bool
	// CaptureLimit bounds how much of an error response body is kept.
	CaptureLimit() int
	// LogRequest writes rec; it is called on the request's goroutine
	// after the client got its answer, and may not keep rec or its
	// slices once it returns.
	LogRequest(rec *reqlog.Record)
}

// logs reports whether l wants the request as it stands.
func (rn *run) logs(l RequestLogger) bool {
	if rn.failed {
		return l.Wants(0)
	}
	return l.Wants(rn.status)
}

// brokeOff records that the answer the client was getting broke off
// (err): the request failed, whatever status it began with, and counts as
// a 502 in the usage event, the metrics and the request log.
func (rn *run) brokeOff(err error) {
	rn.failed, rn.broke, rn.status = true, true, http.StatusBadGateway
	rn.abort = errors.Is(err, errBrokeOff)
}

// finish reports the finished request to the observer, the request log and
// the usage log, then releases its body.
func (rn *run) finish() {
	latency := rn.observe()
	if l := rn.e.opts.RequestLog; l != nil && rn.logs(l) {
		l.LogRequest(rn.record(latency))
	}
	rn.logUsage()
	if rn.body != nil {
		rn.body.release()
	}
}

// finishTurn reports a finished WebSocket turn to the observer and the
// usage log; turns are not request-logged.
func (rn *run) finishTurn() {
	rn.observe()
	rn.logUsage()
}

// observe reports the finished request to the observer and returns its
// latency.
func (rn *run) observe() time.Duration {
	latency := time.Since(rn.start)
	if rn.gateway != nil {
		// the gateway answered itself; the credentials that failed
		// before are in the attempts
		rn.served = nil
	}
	if o := rn.e.opts.Observer; o != nil {
		var u Usage
		if rn.usage != nil {
			u = rn.usage.Usage()
		}
		o.ObserveRequest(RequestReport{
			Family: rn.route.Family, Credential: rn.served, Principal: rn.principal, Model: rn.model,
			Status: rn.status, Attempts: rn.attempts, Usage: u, Latency: latency, FirstByte: rn.firstByte,
		})
	}
	return latency
}

// attempted notes an attempt of c that ended, for the observer and the
// request log.
func (rn *run) attempted(c *auth.Credential, ac *attemptCredential, aw *attemptWriter, start time.Time, err error) {
	// an answer whose first event never came counts as none
	status := aw.status
	if errors.Is(err, errFirstEventTimeout) {
		status = 0
	}
	var ttfb time.Duration
	if status != 0 {
		ttfb = aw.headerAt.Sub(start)
	}
	took := time.Since(start)
	if o := rn.e.opts.Observer; o != nil {
		o.ObserveAttempt(AttemptReport{Credential: c, Status: status, FirstByte: ttfb, Duration: took})
	}
	if rn.e.opts.RequestLog == nil {
		return
	}
	a := reqlog.Attempt{
		Credential: c.Name, Provider: string(c.Provider), Status: status,
		Start: start, FirstByte: ttfb, Duration: took,
	}
	switch {
	case err != nil:
		a.Error = describeProxyError(err)
	case aw.held:
		// the client never sees this body; the log is where it can be read
		a.Error = "held back from the client"
		a.Body = aw.body.Bytes()
	}
	rn.tries = append(rn.tries, a)
	rn.secrets = append(rn.secrets, c.APIKey, ac.sentToken)
}

// record builds the request log's record of the request. It shares the
// request's header and bodies: the logger only reads them.
func (rn *run) record(latency time.Duration) *reqlog.Record {
	rec := &reqlog.Record{
		Time: rn.start, Method: rn.r.Method, Path: rn.r.URL.Path, RawQuery: rn.r.URL.RawQuery,
		Header: rn.r.Header, Client: rn.principal, Family: rn.route.Family.String(),
		Model: rn.model, Session: rn.session, Status: rn.status,
		Latency: latency, FirstByte: rn.firstByte, Attempts: rn.tries,
		Secrets: append(rn.secrets, access.ClientKey(rn.r)),
	}
	if rn.body != nil {
		rec.RequestBody = rn.body.inspect()
	}
	if rn.gateway != nil {
		rec.Error = rn.gateway.Code + ": " + rn.gateway.Message
	}
	if rn.broke {
		rec.Error = "stream_broke_off: the upstream's answer broke off after it reached the client"
	}
	if rn.w != nil {
		rec.ResponseHeader = rn.w.Header()
	}
	if aw := rn.answer; aw != nil && rn.gateway == nil {
		if aw.capture != nil {
			rec.ResponseBody, rec.ResponseTruncated = aw.capture.buf, aw.capture.cut
		}
	}
	return rec
}

// capture keeps the first bytes of a response body, up to a limit.
type capture struct {
	buf   []byte
	limit int
	cut   bool
}

func newCapture(limit int) *capture { return &capture{limit: limit} }

func (c *capture) keep(p []byte) {
	room := c.limit - len(c.buf)
	if len(p) > room {
		p, c.cut = p[:max(room, 0)], true
	}
	c.buf = append(c.buf, p...)
}
