package cliproxy

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"

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
const PeekTimeout = telemetry.PeekTimeout

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
	return telemetry.NewMux(ln, srv)
}

// Interface guards
var (
	_ caddy.Provisioner     = (*RESPListener)(nil)
	_ caddy.ListenerWrapper = (*RESPListener)(nil)
	_ caddyfile.Unmarshaler = (*RESPListener)(nil)
)
