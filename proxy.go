package cliproxy

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/caddy-cliproxy/cliproxy/executor"
)

// streamCloseDelay keeps upgraded connections (WebSockets) open across a
// config reload for this long, so a reload does not cut a live session.
const streamCloseDelay = "1h"

// loadProxies builds the two embedded reverse proxies: one for plain-HTTP
// upstreams, one for HTTPS. Both dial the address the executor puts in a
// placeholder for each attempt, so credentials with their own base URL need
// no proxy of their own.
func (h *Handler) loadProxies(ctx caddy.Context) (plain, tlsProxy caddyhttp.MiddlewareHandler, err error) {
	transport := map[string]any{}
	if len(h.Transport) > 0 {
		if err := json.Unmarshal(h.Transport, &transport); err != nil {
			return nil, nil, fmt.Errorf("decoding transport: %v", err)
		}
	}
	transport["protocol"] = "cliproxy"

	plainTransport := make(map[string]any, len(transport))
	for k, v := range transport {
		plainTransport[k] = v
	}
	delete(plainTransport, "tls")
	if _, ok := transport["tls"]; !ok {
		transport["tls"] = map[string]any{}
	}

	if plain, err = loadProxy(ctx, plainTransport); err != nil {
		return nil, nil, err
	}
	if tlsProxy, err = loadProxy(ctx, transport); err != nil {
		return nil, nil, err
	}
	return plain, tlsProxy, nil
}

// proxyTransport is the transport a loaded proxy sends with, which the
// executor's own connections (WebSocket upstreams, the HTTP bridge) share.
func proxyTransport(proxy caddyhttp.MiddlewareHandler) http.RoundTripper {
	if h, ok := proxy.(*reverseproxy.Handler); ok {
		return h.Transport
	}
	return nil
}

func loadProxy(ctx caddy.Context, transport map[string]any) (caddyhttp.MiddlewareHandler, error) {
	cfg := map[string]any{
		"transport":          transport,
		"upstreams":          []map[string]string{{"dial": "{" + executor.UpstreamPlaceholder + "}"}},
		"flush_interval":     -1,
		"stream_close_delay": streamCloseDelay,
		"headers": map[string]any{
			// the members' addresses are nobody's business upstream,
			// and one member's upstream cookies are not another's
			"request":  map[string]any{"delete": []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Via"}},
			"response": map[string]any{"delete": []string{"Set-Cookie"}},
		},
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	mod, err := ctx.LoadModuleByID("http.handlers.reverse_proxy", raw)
	if err != nil {
		return nil, fmt.Errorf("loading reverse_proxy: %v", err)
	}
	handler, ok := mod.(caddyhttp.MiddlewareHandler)
	if !ok {
		return nil, fmt.Errorf("reverse_proxy is %T, not a handler", mod)
	}
	return handler, nil
}
