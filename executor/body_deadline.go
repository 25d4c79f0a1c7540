package executor

import (
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// errBodyTimeout is a request body that did not arrive within its time.
var errBodyTimeout = errors.New("request body not received in time")

// bodyReadTimeout is the time r's client has to send its body: none of
// the gateway's own when the server bounds the request's read with
// timeouts { read_body }, which then applies alone.
func (e *Executor) bodyReadTimeout(r *http.Request) time.Duration {
	if srv, ok := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server); ok && srv.ReadTimeout > 0 {
		return 0
	}
	return e.opts.BodyReadTimeout
}

// bodyConfig is how r's body is read and held.
func (e *Executor) bodyConfig(r *http.Request) bodyConfig {
	return bodyConfig{limit: e.opts.MaxBody, timeout: e.bodyReadTimeout(r), budget: e.opts.BodyBudget, dir: e.opts.BodySpoolDir}
}

// bodyDeadline sets the connection's read deadline timeout from now, for
// the reading of a request body, and returns it; zero when there is none.
// Caddy's read_body_idle keeps working under it: a handler's deadline is
// the ceiling of its idle resets. Caller must clear it (clearBodyDeadline)
// once the body is read, or the connection's next read would fail.
func bodyDeadline(w http.ResponseWriter, timeout time.Duration) time.Time {
	if timeout <= 0 {
		return time.Time{}
	}
	deadline := time.Now().Add(timeout)
	if err := http.NewResponseController(w).SetReadDeadline(deadline); err != nil {
		return time.Time{}
	}
	return deadline
}

// clearBodyDeadline lifts the deadline of bodyDeadline, if one was set.
func clearBodyDeadline(w http.ResponseWriter, deadline time.Time) {
	if !deadline.IsZero() {
		_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	}
}

// bodyTimedOut reports whether a body read failed with err because a read
// deadline passed: the body's own, or one the server set.
func bodyTimedOut(err error, deadline time.Time) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return !deadline.IsZero() && !time.Now().Before(deadline)
}
