package cliproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-cliproxy/cliproxy/telemetry"
)

func init() {
	caddy.RegisterModule(RESPListener{})
}

// PeekTimeout bounds the wait for a connection's first byte (and, after
// tls, its TLS handshake). A connection still silent then goes to HTTP,
// whose own timeouts apply.
const PeekTimeout = 10 * time.Second

// RESPListener serves a pool's usage telemetry over the Redis protocol on
// the site's own port: it looks at the first byte of each connection and
// hands one that starts with a RESP type marker (*, $, +, -, :) to the
// RESP server, anything else to HTTP untouched. The wait for the first
// byte happens off the accept path, so a silent client holds nobody back.
//
// Placed before "tls" in a server's listener_wrappers it serves plain RESP
// (TLS clients go on to the TLS listener); after "tls" it serves RESP over
// TLS, and a client that negotiated an ALPN protocol (every browser,
// curl, Go, HTTP/2) goes to HTTP without being peeked at.
type RESPListener struct {
	// Pool names the cliproxy pool whose telemetry RESP clients read.
	// Default: the only pool the config's cliproxy handlers use (an error
	// when they use several).
	Pool string `json:"pool,omitempty"`

	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (RESPListener) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "caddy.listeners.cliproxy_resp",
		New: func() caddy.Module { return new(RESPListener) },
	}
}

// Provision checks the pool against the config's cliproxy handlers.
func (l *RESPListener) Provision(ctx caddy.Context) error {
	l.logger = ctx.Logger()
	var app *caddyhttp.App
	for _, m := range ctx.Modules() {
		if a, ok := m.(*caddyhttp.App); ok {
			app = a
		}
	}
	if app == nil {
		return fmt.Errorf("provisioning cliproxy_resp: it wraps the listeners of an http server only")
	}
	names, err := configuredPools(app)
	if err != nil {
		return fmt.Errorf("provisioning cliproxy_resp: %w", err)
	}
	switch {
	case l.Pool != "" && !slices.Contains(names, l.Pool):
		return fmt.Errorf("provisioning cliproxy_resp: no cliproxy handler uses pool %q (pools: %s)", l.Pool, strings.Join(names, ", "))
	case l.Pool != "":
	case len(names) == 1:
		l.Pool = names[0]
	case len(names) == 0:
		return fmt.Errorf("provisioning cliproxy_resp: the config has no cliproxy handler whose telemetry to serve")
	default:
		return fmt.Errorf("provisioning cliproxy_resp: the cliproxy handlers use several pools (%s); name one: cliproxy_resp <pool>", strings.Join(names, ", "))
	}
	return nil
}

// configuredPools lists the pools of the cliproxy handlers in app's
// config, sorted. The handlers are not provisioned yet when listener
// wrappers are, so their JSON is read, subroutes included.
func configuredPools(app *caddyhttp.App) ([]string, error) {
	var names []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["handler"] == "cliproxy" {
				name, _ := v["pool"].(string)
				if name == "" {
					name = DefaultPool
				}
				if !slices.Contains(names, name) {
					names = append(names, name)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var routes []caddyhttp.Route
	for _, srv := range app.Servers {
		routes = append(routes, srv.Routes...)
		if srv.Errors != nil {
			routes = append(routes, srv.Errors.Routes...)
		}
		for _, r := range srv.NamedRoutes {
			if r != nil {
				routes = append(routes, *r)
			}
		}
	}
	for _, r := range routes {
		for _, raw := range r.HandlersRaw {
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, fmt.Errorf("reading handler config: %w", err)
			}
			walk(v)
		}
	}
	slices.Sort(names)
	return names, nil
}

// UnmarshalCaddyfile sets up the wrapper from Caddyfile tokens. Syntax:
//
//	cliproxy_resp [<pool>]
func (l *RESPListener) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume wrapper name
	if d.NextArg() {
		l.Pool = d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	if d.NextBlock(0) {
		return d.Errf("cliproxy_resp takes no block")
	}
	return nil
}

// WrapListener sorts ln's connections between the RESP server and HTTP.
func (l *RESPListener) WrapListener(ln net.Listener) net.Listener {
	pool := l.Pool
	srv, err := telemetry.NewServer(telemetry.ServerOptions{
		Backend: func() (telemetry.Backend, error) { return poolTelemetry(pool) },
		Addr:    ln.Addr(),
		Logger:  l.logger,
	})
	if err != nil {
		// cannot happen: the backend is set; serve HTTP alone rather
		// than nothing
		l.logger.Error("starting the resp server", zap.Error(err))
		return ln
	}
	return newRESPMux(ln, srv, l.logger)
}

// respMux is a listener that accepts in the background, peeks at each
// connection on a goroutine of its own, and returns from Accept only the
// connections that are not RESP.
type respMux struct {
	net.Listener
	srv    *telemetry.Server
	logger *zap.Logger

	conns  chan net.Conn
	done   chan struct{}
	failed chan struct{} // closed once err is set
	err    error         // the inner listener's permanent error
	once   sync.Once
}

func newRESPMux(ln net.Listener, srv *telemetry.Server, logger *zap.Logger) *respMux {
	m := &respMux{
		Listener: ln, srv: srv, logger: logger,
		conns: make(chan net.Conn), done: make(chan struct{}), failed: make(chan struct{}),
	}
	go m.acceptLoop()
	return m
}

// Accept returns the next connection that is not RESP.
func (m *respMux) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case <-m.failed:
		return nil, m.err
	case <-m.done:
		return nil, &net.OpError{Op: "accept", Net: m.Addr().Network(), Addr: m.Addr(), Err: net.ErrClosed}
	}
}

// Close stops accepting, and ends the RESP connections.
func (m *respMux) Close() error {
	var err error
	m.once.Do(func() {
		close(m.done)
		err = m.Listener.Close()
		_ = m.srv.Close()
	})
	return err
}

func (m *respMux) closed() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// acceptLoop accepts until the listener fails for good. Temporary
// failures (too many open files; the past deadline a sibling server sets
// on a shared socket during a reload) are retried after a pause, as
// net/http does.
func (m *respMux) acceptLoop() {
	var pause time.Duration
	for {
		c, err := m.Listener.Accept()
		if err == nil {
			pause = 0
			go m.sort(c)
			continue
		}
		if m.closed() {
			return
		}
		var te interface{ Temporary() bool }
		var ne net.Error
		if (errors.As(err, &ne) && ne.Timeout()) || (errors.As(err, &te) && te.Temporary()) {
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(pause):
			case <-m.done:
				return
			}
			continue
		}
		m.err = err
		close(m.failed)
		return
	}
}

// sort hands c to the RESP server or to HTTP by its first byte.
func (m *respMux) sort(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(PeekTimeout))
	tc, isTLS := c.(*tls.Conn)
	if isTLS {
		ctx, cancel := context.WithTimeout(context.Background(), PeekTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil || tc.ConnectionState().NegotiatedProtocol != "" {
			// HTTP's own handshake reports the error as it always does;
			// an ALPN protocol is spoken only by HTTP clients here
			_ = c.SetDeadline(time.Time{})
			m.toHTTP(c)
			return
		}
	}
	br := bufio.NewReaderSize(c, 16)
	first, err := br.Peek(1)
	var ne net.Error
	switch {
	case err != nil && errors.As(err, &ne) && ne.Timeout():
		// silent for too long: HTTP's timeouts decide; nothing was read,
		// so the connection goes as it came
		_ = c.SetDeadline(time.Time{})
		m.toHTTP(c)
		return
	case err != nil:
		_ = c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	pc := &peekedConn{Conn: c, r: br}
	if telemetry.FirstByteIsRESP(first[0]) {
		if m.closed() {
			_ = c.Close()
			return
		}
		m.srv.ServeConn(pc)
		return
	}
	if isTLS {
		// Caddy takes the TLS state of a wrapped connection from
		// ConnectionState, so the request still reads as HTTPS
		m.toHTTP(&peekedTLSConn{peekedConn: pc, tls: tc})
		return
	}
	m.toHTTP(pc)
}

func (m *respMux) toHTTP(c net.Conn) {
	select {
	case m.conns <- c:
	case <-m.done:
		_ = c.Close()
	}
}

// peekedConn is a connection whose first bytes were read ahead into r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) {
	if c.r.Buffered() > 0 {
		return c.r.Read(p)
	}
	return c.Conn.Read(p)
}

// peekedTLSConn is a peeked TLS connection that still tells its TLS state.
type peekedTLSConn struct {
	*peekedConn
	tls *tls.Conn
}

// ConnectionState is the TLS connection's.
func (c *peekedTLSConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }

// Interface guards
var (
	_ caddy.Provisioner     = (*RESPListener)(nil)
	_ caddy.ListenerWrapper = (*RESPListener)(nil)
	_ caddyfile.Unmarshaler = (*RESPListener)(nil)
)
