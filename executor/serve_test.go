package executor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/executor"
	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
	"github.com/caddy-cliproxy/cliproxy/outcome"
	"github.com/caddy-cliproxy/cliproxy/selector"
	"github.com/caddy-cliproxy/cliproxy/session"
)

// These tests drive Executor.Serve as the module does, but without a Caddy
// server: the request is prepared as Caddy's server prepares it, and the
// attempts go through a real reverse_proxy, loaded from a bare Caddy
// context, to the mock providers.

// recorder is an outcome.Capturer that keeps everything it is told.
type recorder struct {
	mu       sync.Mutex
	wants    func(status int) bool
	attempts []outcome.Attempt
	failures []outcome.Failure
	requests []outcome.Request
}

func (r *recorder) Attempt(a outcome.Attempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, a)
}

func (r *recorder) Failure(f outcome.Failure) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, f)
}

func (r *recorder) Request(req *outcome.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, *req)
}

func (r *recorder) Wants(status int) bool { return r.wants != nil && r.wants(status) }
func (r *recorder) CaptureLimit() int     { return 1 << 10 }

// last is the last finished request the recorder heard of.
func (r *recorder) last(t *testing.T) outcome.Request {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotEmpty(t, r.requests)
	return r.requests[len(r.requests)-1]
}

type harness struct {
	t    *testing.T
	mock *mockupstream.Server
	base *url.URL
	exec *executor.Executor
	rec  *recorder
	pool *auth.Pool
}

// newHarness serves from creds against a mock upstream, with the options
// opt changes.
func newHarness(t *testing.T, opt func(*executor.Options), creds ...*auth.Credential) *harness {
	t.Helper()
	mock := mockupstream.New()
	srv := httptest.NewServer(mock)
	t.Cleanup(srv.Close)
	base, err := url.Parse(srv.URL)
	require.NoError(t, err)
	for _, c := range creds {
		// credentials name the mock by a path only (or not at all)
		if c.BaseURL == nil {
			c.BaseURL = base
		} else if c.BaseURL.Host == "" {
			c.BaseURL, err = url.Parse(srv.URL + c.BaseURL.Path)
			require.NoError(t, err)
		}
		if c.Weight == 0 {
			c.Weight = 1
		}
	}
	pool, err := auth.NewPool(creds)
	require.NoError(t, err)
	sel, err := selector.New(selector.FillFirst)
	require.NoError(t, err)
	proxy := loadProxy(t)
	rec := &recorder{}
	opts := executor.Options{
		Pool: pool, Selector: sel, Proxy: proxy, TLSProxy: proxy,
		MaxAttempts: 3, MaxBody: 1 << 20, Recorders: []outcome.Recorder{rec},
	}
	if opt != nil {
		opt(&opts)
	}
	e, err := executor.New(opts)
	require.NoError(t, err)
	return &harness{t: t, mock: mock, base: base, exec: e, rec: rec, pool: pool}
}

// TestMain loads an empty Caddy config, with no app, server or admin
// endpoint, so that reverse_proxy has a context to be provisioned in. It
// is not autosaved: the user's autosave.json is no test's to write.
func TestMain(m *testing.M) {
	cfg := `{"admin":{"disabled":true,"config":{"persist":false}},"logging":{"logs":{"default":{"level":"ERROR"}}}}`
	if err := caddy.Load([]byte(cfg), true); err != nil {
		fmt.Fprintln(os.Stderr, "loading an empty caddy config:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = caddy.Stop()
	os.Exit(code)
}

// loadProxy loads reverse_proxy as the module configures it: dialling the
// attempt's upstream placeholder through cliproxy's transport.
func loadProxy(t *testing.T) caddyhttp.MiddlewareHandler {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.ActiveContext())
	t.Cleanup(cancel)
	raw, err := json.Marshal(map[string]any{
		"transport":      map[string]any{"protocol": "cliproxy"},
		"upstreams":      []map[string]string{{"dial": "{" + executor.UpstreamPlaceholder + "}"}},
		"flush_interval": -1,
	})
	require.NoError(t, err)
	mod, err := ctx.LoadModuleByID("http.handlers.reverse_proxy", raw)
	require.NoError(t, err)
	return mod.(caddyhttp.MiddlewareHandler)
}

func claude(name string) *auth.Credential {
	return &auth.Credential{Name: name, Provider: auth.Claude, APIKey: "key-" + name}
}

type served struct {
	*httptest.ResponseRecorder
	repl  *caddy.Replacer
	extra *caddyhttp.ExtraLogFields
	err   error
	// aborted says the response was cut off (http.ErrAbortHandler)
	aborted bool
}

// serve sends one request as client alice.
func (h *harness) serve(method, path string, header http.Header, body string) served {
	h.t.Helper()
	return h.serveRequest(newRequest(context.Background(), method, path, header, body))
}

func newRequest(ctx context.Context, method, path string, header http.Header, body string) *http.Request {
	r := httptest.NewRequestWithContext(ctx, method, path, strings.NewReader(body))
	if header != nil {
		r.Header = header.Clone()
	}
	return r
}

// serveRequest serves r as Caddy's server would, as client alice.
func (h *harness) serveRequest(r *http.Request) served {
	h.t.Helper()
	w := httptest.NewRecorder()
	repl := caddy.NewReplacer()
	r = caddyhttp.PrepareRequest(r, repl, w, &caddyhttp.Server{})
	route, ok := executor.Resolve(r)
	require.True(h.t, ok, "%s %s is not a route", r.Method, r.URL.Path)
	out := served{ResponseRecorder: w, repl: repl}
	out.extra, _ = r.Context().Value(caddyhttp.ExtraLogFieldsCtxKey).(*caddyhttp.ExtraLogFields)
	func() {
		// as net/http's server does, an aborted response just ends
		defer func() {
			if v := recover(); v != nil {
				if v != http.ErrAbortHandler { //nolint:errorlint // a panic value
					panic(v)
				}
				out.aborted = true
			}
		}()
		out.err = h.exec.Serve(w, r, route, "alice")
	}()
	return out
}

func anthropicHeader() http.Header {
	return http.Header{
		"Content-Type":      {"application/json"},
		"Anthropic-Version": {"2023-06-01"},
		"X-Api-Key":         {"client-secret-of-alice"},
	}
}

const messages = `{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hello"}]}`

func TestServeInjectsTheCredentialAndRecordsTheOutcome(t *testing.T) {
	h := newHarness(t, nil, claude("a"))
	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.NoError(t, res.err)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.Equal(t, "message", gjson.Get(res.Body.String(), "type").String())

	reqs := h.mock.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "key-a", reqs[0].Header.Get("X-Api-Key"), "the pooled key goes upstream")
	assert.NotContains(t, strings.Join(headerValues(reqs[0].Header), " "), "client-secret-of-alice", "the client's key never does")
	assert.Equal(t, messages, string(reqs[0].Body), "the body goes as it came")

	v, _ := res.repl.Get(executor.PlaceholderCredential)
	assert.Equal(t, "a", v)
	v, _ = res.repl.Get(executor.PlaceholderProvider)
	assert.Equal(t, "claude", v)

	require.Len(t, h.rec.attempts, 1)
	assert.Equal(t, outcome.Attempt{Provider: "claude", Credential: "a", Status: 200, FirstByte: h.rec.attempts[0].FirstByte, Duration: h.rec.attempts[0].Duration}, h.rec.attempts[0])
	assert.Empty(t, h.rec.failures)
	req := h.rec.last(t)
	assert.Equal(t, "a", req.Credential)
	assert.Equal(t, "claude", req.Provider)
	assert.Equal(t, "alice", req.Client)
	assert.Equal(t, "claude-sonnet-4-5", req.Model)
	assert.Equal(t, "anthropic", req.Family)
	assert.Equal(t, 200, req.Status)
	assert.Equal(t, 1, req.Attempts)
	assert.Positive(t, req.Tokens.Input, "the usage the answer reported")
	assert.Positive(t, req.Tokens.Output)
	assert.Positive(t, req.Latency)
	assert.Nil(t, req.Log, "the capturer wanted no record")
}

func headerValues(h http.Header) []string {
	var out []string
	for _, vs := range h {
		out = append(out, vs...)
	}
	return out
}

func TestServeFailsOverAndCoolsTheCredential(t *testing.T) {
	h := newHarness(t, nil, claude("a"), claude("b"))
	h.mock.SetFault("key-a", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "30"})
	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())

	require.Len(t, h.rec.attempts, 2)
	assert.Equal(t, 429, h.rec.attempts[0].Status)
	assert.Equal(t, "a", h.rec.attempts[0].Credential)
	assert.Equal(t, 200, h.rec.attempts[1].Status)
	require.Len(t, h.rec.failures, 1)
	f := h.rec.failures[0]
	assert.Equal(t, "a", f.Credential)
	assert.Equal(t, 429, f.Status)
	assert.Equal(t, 1, f.Attempt)
	assert.Equal(t, "alice", f.Client)
	req := h.rec.last(t)
	assert.Equal(t, "b", req.Credential)
	assert.Equal(t, 2, req.Attempts)
	v, _ := res.repl.Get(executor.PlaceholderAttempts)
	assert.Equal(t, 2, v)

	ok, until := h.pool.Available(h.pool.Get("a"), "claude-sonnet-4-5")
	assert.False(t, ok, "the credential that answered 429 cools")
	assert.WithinDuration(t, time.Now().Add(30*time.Second), until, 5*time.Second, "for as long as the upstream said")

	// the next request goes straight to b
	res = h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.Equal(t, http.StatusOK, res.Code)
	assert.Equal(t, 1, h.rec.last(t).Attempts)
	assert.Len(t, h.mock.RequestsFor("key-a"), 1)
}

func TestServeReturnsTheClientsFaultAsItIs(t *testing.T) {
	h := newHarness(t, nil, claude("a"), claude("b"))
	h.mock.SetFault("*", mockupstream.Fault{Status: http.StatusBadRequest})
	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	assert.Equal(t, http.StatusBadRequest, res.Code)
	assert.Equal(t, "invalid_request_error", gjson.Get(res.Body.String(), "error.type").String(), "the upstream's own error")
	assert.Len(t, h.mock.Requests(), 1, "no failover on a request-level fault")
	assert.Empty(t, h.rec.failures, "the client's fault is nobody's failure")
	ok, _ := h.pool.Available(h.pool.Get("a"), "claude-sonnet-4-5")
	assert.True(t, ok, "and cools nothing")
	assert.Equal(t, "a", h.rec.last(t).Credential)
}

func TestServeAnswersItselfWhenEveryCredentialFails(t *testing.T) {
	h := newHarness(t, nil, claude("a"), claude("b"))
	h.mock.SetFault("*", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "120"})
	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	assert.Equal(t, http.StatusTooManyRequests, res.Code, res.Body.String())
	assert.NotEmpty(t, res.Header().Get("Retry-After"))
	assert.Equal(t, "error", gjson.Get(res.Body.String(), "type").String(), "in Anthropic's error shape")
	require.Len(t, h.rec.failures, 3, "each credential's, then the gateway's own answer")
	assert.Equal(t, []string{"a", "b", ""}, []string{h.rec.failures[0].Credential, h.rec.failures[1].Credential, h.rec.failures[2].Credential})
	assert.Equal(t, "model_cooldown", h.rec.failures[2].Code)

	// both cooling: the gateway answers without asking anyone
	before := len(h.mock.Requests())
	res = h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	assert.Equal(t, http.StatusTooManyRequests, res.Code)
	assert.Equal(t, before, len(h.mock.Requests()))
	req := h.rec.last(t)
	assert.Empty(t, req.Credential, "no credential served the answer")
	assert.Equal(t, 429, req.Status)
	last := h.rec.failures[len(h.rec.failures)-1]
	assert.Empty(t, last.Credential, "the gateway's own answer is a failure without a credential")
	assert.NotEmpty(t, last.Code)
}

func TestServeFailsOverAConnectionError(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL, _ := url.Parse(dead.URL)
	dead.Close()
	a := claude("a")
	a.BaseURL = deadURL
	h := newHarness(t, nil, a, claude("b"))
	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	require.Len(t, h.rec.failures, 1)
	assert.Equal(t, 0, h.rec.failures[0].Status)
	assert.Equal(t, "upstream connection failed", h.rec.failures[0].Message)
	assert.Equal(t, 0, h.rec.attempts[0].Status)
	assert.Zero(t, h.rec.attempts[0].FirstByte, "no answer, no first byte")
	assert.Equal(t, "b", h.rec.last(t).Credential)
}

func TestServeCapturesTheRecordsTheCapturerWants(t *testing.T) {
	h := newHarness(t, nil, claude("a"), claude("b"))
	h.rec.wants = func(status int) bool { return status == 0 || status >= 400 }
	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.Equal(t, http.StatusOK, res.Code)
	assert.Nil(t, h.rec.last(t).Log, "a success is not wanted")

	h.mock.SetFault("key-a", mockupstream.Fault{Status: http.StatusInternalServerError})
	h.mock.SetFault("key-b", mockupstream.Fault{Status: http.StatusBadRequest})
	res = h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.Equal(t, http.StatusBadRequest, res.Code)
	rec := h.rec.last(t).Log
	require.NotNil(t, rec, "a failed request is recorded in full")
	assert.Equal(t, "/v1/messages", rec.Path)
	assert.Equal(t, "alice", rec.Client)
	assert.Equal(t, 400, rec.Status)
	require.Len(t, rec.Attempts, 2)
	assert.Equal(t, "a", rec.Attempts[0].Credential)
	assert.Equal(t, 500, rec.Attempts[0].Status)
	assert.Equal(t, "held back from the client", rec.Attempts[0].Error)
	assert.NotEmpty(t, rec.Attempts[0].Body, "the held failure's body is kept for the log")
	assert.Equal(t, messages, string(rec.RequestBody))
	assert.NotEmpty(t, rec.ResponseBody, "the error the client got")
	assert.Contains(t, rec.Secrets, "key-a", "the record names what the log must redact")
	assert.Contains(t, rec.Secrets, "client-secret-of-alice")
}

func TestServeRefusesAnOversizedBody(t *testing.T) {
	h := newHarness(t, func(o *executor.Options) { o.MaxBody = 64 }, claude("a"))
	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.Code)
	assert.Empty(t, h.mock.Requests())
	assert.Equal(t, 413, h.rec.last(t).Status)
	assert.Zero(t, h.rec.last(t).Attempts)
}

func TestServeRefusesWhatNoCredentialServes(t *testing.T) {
	h := newHarness(t, nil, claude("a"))
	header := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer client-secret-of-alice"}}
	res := h.serve(http.MethodPost, "/v1/chat/completions", header, `{"model":"gpt-5","messages":[]}`)
	assert.GreaterOrEqual(t, res.Code, 400, res.Body.String())
	assert.NotEmpty(t, gjson.Get(res.Body.String(), "error.message").String(), "in OpenAI's error shape")
	assert.Empty(t, h.mock.Requests())
	assert.Empty(t, h.rec.last(t).Credential)
}

func TestServeOpenAIAndGemini(t *testing.T) {
	oa := &auth.Credential{Name: "oa", Provider: auth.OpenAI, APIKey: "sk-oa", BaseURL: &url.URL{Path: "/v1"}}
	gm := &auth.Credential{Name: "gm", Provider: auth.Gemini, APIKey: "AIza-gm"}
	h := newHarness(t, nil, oa, gm)

	header := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer client-secret-of-alice"}}
	res := h.serve(http.MethodPost, "/v1/chat/completions", header, `{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	reqs := h.mock.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "Bearer sk-oa", reqs[0].Header.Get("Authorization"))
	assert.Equal(t, "oa", h.rec.last(t).Credential)
	assert.Equal(t, "openai", h.rec.last(t).Family)

	gh := http.Header{"Content-Type": {"application/json"}, "X-Goog-Api-Key": {"client-secret-of-alice"}}
	res = h.serve(http.MethodPost, "/v1beta/models/gemini-2.5-pro:generateContent", gh, `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	reqs = h.mock.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "AIza-gm", reqs[1].Header.Get("X-Goog-Api-Key"))
	req := h.rec.last(t)
	assert.Equal(t, "gm", req.Credential)
	assert.Equal(t, "gemini-2.5-pro", req.Model, "the model comes from the path")
	assert.Positive(t, req.Tokens.Input)
}

func mustPool(t *testing.T, creds ...*auth.Credential) *auth.Pool {
	t.Helper()
	p, err := auth.NewPool(creds)
	require.NoError(t, err)
	return p
}

func TestServeStreamsAndCountsTheStreamsTokens(t *testing.T) {
	h := newHarness(t, nil, claude("a"))
	body := `{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hello"}]}`
	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), body)
	require.Equal(t, http.StatusOK, res.Code)
	assert.Equal(t, "text/event-stream", strings.Split(res.Header().Get("Content-Type"), ";")[0])
	assert.Contains(t, res.Body.String(), "event: message_stop")
	req := h.rec.last(t)
	assert.Positive(t, req.Tokens.Output, "usage read from the events as they passed")
	assert.Positive(t, req.FirstByte)
}

func TestServeKeepsASessionOnItsCredential(t *testing.T) {
	cache := session.NewCache(time.Hour, 0)
	t.Cleanup(cache.Stop)
	var sel selector.Selector
	h := newHarness(t, func(o *executor.Options) {
		rr, err := selector.New(selector.RoundRobin)
		require.NoError(t, err)
		sel = rr
		o.Selector = rr
		o.Affinity = &selector.Affinity{Next: rr, Bindings: cache}
	}, claude("a"), claude("b"), claude("c"))
	require.NotNil(t, sel)
	header := anthropicHeader()
	header.Set("X-Session-ID", "s-1")
	var creds []string
	for range 3 {
		res := h.serve(http.MethodPost, "/v1/messages", header, messages)
		require.Equal(t, http.StatusOK, res.Code)
		creds = append(creds, h.rec.last(t).Credential)
		v, _ := res.repl.Get(executor.PlaceholderSession)
		assert.NotEmpty(t, v, "the session is published")
	}
	assert.Equal(t, creds[0], creds[1])
	assert.Equal(t, creds[0], creds[2])
	h.rec.mu.Lock()
	affinity := [][]string{h.rec.requests[0].Affinity, h.rec.requests[1].Affinity}
	h.rec.mu.Unlock()
	assert.Equal(t, [][]string{{outcome.AffinityMiss}, {outcome.AffinityHit}}, affinity)

	// without a session nothing is said about affinity
	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), `{"model":"m","max_tokens":1,"messages":[]}`)
	require.Equal(t, http.StatusOK, res.Code)
	assert.Empty(t, h.rec.last(t).Affinity)
}

func TestSetPoolServesNewRequestsFromTheNewPool(t *testing.T) {
	h := newHarness(t, nil, claude("a"))
	b := claude("b")
	b.BaseURL = h.base
	b.Weight = 1
	np := mustPool(t, b)
	require.NoError(t, h.exec.SetPool(np))
	assert.Same(t, np, h.exec.Pool())
	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.Equal(t, http.StatusOK, res.Code)
	assert.Equal(t, "b", h.rec.last(t).Credential)
	assert.Equal(t, "key-b", h.mock.Requests()[0].Header.Get("X-Api-Key"))
}

func TestNewNeedsAPoolASelectorAndProxies(t *testing.T) {
	pool := mustPool(t)
	sel, err := selector.New(selector.RoundRobin)
	require.NoError(t, err)
	proxy := loadProxy(t)
	for name, opts := range map[string]executor.Options{
		"no pool":      {Selector: sel, Proxy: proxy, TLSProxy: proxy},
		"no selector":  {Pool: pool, Proxy: proxy, TLSProxy: proxy},
		"no proxy":     {Pool: pool, Selector: sel, TLSProxy: proxy},
		"no TLS proxy": {Pool: pool, Selector: sel, Proxy: proxy},
	} {
		_, err := executor.New(opts)
		assert.Error(t, err, name)
	}
	e, err := executor.New(executor.Options{Pool: pool, Selector: sel, Proxy: proxy, TLSProxy: proxy})
	require.NoError(t, err)
	assert.Same(t, pool, e.Pool())
}

func TestServeWithoutAReplacerIsAnError(t *testing.T) {
	h := newHarness(t, nil, claude("a"))
	r := httptest.NewRequest(http.MethodPost, "/v1/messages", strings.NewReader(messages))
	route, ok := executor.Resolve(r)
	require.True(t, ok)
	err := h.exec.Serve(httptest.NewRecorder(), r, route, "alice")
	var he caddyhttp.HandlerError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusInternalServerError, he.StatusCode)
	assert.Empty(t, h.mock.Requests())
}
