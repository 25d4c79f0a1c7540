package executor

import (
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-cliproxy/cliproxy/access"
	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/outcome"
	"github.com/caddy-cliproxy/cliproxy/selector"
	"github.com/caddy-cliproxy/cliproxy/session"
)

// UpstreamPlaceholder is the replacer key whose value is the dial address of
// the current attempt; the embedded reverse proxies dial "{" + it + "}".
const UpstreamPlaceholder = "http.cliproxy.upstream"

// The placeholders a request's outcome is published under.
const (
	PlaceholderCredential = "http.cliproxy.credential"
	PlaceholderProvider   = "http.cliproxy.provider"
	PlaceholderSession    = "http.cliproxy.session"
	PlaceholderAttempts   = "http.cliproxy.attempts"
)

// Options configures an Executor.
type Options struct {
	// Pool holds the credentials and their health.
	Pool *auth.Pool
	// Selector picks among available credentials (of the highest tier).
	Selector selector.Selector
	// Affinity, when set, keeps sessions on their credentials; its Next is
	// normally Selector.
	Affinity *selector.Affinity
	// Quota keeps new sessions off credentials whose usage window is
	// nearly spent and moves bound sessions at its move threshold; nil
	// places without regard to usage (the windows are still read).
	Quota *selector.Quota
	// SeparateSubagents gives each Claude Code subagent a binding of its
	// own instead of its parent's.
	SeparateSubagents bool
	// Proxy serves attempts to plain-HTTP upstreams and TLSProxy those to
	// HTTPS upstreams. Both dial the address in UpstreamPlaceholder.
	Proxy, TLSProxy caddyhttp.MiddlewareHandler
	// Transport and TLSTransport carry the connections the executor opens
	// itself, to plain-HTTP and HTTPS upstreams: WebSocket upstreams and
	// the HTTP bridge of WebSocket clients. They add the attempt's secret
	// like the proxies' transport (normally they are it). Without them
	// WebSocket clients are refused.
	Transport, TLSTransport http.RoundTripper
	// MaxAttempts bounds the credentials tried for one request. Zero, the
	// default, tries every credential that may serve the request once, at
	// most MaxAttemptsCap, so a request fails only when no credential
	// could answer it.
	MaxAttempts int
	// MaxRetryInterval is how long a request may wait for the nearest
	// recovery when every credential is cooling; 0 answers at once.
	MaxRetryInterval time.Duration
	// MaxBody bounds the request body size.
	MaxBody int64
	// BodyBudget bounds the request bodies held in memory at once, and
	// may be shared by several executors; a body that would take it past
	// its limit is held in a file in BodySpoolDir instead. Nil holds every
	// body in memory.
	BodyBudget *BodyBudget
	// BodySpoolDir is where bodies over the budget are spooled, as 0600
	// files removed when their request ends; "" is the system's
	// temporary directory.
	BodySpoolDir string
	// BodyReadTimeout bounds the time a client has to send its request
	// body, unless the server sets timeouts { read_body }, which then
	// applies alone; past it the request is refused with 408 and its
	// connection closed. 0: no bound of the gateway's own.
	BodyReadTimeout time.Duration
	// FirstEventTimeout bounds the wait from sending an attempt's request
	// to its answer's first complete event (an event stream) or first body
	// byte (anything else); past it, before anything reached the client,
	// the credential rests like after a connection error and the request
	// moves on. 0 waits for ever.
	FirstEventTimeout time.Duration
	// StreamHeaderTimeout bounds the wait from sending an attempt of a
	// request that asks for a streamed answer to the answer's response
	// headers, which providers send before the model writes; past it the
	// attempt is given up as with FirstEventTimeout. A whole answer's
	// headers come with it, so requests for one are not bounded by it.
	// 0 sets no such bound.
	StreamHeaderTimeout time.Duration
	// Logger receives per-attempt debug logs; never a secret.
	Logger *zap.Logger
	// Recorders keep what every request leaves behind (metrics, usage
	// totals and log, request log, cluster events), called in order. The
	// first that is an outcome.Capturer gets the full record of the
	// requests it wants.
	Recorders []outcome.Recorder
	// OAuthClients is which clients the pool's OAuth accounts serve when
	// an account does not say: official (also for "") keeps each on its
	// own CLI, any opens it to every client.
	OAuthClients auth.OAuthClients
}

// MaxAttemptsCap bounds the attempts of a request when Options.MaxAttempts
// is zero: a large pool is not walked to its end by one request.
const MaxAttemptsCap = 8

// attemptsFor is how many credentials a request with candidates eligible
// credentials may try.
func (e *Executor) attemptsFor(eligible int) int {
	if e.opts.MaxAttempts > 0 {
		return e.opts.MaxAttempts
	}
	return max(1, min(eligible, MaxAttemptsCap))
}

// Executor serves routed, authenticated client requests from the pool.
type Executor struct {
	opts Options
	cur  atomic.Pointer[view]
	// capturer is the first recorder that wants full records, or nil.
	capturer outcome.Capturer
	// models caches the upstreams' own model lists.
	models modelLists
}

// New builds an executor, resolving every credential's upstream.
func New(opts Options) (*Executor, error) {
	if opts.Pool == nil || opts.Selector == nil || opts.Proxy == nil || opts.TLSProxy == nil {
		return nil, errors.New("building executor: pool, selector and proxies are required")
	}
	if opts.MaxAttempts < 0 {
		opts.MaxAttempts = 0
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	e := &Executor{opts: opts}
	for _, r := range opts.Recorders {
		if c, ok := r.(outcome.Capturer); ok {
			e.capturer = c
			break
		}
	}
	if err := e.SetPool(opts.Pool); err != nil {
		return nil, err
	}
	return e, nil
}

// SetPool makes p the pool that new requests are served from; requests
// under way finish with the pool they started with. The auth directory
// uses it when its files change.
func (e *Executor) SetPool(p *auth.Pool) error {
	v, err := newView(p, e.opts.OAuthClients)
	if err != nil {
		return fmt.Errorf("building executor: %w", err)
	}
	e.cur.Store(v)
	return nil
}

// Pool is the pool new requests are served from.
func (e *Executor) Pool() *auth.Pool { return e.cur.Load().pool }

// Serve answers r, which Resolve mapped to route and the caller has
// authenticated as principal, from the pool.
func (e *Executor) Serve(w http.ResponseWriter, r *http.Request, route Route, principal string) error {
	if route.WebSocket {
		return e.serveWebSocket(w, r, route, principal)
	}
	if route.Endpoint == "models" {
		return e.serveModels(w, r, route, principal)
	}
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil {
		return caddyhttp.Error(http.StatusInternalServerError, errors.New("serving request: no replacer in context"))
	}
	rn := &run{e: e, r: r, w: w, route: route, principal: principal, repl: repl, requestID: requestIDOf(repl), start: time.Now()}
	// finish reports the request and then releases its body, which the
	// request log reads; a stream that broke off is aborted after that
	defer func() {
		rn.finish()
		if rn.abort {
			panic(http.ErrAbortHandler)
		}
	}()
	if route.HasBody {
		b, err := openBody(w, r, e.bodyConfig(r), e.streamable(r, route))
		if err != nil {
			return rn.bodyError(w, err)
		}
		rn.body = b
	}
	b := rn.body
	model := route.Model
	if model == "" && b != nil && !b.complete() {
		model = b.src.model
	} else if model == "" && b != nil {
		var err error
		if model, err = bodyModel(b.inspect()); err != nil {
			return rn.writeError(w, &ClientError{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: err.Error()})
		}
	}
	if !validModel(model) {
		// the model keys cursors, bindings and health states: a client
		// must not be able to make them large
		return rn.writeError(w, &ClientError{
			Status:  http.StatusBadRequest,
			Code:    CodeInvalidRequest,
			Message: fmt.Sprintf("model names are at most %d printable bytes", maxModelLength),
		})
	}
	rn.model = model
	var sess selector.Session
	var sid string
	if e.opts.Affinity != nil {
		// nil for a body still arriving: its session is in the headers
		var inspect []byte
		if b != nil {
			inspect = b.inspect()
		}
		sess, sid = e.sessionOf(r, inspect, route, principal, model)
	} else {
		sid = session.FromHeaders(r.Header).String()
	}
	repl.Set(PlaceholderSession, sid)
	rn.session, rn.sess = sid, sess

	v := e.cur.Load()
	rn.v = v
	eligible := v.eligible(route, model, principal)
	if len(eligible) == 0 && v.refusesClient(route, model, principal) {
		return rn.writeError(w, noCredentialForClient(route, model))
	}
	if len(eligible) == 0 {
		return rn.writeError(w, &ClientError{
			Status:  http.StatusNotFound,
			Code:    CodeModelNotSupported,
			Message: fmt.Sprintf("no credential of this gateway serves model %q for %s clients", model, route.Family),
		})
	}

	header := r.Header.Clone()
	upstreamURL := *r.URL
	stripped := &http.Request{Header: header, URL: &upstreamURL}
	access.StripClientCredentials(stripped)
	header.Del("Content-Length")
	// let Go's transport negotiate and decode compression, so hints,
	// stream errors and Code Assist envelopes are read as plain bytes
	header.Del("Accept-Encoding")
	rn.header, rn.query = header, upstreamURL.RawQuery
	return rn.serve(w, eligible)
}

// maxModelLength bounds a model name.
const maxModelLength = 256

func validModel(m string) bool {
	if len(m) > maxModelLength {
		return false
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 0x20 || m[i] == 0x7f {
			return false
		}
	}
	return true
}

// sessionOf works out the binding keys of a request and the session ID
// shown in placeholders. Keys are scoped by family, client and model: two
// members never share a binding, and each model of a conversation is
// placed on its own.
func (e *Executor) sessionOf(r *http.Request, body []byte, route Route, principal, model string) (selector.Session, string) {
	id := session.Extract(r.Header, body, principal)
	if id.ID.IsZero() {
		return selector.Session{}, ""
	}
	scope := route.Family.String() + "::" + principal + "::"
	suffix := "::" + model
	if e.opts.SeparateSubagents && id.Agent != "" {
		suffix = "::agent:" + id.Agent + suffix
	}
	s := selector.Session{Key: scope + id.ID.String() + suffix}
	if !id.Fallback.IsZero() {
		s.Fallback = scope + id.Fallback.String() + suffix
	}
	return s, id.ID.String()
}

func (rn *run) bodyError(w http.ResponseWriter, err error) error {
	e, r := rn.e, rn.r
	ce := &ClientError{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: "the request body could not be read"}
	switch {
	case errors.Is(err, errBodyTooLarge):
		ce = &ClientError{
			Status:  http.StatusRequestEntityTooLarge,
			Code:    CodeRequestTooLarge,
			Message: fmt.Sprintf("request body exceeds this gateway's limit of %d bytes", e.opts.MaxBody),
		}
	case errors.Is(err, errBodyTimeout):
		// what is left of the body is not read: the connection goes
		w.Header().Set("Connection", "close")
		ce = &ClientError{
			Status:  http.StatusRequestTimeout,
			Code:    CodeRequestTimeout,
			Message: "the request body did not arrive in time",
		}
	case errors.Is(err, errSpool):
		e.opts.Logger.Error("request body over body_memory could not be spooled", zap.Error(err))
		ce = &ClientError{
			Status:  http.StatusInsufficientStorage,
			Code:    CodeInsufficientStorage,
			Message: "the gateway could not hold the request body",
		}
	case errors.Is(err, errModelTwice):
		ce.Message = err.Error()
	case errors.Is(err, errUnsupportedEncoding):
		ce = &ClientError{
			Status:  http.StatusUnsupportedMediaType,
			Code:    CodeInvalidRequest,
			Message: "request Content-Encoding must be gzip, zstd or none",
		}
	case r.Context().Err() != nil:
		return nil // the client went away while sending
	}
	return rn.writeError(w, ce)
}

func containsCred(list []*auth.Credential, c *auth.Credential) bool {
	for _, x := range list {
		if x == c {
			return true
		}
	}
	return false
}

var noNext = caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
