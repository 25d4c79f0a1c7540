package executor

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

func init() {
	caddy.RegisterModule(Transport{})
}

// Transport is the reverse proxy transport of cliproxy's embedded proxies:
// Caddy's HTTP transport (every option of it applies), plus the injection
// of the attempt's upstream credential at the last moment.
//
// The secret is added to a copy of the request inside RoundTrip, so it never
// sits in a request that the reverse proxy logs, places in placeholders or
// hands to other handlers.
type Transport struct {
	reverseproxy.HTTPTransport

	proxied *proxiedTransports
}

// proxiedTransports are clones of the transport that leave through a
// credential's own egress proxy, one per proxy URL.
type proxiedTransports struct {
	mu    sync.Mutex
	byURL map[string]*http.Transport
}

// Provision sets up Caddy's HTTP transport.
func (t *Transport) Provision(ctx caddy.Context) error {
	t.proxied = &proxiedTransports{byURL: make(map[string]*http.Transport)}
	return t.HTTPTransport.Provision(ctx)
}

// Cleanup closes the idle connections of every transport.
func (t *Transport) Cleanup() error {
	if t.proxied != nil {
		t.proxied.mu.Lock()
		for _, tr := range t.proxied.byURL {
			tr.CloseIdleConnections()
		}
		t.proxied.mu.Unlock()
	}
	return t.HTTPTransport.Cleanup()
}

// caddyProxyVar is the request variable through which Caddy's HTTP
// transport learns that a request is dialled to a proxy.
const caddyProxyVar = "reverse_proxy.proxy"

// credentialProxy marks that variable as set for a credential's proxy.
type credentialProxy struct{ url *url.URL }

// via returns the transport that sends through proxy.
func (t *Transport) via(proxy *url.URL) *http.Transport {
	key := proxy.String()
	t.proxied.mu.Lock()
	defer t.proxied.mu.Unlock()
	tr := t.proxied.byURL[key]
	if tr == nil {
		tr = t.HTTPTransport.Transport.Clone()
		tr.Proxy = func(req *http.Request) (*url.URL, error) {
			// Caddy's dialer dials the upstream's address itself unless
			// the request's vars say a proxy is in the way
			caddyhttp.SetVar(req.Context(), caddyProxyVar, credentialProxy{proxy})
			return proxy, nil
		}
		t.proxied.byURL[key] = tr
	}
	return tr
}

// CaddyModule returns the Caddy module information.
func (Transport) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.reverse_proxy.transport.cliproxy",
		New: func() caddy.Module { return new(Transport) },
	}
}

type credentialCtxKey struct{}

// attemptCredential is what the transport needs of an attempt: the
// credential, and a place to note the OAuth token it sent, so that a 401
// can invalidate exactly that token.
type attemptCredential struct {
	cred      *auth.Credential
	sentToken string
	// haltable marks an attempt the executor may halt (see halted); only
	// such an attempt's response body is wrapped.
	haltable bool
	// halted is set when the executor ended the attempt on purpose (no
	// first event in time, or a first event that fails over): its
	// cancelled upstream request then ends like a finished one instead of
	// reading as a broken connection, which would make the proxy answer
	// 499, log an error or abort the client's connection.
	halted atomic.Bool
}

// errHalted is the round trip of an attempt halted before its answer came.
var errHalted = errors.New("upstream request halted by the gateway")

// attemptBody is the body of an attempt's answer. It ends at EOF once its
// attempt was halted, whatever error the cancelled read returned, and
// scrubs the trailers that arrive with its end.
type attemptBody struct {
	io.ReadCloser
	a      *attemptCredential
	res    *http.Response
	secret string
}

func (b *attemptBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		scrubResponseHeader(b.res.Trailer, b.secret)
	case err != nil && b.a.halted.Load():
		err = io.EOF
	}
	return n, err
}

// withCredential returns ctx carrying the credential whose secret the
// transport injects.
func withCredential(ctx context.Context, a *attemptCredential) context.Context {
	return context.WithValue(ctx, credentialCtxKey{}, a)
}

// errNoCredential means a request reached the transport without going
// through the executor; it is refused rather than sent without a key.
var errNoCredential = errors.New("cliproxy transport: request carries no credential")

// RoundTrip sends req with its credential's secret and headers added.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	a, _ := req.Context().Value(credentialCtxKey{}).(*attemptCredential)
	if a == nil {
		return nil, errNoCredential
	}
	secret := a.cred.APIKey
	if a.cred.OAuth != nil {
		token, err := a.cred.OAuth.Access(req.Context())
		if err != nil {
			return nil, &tokenError{err: err}
		}
		secret, a.sentToken = token, token
	}
	out := req.WithContext(req.Context())
	out.Header = req.Header.Clone()
	injectCredential(out.Header, a.cred, secret)
	res, err := t.roundTrip(out, a)
	if err != nil {
		if a.halted.Load() {
			return nil, errHalted
		}
		return nil, err
	}
	// before the proxy logs the headers or copies them to anyone
	scrubResponseHeader(res.Header, secret)
	if a.haltable {
		res.Body = &attemptBody{ReadCloser: res.Body, a: a, res: res, secret: secret}
	}
	return res, nil
}

// roundTrip sends out directly or through the credential's egress proxy.
func (t *Transport) roundTrip(out *http.Request, a *attemptCredential) (*http.Response, error) {
	if a.cred.ProxyURL != nil && t.proxied != nil && t.HTTPTransport.Transport != nil {
		t.HTTPTransport.SetScheme(out)
		return t.via(a.cred.ProxyURL).RoundTrip(out)
	}
	if _, ours := caddyhttp.GetVar(out.Context(), caddyProxyVar).(credentialProxy); ours {
		// an earlier attempt of this request went through a credential's
		// proxy; this one goes direct (or through the transport's own)
		caddyhttp.SetVar(out.Context(), caddyProxyVar, nil)
	}
	return t.HTTPTransport.RoundTrip(out)
}

// Interface guards
var (
	_ http.RoundTripper         = (*Transport)(nil)
	_ caddy.Provisioner         = (*Transport)(nil)
	_ caddy.CleanerUpper        = (*Transport)(nil)
	_ reverseproxy.TLSTransport = (*Transport)(nil)
	_ reverseproxy.H2CTransport = (*Transport)(nil)
)

// tokenError is a failure to get an OAuth access token; the attempt fails
// like a connection error, and the cause is kept for the health record.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return "getting oauth access token: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// noRedirects is a client over transport that returns a redirect as the
// answer instead of following it: the transport adds the credential's
// secret to every request of the attempt, so a followed redirect would
// hand it to whichever host the upstream named.
func noRedirects(transport http.RoundTripper) *http.Client {
	return &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
