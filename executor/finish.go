package executor

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-cliproxy/cliproxy/access"
	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/outcome"
	"github.com/caddy-cliproxy/cliproxy/reqlog"
)

// logs reports whether l wants the request as it stands.
func (rn *run) logs(l outcome.Capturer) bool {
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

// finish reports the finished request to the recorders, with its full
// record when the capturer wants it, then releases its body.
func (rn *run) finish() {
	req := rn.finished()
	if l := rn.e.capturer; l != nil && rn.logs(l) {
		req.Log = rn.record(req.Latency)
	}
	rn.report(req)
	if rn.body != nil {
		rn.body.release()
	}
}

// finishTurn reports a finished WebSocket turn to the recorders, with its
// full record when the capturer wants it: the handshake's headers, the
// turn's response.create as the request body, and the error event that
// ended it, if one did, as the response body.
func (rn *run) finishTurn() {
	req := rn.finished()
	if l := rn.e.capturer; l != nil && rn.logs(l) {
		rec := rn.record(req.Latency)
		rec.Turn, rec.RequestBody, rec.ResponseBody = rn.turn, rn.turnIn, rn.turnOut
		req.Log = rec
	}
	rn.report(req)
}

// report hands req to every recorder.
func (rn *run) report(req *outcome.Request) {
	for _, r := range rn.e.opts.Recorders {
		r.Request(req)
	}
}

// finished is the finished request as the recorders see it.
func (rn *run) finished() *outcome.Request {
	req := &outcome.Request{
		Start: rn.start, Family: rn.route.Family.String(), Endpoint: rn.r.URL.Path, Client: rn.principal, Model: rn.model,
		Status: rn.status, Attempts: rn.attempts, Latency: time.Since(rn.start), FirstByte: rn.firstByte,
		Affinity: rn.affinity,
		Failed:   rn.failed || rn.gateway != nil || rn.status == 0 || rn.status >= 400,
	}
	if rn.requestID != "" {
		req.RequestID = rn.requestID
		if rn.turn > 0 {
			req.RequestID += "-" + strconv.Itoa(rn.turn)
		}
	}
	if rn.gateway != nil {
		// the gateway answered itself; the credentials that failed
		// before are in the attempts
		rn.served = nil
	}
	if rn.served != nil {
		req.Credential, req.Provider = rn.served.Name, string(rn.served.Provider)
		req.OAuth = rn.served.OAuth != nil
	}
	if rn.usage != nil {
		req.Tokens = rn.usage.Usage()
	}
	if rn.quota.Known && rn.served != nil {
		req.QuotaWindow, req.QuotaUtilization = rn.quota.Window, rn.quota.Utilization
	}
	return req
}

// attempted notes an attempt of c that ended, for the recorders and the
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
	rn.reportAttempt(c, status, ttfb, took)
	if rn.e.capturer == nil {
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

// reportAttempt hands an attempt of c that ended to every recorder.
func (rn *run) reportAttempt(c *auth.Credential, status int, firstByte, took time.Duration) {
	a := outcome.Attempt{Provider: string(c.Provider), Credential: c.Name, Status: status, FirstByte: firstByte, Duration: took}
	for _, r := range rn.e.opts.Recorders {
		r.Attempt(a)
	}
}

// requestIDOf is the request's {http.request.uuid}, "" without one.
func requestIDOf(repl *caddy.Replacer) string {
	id, _ := repl.GetString("http.request.uuid")
	return id
}
