package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
	"github.com/caddy-cliproxy/cliproxy/outcome"
	"github.com/caddy-cliproxy/cliproxy/reqlog"
	"github.com/caddy-cliproxy/cliproxy/selector"
)

// run is the state of one request's attempt loop.
type run struct {
	e         *Executor
	v         *view
	r         *http.Request
	w         http.ResponseWriter // the client's
	route     Route
	model     string
	principal string
	// requestID is Caddy's {http.request.uuid}, read once as the request
	// arrives: the placeholder writes the request's vars the first time
	// it is read, and an attempt's dial reads them on its own goroutine
	requestID string
	session   string           // shown in placeholders and logs
	sess      selector.Session // binding keys; zero without affinity
	body      *body
	header    http.Header // client headers without client credentials
	query     string
	repl      *caddy.Replacer

	attempts int
	turn     int                 // of a WebSocket session, from 1; 0 for HTTP
	triedBuf [4]*auth.Credential // the tried credentials, without an allocation for most requests

	// what the client got, for the usage event, metrics and request log
	start     time.Time
	firstByte time.Duration
	status    int
	served    *auth.Credential
	usage     *usageReader
	answer    *attemptWriter // the attempt whose answer the client got
	gateway   *ClientError   // the gateway's own answer, if it gave one
	// failed says the answer was an upstream failure, or broke off
	failed bool
	// broke says the answer broke off after it reached the client
	broke bool
	// abort says the client's connection is to be aborted once the
	// request has been reported, so a broken stream does not look complete
	abort bool
	// affinity is how each pick related to the session's binding
	affinity []string
	// quota is the fullest usage window the last answer reported
	quota auth.QuotaLevel
	// streamed caches whether the request asks for a streamed answer
	// (see headerTimeout)
	streamed streamAsk

	// kept only while a request log is configured
	tries   []reqlog.Attempt
	secrets []string
	// a WebSocket turn's response.create, and the error event that ended
	// it, kept only while a request log is configured
	turnIn, turnOut []byte
}

func (rn *run) serve(w http.ResponseWriter, eligible []*auth.Credential) error {
	e := rn.e
	pool := rn.v.pool
	tried := rn.triedBuf[:0]
	key := rn.route.Family.String() + ":" + rn.model
	var held *attemptWriter
	var connErr error
	waited := false
	limit := e.attemptsFor(len(eligible))
	for rn.attempts < limit {
		d := rn.pick(key, eligible, tried)
		c := d.Credential
		if c == nil {
			// no untried credential is available
			if waited || !rn.waitForRecovery(eligible, tried) {
				break
			}
			waited = true
			continue
		}
		if !pool.Claim(c, rn.model) {
			// another request took this credential's probe
			tried = append(tried, c)
			continue
		}
		rn.attempts++
		aw, ac, err := rn.try(w, c, d)
		if aw.held && aw.failStatus == http.StatusUnauthorized && c.OAuth != nil && rn.r.Context().Err() == nil && rn.body.failed() == nil {
			// an OAuth token may have been revoked or expired early:
			// one refresh and one retry on the same credential first
			if _, rerr := c.OAuth.Invalidate(rn.r.Context(), ac.sentToken); rerr == nil {
				rn.logAttempt(c, aw.failStatus, nil, "oauth token refreshed after 401, retrying")
				aw, _, err = rn.try(w, c, d)
			}
		}
		aw, err = rn.retrySame(w, c, d, aw, err, &limit)
		if berr := rn.body.failed(); berr != nil && !aw.committed && rn.r.Context().Err() == nil {
			// the client's body broke off, was too large or too slow, or
			// named a second model, while an attempt sent it or waited
			// for it: its fault, not the credential's
			return rn.bodyError(w, berr)
		}
		tried = append(tried, c)

		if rn.r.Context().Err() != nil {
			return nil // the client went away; nobody to answer, nothing to blame
		}
		if aw.committed {
			if err != nil {
				rn.brokeOff(err)
				rn.logAttempt(c, aw.status, err, "upstream response broke off after it reached the client")
			}
			return nil
		}
		if aw.held && aw.failStatus == http.StatusBadRequest {
			if !wrongClient(c, aw.body.Bytes()) {
				// the client's own fault, held only to be read
				rn.answered(aw, c)
				rn.failed = false
				return aw.release()
			}
			aw.wrongClient = true
			rn.refusedClient(c)
			rn.logAttempt(c, aw.failStatus, nil, "subscription account refused a client not its own, failing over")
			held, connErr = aw, nil
			rn.served = c
			continue
		}
		if aw.held {
			outcome := rn.outcome(aw)
			if aw.failStatus == http.StatusNotFound && (!outcome.ModelNotFound || rn.model == "") {
				// an unknown item of the client's (a held 400 was settled
				// above); a request that names no model (a model lookup)
				// blocks nothing
				rn.answered(aw, c)
				return aw.release()
			}
			aw.retryAt = rn.retryAt(rn.fail(c, outcome), outcome)
			rn.logAttempt(c, aw.failStatus, nil, "failing over")
			held, connErr = aw, nil
			rn.served = c
			continue
		}
		if err != nil {
			rn.fail(c, connOutcome(err))
			rn.logAttempt(c, 0, err, "upstream unreachable or silent, failing over")
			held, connErr = nil, err
			continue
		}
		return nil
	}
	if held != nil {
		// the upstream's own failure is not passed on: its body may name
		// the upstream account (OpenAI echoes a masked key), and a 401 of
		// an upstream would read to the client as its own key refused
		return rn.exhausted(w, tried, held)
	}
	if errors.Is(connErr, errFirstEventTimeout) {
		return rn.writeError(w, &ClientError{
			Status:  http.StatusGatewayTimeout,
			Code:    CodeUpstreamTimeout,
			Message: fmt.Sprintf("the %s upstream sent nothing for model %q within the first-event timeout", providersOf(eligible), rn.model),
		})
	}
	if connErr != nil {
		return rn.writeError(w, &ClientError{
			Status:  http.StatusBadGateway,
			Code:    CodeUpstreamUnreachable,
			Message: fmt.Sprintf("the %s upstream for model %q could not be reached", providersOf(eligible), rn.model),
		})
	}
	return rn.unavailable(w, eligible)
}

// answered notes the answer the client is about to get from c, and taps
// its body for token usage.
func (rn *run) answered(aw *attemptWriter, c *auth.Credential) {
	rn.status, rn.served, rn.answer = aw.status, c, aw
	rn.firstByte = time.Since(rn.start)
	rn.usage = newUsageReader(rn.route.Family, rn.route.Endpoint, isEventStream(aw.header))
	aw.tap = rn.usage
	// a held failure released to the client is one even when it is an
	// event stream that opened 200 with an error event
	rn.failed = aw.held
	if l := rn.e.capturer; l != nil && (aw.status >= 400 || rn.failed) && rn.logs(l) {
		// only an error's body is kept, and only so much of it
		aw.capture = newCapture(l.CaptureLimit())
	}
}

// writeError answers with the gateway's own error.
func (rn *run) writeError(w http.ResponseWriter, ce *ClientError) error {
	rn.status, rn.gateway = ce.Status, ce
	rn.emitError(nil, ce.Status, ce.Code, ce.Message)
	return WriteError(w, rn.route.Family, ce)
}

// emitError reports a failure to the recorders.
func (rn *run) emitError(c *auth.Credential, status int, code, message string) {
	if len(rn.e.opts.Recorders) == 0 {
		return
	}
	f := outcome.Failure{Time: time.Now(), Client: rn.principal, Model: rn.model, Status: status, Code: code, Message: message}
	if c != nil {
		f.Credential, f.Provider, f.Attempt = c.Name, string(c.Provider), rn.attempts
		// the attempt loop goes on to another credential after it
		f.Retryable = true
		blocked, until := rn.v.pool.BlockedBy(c, rn.model)
		f.Blocked, f.Until = string(blocked), until
	} else {
		// the client may come back later
		f.Retryable = status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusBadGateway
	}
	for _, r := range rn.e.opts.Recorders {
		r.Failure(f)
	}
}

// try runs one attempt of c and settles a stream that ended while held.
func (rn *run) try(w http.ResponseWriter, c *auth.Credential, d selector.Decision) (*attemptWriter, *attemptCredential, error) {
	aw := newAttemptWriter(w, true)
	aw.onAnswer = func(h http.Header) { rn.quota = rn.e.sawQuota(rn.v.pool, c, h) }
	aw.onHeader = func(status int, _ http.Header) {
		rn.recordCommitted(c, d, status)
		rn.answered(aw, c)
		// no later attempt replays the body: it goes back to the pool
		// once the upstream has read it, not when a long stream ends;
		// unless the request log is to show it (request_log all, or an
		// error that goes to the client as it is)
		if l := rn.e.capturer; l == nil || !rn.logs(l) {
			rn.body.release()
		}
	}
	rn.publish(c)
	ac := &attemptCredential{cred: c}
	aw.ac = ac
	start := time.Now()
	err := rn.attempt(aw, ac)
	if err == nil {
		err = aw.finish()
	}
	if aw.clock.expired() {
		err = aw.clock.err()
	}
	rn.attempted(c, ac, aw, start, err)
	return aw, ac, err
}

// connOutcome describes an attempt that got no answer: a connection
// failure, an upstream that sent nothing in time, or an OAuth credential
// whose token could not be had; a revoked refresh token disables the
// credential.
func connOutcome(err error) auth.Outcome {
	if errors.Is(err, errFirstEventTimeout) {
		return auth.Outcome{Message: silentMessage(err)}
	}
	var te *tokenError
	if !errors.As(err, &te) {
		return auth.Outcome{}
	}
	if errors.Is(te.err, oauth.ErrRevoked) {
		return auth.Outcome{Status: http.StatusUnauthorized, Revoked: true, Message: te.err.Error()}
	}
	return auth.Outcome{Message: "oauth token refresh failed"}
}

// waitForRecovery sleeps until the nearest recovery of an untried
// credential when it is no further than MaxRetryInterval, plus a little
// jitter so waiting requests do not arrive together. It reports whether it
// waited.
func (rn *run) waitForRecovery(eligible, tried []*auth.Credential) bool {
	limit := rn.e.opts.MaxRetryInterval
	if limit <= 0 {
		return false
	}
	var soonest time.Time
	for _, c := range eligible {
		if containsCred(tried, c) {
			continue
		}
		if ok, until := rn.v.pool.Available(c, rn.model); !ok && !until.IsZero() && (soonest.IsZero() || until.Before(soonest)) {
			soonest = until
		}
	}
	if soonest.IsZero() {
		return false
	}
	wait := soonest.Sub(rn.v.pool.Now())
	if wait > limit {
		return false
	}
	wait += time.Duration(rand.Int64N(int64(wait/10) + int64(50*time.Millisecond)))
	return rn.sleep(wait)
}

// available returns the eligible credentials not yet tried that are not
// blocked for the model: eligible itself, without an allocation, when that
// is all of them.
func (rn *run) available(eligible, tried []*auth.Credential) []*auth.Credential {
	var out []*auth.Credential
	for i, c := range eligible {
		ok := !containsCred(tried, c)
		if ok {
			ok, _ = rn.v.pool.Available(c, rn.model)
		}
		switch {
		case out != nil && ok:
			out = append(out, c)
		case out == nil && !ok:
			out = make([]*auth.Credential, i, len(eligible))
			copy(out, eligible[:i])
		}
	}
	if out == nil {
		return eligible
	}
	return out
}

// refusedClient notes that c's subscription account refused the request
// as not coming from its own client: nothing cools (the account is fine
// for its own client), and a session bound to c finds a new home.
func (rn *run) refusedClient(c *auth.Credential) {
	rn.emitError(c, http.StatusBadRequest, CodeNoCredentialForClient, "the subscription account refused a client that is not its own")
	if a := rn.e.opts.Affinity; a != nil {
		a.Failed(rn.sess, c, true)
	}
}

// retryAt is when a credential that failed with outcome and is blocked
// until until may be back: a credential that does not cool still tells
// when to return.
func (rn *run) retryAt(until time.Time, outcome auth.Outcome) time.Time {
	if until.IsZero() && outcome.Hint.RetryAfter > 0 {
		return rn.v.pool.Now().Add(outcome.Hint.RetryAfter)
	}
	return until
}

// pick chooses the credential of the next attempt among the eligible
// credentials that are available and not yet tried; nil when there is
// none. A session whose home serves it costs no walk over the pool.
func (rn *run) pick(key string, eligible, tried []*auth.Credential) selector.Decision {
	a := rn.e.opts.Affinity
	pl := selector.Placement{Quota: rn.e.opts.Quota, Levels: rn.v.levels}
	if a == nil || rn.sess.Key == "" {
		return selector.Decision{Credential: pl.Pick(rn.e.opts.Selector, key, rn.available(eligible, tried))}
	}
	avail := func() []*auth.Credential { return rn.available(eligible, tried) }
	d := a.PickPlaced(key, rn.sess, avail, func(name string) (*auth.Credential, bool, time.Time) {
		c := rn.v.pool.Get(name)
		if c == nil || !rn.v.servesRoute(c, rn.route) || !rn.v.serves(c, rn.model, rn.principal) {
			return nil, false, time.Time{}
		}
		ok, until := rn.v.pool.Available(c, rn.model)
		return c, ok && !containsCred(tried, c), until
	}, pl)
	if name, ok := affinityNames[d.Outcome]; ok {
		rn.affinity = append(rn.affinity, name)
	}
	return d
}

// attempt proxies the request once with credential c.
func (rn *run) attempt(aw *attemptWriter, ac *attemptCredential) error {
	c := ac.cred
	ep := rn.v.endpoints[c]
	req := new(http.Request)
	*req = *rn.r
	u := *rn.r.URL
	u.Path = ep.path(rn.upstreamPath(c))
	u.RawPath = ""
	u.RawQuery = rn.query
	req.URL = &u
	req.RequestURI = ""
	req.Host = ep.host
	// the secret is added by Transport; the proxy only sees the rest.
	// Shared by every attempt, not copied: reverse_proxy copies it before
	// it changes anything, and an attempt that changes it here copies it
	// first (withoutContentEncoding)
	req.Header = rn.header
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	ac.haltable = true
	aw.halt = func() {
		ac.halted.Store(true)
		cancel()
	}
	req = req.WithContext(withCredential(ctx, ac))
	var rd io.ReadCloser
	if rn.body != nil {
		// a replay sends the whole body, and a body rewritten for a
		// prefixed credential is rewritten whole: what is left of it
		// arrives first
		if err := rn.body.ready(c.Prefix != ""); err != nil {
			return err
		}
		rd = rn.body.reader()
		// the transport closes it once done with it; this closes it
		// also when the attempt panics or the transport is still
		// sending an answered request (the send then fails: the
		// attempt is over), so the body is freed and its spool file
		// removed when the request ends
		defer rd.Close()
		req.Body = rd
		req.ContentLength = rn.body.size()
	} else {
		req.Body = http.NoBody
		req.ContentLength = 0
	}
	rn.startClock(aw, rd)
	defer aw.clock.stop()
	req.GetBody = nil
	if b, ok := rn.prefixedBody(c); ok {
		_ = req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.ContentLength = int64(len(b))
		withoutContentEncoding(req) // the rewritten body is the decoded one
	}

	var out http.ResponseWriter = aw
	var unwrap *codeAssistWriter
	if c.Provider == auth.GeminiCLI {
		unwrap = rn.toCodeAssist(req, &u, ep, c, aw)
		out = unwrap
	}

	rn.repl.Set(UpstreamPlaceholder, ep.dial)
	proxy := rn.e.opts.Proxy
	if ep.tls {
		proxy = rn.e.opts.TLSProxy
	}
	err := serveProxy(proxy, aw, out, req)
	if err == nil && unwrap != nil {
		err = unwrap.finish()
	}
	return err
}

// toCodeAssist turns a Gemini request into its Code Assist form for c's
// project and returns the writer that unwraps the answer.
func (rn *run) toCodeAssist(req *http.Request, u *url.URL, ep endpoint, c *auth.Credential, aw *attemptWriter) *codeAssistWriter {
	stream := rn.route.Endpoint == "streamGenerateContent"
	clientSSE := rn.r.URL.Query().Get("alt") == "sse"
	u.Path = ep.basePath + "/v1internal:" + rn.route.Endpoint
	u.RawQuery = ""
	if stream {
		u.RawQuery = "alt=sse"
	}
	var inner []byte
	if rn.body != nil {
		inner = rn.body.inspect()
	}
	wrapped := codeAssistBody(rn.upstreamModel(c), c.ProjectID, inner)
	if rn.route.Endpoint == "countTokens" {
		wrapped = codeAssistCountBody(rn.upstreamModel(c), inner)
	}
	_ = req.Body.Close() // the pooled body is not sent; the envelope is
	req.Body = io.NopCloser(bytes.NewReader(wrapped))
	req.ContentLength = int64(len(wrapped))
	withoutContentEncoding(req) // the envelope carries the decoded body
	return newCodeAssistWriter(aw, stream && !clientSSE)
}

// errAborted stands for reverse_proxy's panic(http.ErrAbortHandler) when
// an upstream stream breaks before anything reached the client.
var errAborted = errors.New("upstream stream aborted")

// errBrokeOff stands for the same panic once part of the answer reached the
// client: the request is recorded as failed, and the abort is raised again
// when the request has been reported (see run.abort).
var errBrokeOff = errors.New("upstream stream broke off after the answer began")

// serveProxy runs the proxy and turns its abort of a stream into an error:
// one that never reached the client can fail over; one the client has seen
// part of cannot, and is recorded before its abort goes on.
func serveProxy(proxy caddyhttp.MiddlewareHandler, aw *attemptWriter, out http.ResponseWriter, req *http.Request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler { //nolint:errorlint // a recovered panic value, never wrapped
				panic(v)
			}
			err = errAborted
			if aw.committed {
				err = errBrokeOff
			}
		}
	}()
	return proxy.ServeHTTP(out, req, noNext)
}

// recordCommitted applies an answer that goes to the client as it is (a
// success or the client's own fault) to the credential and the session.
func (rn *run) recordCommitted(c *auth.Credential, d selector.Decision, status int) {
	if status >= 400 {
		return // the client's fault says nothing about the credential
	}
	rn.v.pool.RecordSuccess(c, rn.model)
	if a := rn.e.opts.Affinity; a != nil {
		a.Succeeded(rn.sess, d, c)
	}
}

// outcome reads what a held failure says: its status and every hint of
// when to come back.
func (rn *run) outcome(aw *attemptWriter) auth.Outcome {
	body := aw.body.Bytes()
	out := auth.Outcome{
		Status: aw.failStatus,
		Hint:   auth.ParseHint(aw.header, body, rn.v.pool.Now()),
	}
	if aw.failStatus == http.StatusNotFound {
		out.ModelNotFound = modelNotFound(body)
	}
	if aw.status == http.StatusOK {
		out.Message = "event stream opened with an error"
	}
	return out
}

// fail records a failed attempt of c and returns until when c is blocked
// for the model.
func (rn *run) fail(c *auth.Credential, outcome auth.Outcome) time.Time {
	until := rn.v.pool.RecordFailure(c, rn.model, outcome)
	if len(rn.e.opts.Recorders) > 0 {
		msg := outcome.Message
		if msg == "" {
			msg = http.StatusText(outcome.Status)
			if outcome.Status == 0 {
				msg = "upstream connection failed"
			}
		}
		rn.emitError(c, outcome.Status, "", msg)
	}
	if a := rn.e.opts.Affinity; a != nil {
		a.Failed(rn.sess, c, terminal(outcome.Status))
	}
	return until
}

// affinityNames are the outcome.Affinity values, by selector.Outcome.
var affinityNames = map[selector.Outcome]string{
	selector.Hit:    outcome.AffinityHit,
	selector.Miss:   outcome.AffinityMiss,
	selector.Rebind: outcome.AffinityRebind,
	selector.Detour: outcome.AffinityDetour,
}

// providersOf names the providers among creds, for error messages.
func providersOf(creds []*auth.Credential) string {
	var names []string
	for _, c := range creds {
		if !slices.Contains(names, string(c.Provider)) {
			names = append(names, string(c.Provider))
		}
	}
	return strings.Join(names, "/")
}

// publish sets the placeholders and log fields naming the credential that
// serves the current attempt. Nothing published is secret.
func (rn *run) publish(c *auth.Credential) {
	rn.repl.Set(PlaceholderCredential, c.Name)
	rn.repl.Set(PlaceholderProvider, string(c.Provider))
	rn.repl.Set(PlaceholderAttempts, rn.attempts)
	if extra, ok := rn.r.Context().Value(caddyhttp.ExtraLogFieldsCtxKey).(*caddyhttp.ExtraLogFields); ok {
		extra.Set(zap.String("cliproxy_credential", c.Name))
		extra.Set(zap.Int("cliproxy_attempts", rn.attempts))
		if rn.session != "" {
			extra.Set(zap.String("cliproxy_session", rn.session))
		}
	}
}

func (rn *run) logAttempt(c *auth.Credential, status int, err error, msg string) {
	if ce := rn.e.opts.Logger.Check(zapcore.DebugLevel, msg); ce != nil {
		fields := []zap.Field{
			zap.String("credential", c.Name),
			zap.String("model", rn.model),
			zap.Int("status", status),
			zap.Int("attempt", rn.attempts),
		}
		if err != nil {
			fields = append(fields, zap.String("error", describeProxyError(err)))
		}
		ce.Write(fields...)
	}
}

// describeProxyError names a proxy failure without echoing its text, which
// may carry upstream URLs.
func describeProxyError(err error) string {
	if errors.Is(err, errFirstEventTimeout) {
		return silentMessage(err)
	}
	var he caddyhttp.HandlerError
	if errors.As(err, &he) {
		return "proxy error status " + strconv.Itoa(he.StatusCode)
	}
	return "proxy error"
}

// withoutContentEncoding drops req's Content-Encoding, on a copy of its
// header: the header is the request's, shared by its attempts.
func withoutContentEncoding(req *http.Request) {
	if req.Header.Get("Content-Encoding") != "" {
		req.Header = req.Header.Clone()
		req.Header.Del("Content-Encoding")
	}
}
