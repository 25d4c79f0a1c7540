package executor

import (
	"context"
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2"
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
