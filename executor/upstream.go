package executor

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// endpoint is where a credential's requests go, worked out once when the
// executor is built so that no URL is parsed per request.
type endpoint struct {
	tls      bool
	dial     string // host:port for the reverse proxy's dialer
	host     string // Host header
	basePath string // path prefix without a trailing slash
	// stripV1 drops the client's /v1 prefix because the OpenAI family's
	// base URL already names the API version.
	stripV1 bool
}

// newEndpoint resolves c's base URL (its own or its provider's default).
func newEndpoint(c *auth.Credential) (endpoint, error) {
	u := c.BaseURL
	if u == nil {
		def := c.Provider.DefaultBaseURL()
		if def == "" {
			return endpoint{}, fmt.Errorf("credential %s: provider %s needs a base_url", c.Name, c.Provider)
		}
		var err error
		if u, err = url.Parse(def); err != nil {
			return endpoint{}, err
		}
	}
	ep := endpoint{
		host:     u.Host,
		basePath: strings.TrimSuffix(u.EscapedPath(), "/"),
		stripV1:  c.Provider == auth.OpenAI || c.Provider == auth.OpenAICompatible || c.Provider == auth.Codex,
	}
	port := u.Port()
	switch u.Scheme {
	case "https":
		ep.tls = true
		if port == "" {
			port = "443"
		}
	case "http":
		if port == "" {
			port = "80"
		}
	default:
		return endpoint{}, fmt.Errorf("credential %s: base_url scheme must be http or https", c.Name)
	}
	if u.Hostname() == "" {
		return endpoint{}, fmt.Errorf("credential %s: base_url has no host", c.Name)
	}
	ep.dial = net.JoinHostPort(u.Hostname(), port)
	return ep, nil
}

// path maps the client's request path onto the upstream.
func (ep endpoint) path(clientPath string) string {
	if ep.stripV1 {
		if rest, ok := strings.CutPrefix(clientPath, "/backend-api/codex"); ok {
			clientPath = rest
		} else {
			clientPath = strings.TrimPrefix(clientPath, "/v1")
		}
	}
	return ep.basePath + clientPath
}

// injectCredential puts c's secret (an API key, or the OAuth access token
// given) and extra headers on an upstream request whose client
// credentials were already stripped.
func injectCredential(h http.Header, c *auth.Credential, secret string) {
	switch c.Provider {
	case auth.Claude:
		switch {
		case c.OAuth != nil:
			h.Set("Authorization", "Bearer "+secret)
			addBeta(h, claudeOAuthBeta)
		case c.AuthHeader == auth.AuthHeaderBearer:
			// an Anthropic-compatible host that wants a bearer token
			h.Set("Authorization", "Bearer "+secret)
		default:
			h.Set("X-Api-Key", secret)
		}
		if h.Get("Anthropic-Version") == "" {
			h.Set("Anthropic-Version", "2023-06-01")
		}
	case auth.Gemini:
		h.Set("X-Goog-Api-Key", secret)
	case auth.Codex:
		h.Set("Authorization", "Bearer "+secret)
		if c.AccountID != "" {
			h.Set("Chatgpt-Account-Id", c.AccountID)
		}
	default:
		h.Set("Authorization", "Bearer "+secret)
	}
	for name, values := range c.Headers {
		h[name] = values
	}
}

// claudeOAuthBeta is the anthropic-beta flag Anthropic requires of
// requests made with a Claude OAuth token.
const claudeOAuthBeta = "oauth-2025-04-20"

// addBeta adds flag to the client's anthropic-beta list unless present.
func addBeta(h http.Header, flag string) {
	current := h.Get("Anthropic-Beta")
	for _, f := range strings.Split(current, ",") {
		if strings.TrimSpace(f) == flag {
			return
		}
	}
	if current == "" {
		h.Set("Anthropic-Beta", flag)
		return
	}
	h.Set("Anthropic-Beta", current+","+flag)
}
