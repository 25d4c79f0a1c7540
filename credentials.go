package cliproxy

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
)

// Credential configures one upstream credential.
type Credential struct {
	// Name identifies the credential in logs, metrics and placeholders.
	// Required and unique.
	Name string `json:"name"`

	// Provider is the upstream API: "claude", "openai",
	// "openai-compatible" or "gemini". Required.
	Provider string `json:"provider"`

	// APIKey is the upstream secret, or a placeholder such as {env.X} or
	// {file./path} resolved at provision. Required.
	APIKey string `json:"api_key"`

	// BaseURL overrides the provider's upstream (http:// or https://).
	// For openai and openai-compatible it includes the version path, e.g.
	// https://openrouter.ai/api/v1. Default: the provider's public API;
	// required for openai-compatible.
	BaseURL string `json:"base_url,omitempty"`

	// Priority puts the credential in a tier: only the highest tier with
	// an available credential serves. Default: 0.
	Priority int `json:"priority,omitempty"`

	// Models is the allow-list of model patterns ('*' wildcards) the
	// credential serves. Default: every model.
	Models []string `json:"models,omitempty"`

	// ExcludedModels are model patterns the credential never serves.
	// Default: none.
	ExcludedModels []string `json:"excluded_models,omitempty"`

	// Weight is the credential's share under weighted-round-robin; 0
	// takes it out of that rotation. Default: 1.
	Weight *int `json:"weight,omitempty"`

	// Group puts credentials that share an upstream account together:
	// round robin rotates across groups, then within one. Default: none.
	Group string `json:"group,omitempty"`

	// AllowedClients, when set, are the only client names (as given to
	// client_key, or resolved by a client_identity) that may use the
	// credential, so a member can keep a personal account to themselves.
	// Default: every client.
	AllowedClients []string `json:"allowed_clients,omitempty"`

	// Headers are added to every upstream request made with the
	// credential. Values may use {env.*} placeholders. Default: none.
	Headers http.Header `json:"headers,omitempty"`

	// ProxyURL sends the credential's upstream requests through this
	// egress proxy (http://, https://, socks5:// or socks5h://, user
	// info allowed). Default: the transport's network_proxy, else none.
	ProxyURL string `json:"proxy_url,omitempty"`

	// Disabled takes the credential out of the pool. Default: false.
	Disabled bool `json:"disabled,omitempty"`

	// DisableCooling keeps the credential in rotation whatever the
	// upstream answers. Default: false.
	DisableCooling bool `json:"disable_cooling,omitempty"`

	// AuthHeader is how a claude key is sent upstream: "x-api-key", as
	// Anthropic's API wants, or "bearer" (Authorization: Bearer), as some
	// Anthropic-compatible hosts want. Default: x-api-key.
	AuthHeader string `json:"auth_header,omitempty"`

	// Websockets says how WebSocket clients (Codex CLI) are served with
	// the credential: over the upstream's own WebSocket mode (true) or by
	// bridging each turn to an HTTP streaming request (false). Default:
	// true for openai, false for openai-compatible.
	Websockets *bool `json:"websockets,omitempty"`

	// Prefix makes the credential serve only requests for
	// "<prefix>/<model>", sent upstream as <model>; its models and
	// excluded_models name the upstream's models. Default: none (plain
	// model names).
	Prefix string `json:"prefix,omitempty"`

	// RequestRetry is how many more times a request is sent to the
	// credential after a transient failure (5xx, 408, connection error)
	// before the next credential is tried, at most 5. Default: 0.
	RequestRetry int `json:"request_retry,omitempty"`
}

// build resolves placeholders and checks the credential.
func (c Credential) build(repl *caddy.Replacer) (*auth.Credential, error) {
	if c.Name == "" {
		return nil, fmt.Errorf("credential without a name")
	}
	provider, err := auth.ParseProvider(c.Provider)
	if err != nil {
		return nil, fmt.Errorf("credential %s: %w", c.Name, err)
	}
	key := repl.ReplaceKnown(c.APIKey, "")
	if strings.TrimSpace(key) == "" {
		return nil, fmt.Errorf("credential %s: api_key is empty", c.Name)
	}
	out := &auth.Credential{
		Name:           c.Name,
		Provider:       provider,
		APIKey:         key,
		Priority:       c.Priority,
		Weight:         1,
		Group:          c.Group,
		AllowedClients: c.AllowedClients,
		Models:         c.Models,
		ExcludedModels: c.ExcludedModels,
		Disabled:       c.Disabled,
		DisableCooling: c.DisableCooling,
		Websockets:     c.Websockets,
	}
	if out.Prefix, err = auth.ParsePrefix(c.Prefix); err != nil {
		return nil, fmt.Errorf("credential %s: %w", c.Name, err)
	}
	if c.RequestRetry < 0 || c.RequestRetry > auth.MaxRequestRetry {
		return nil, fmt.Errorf("credential %s: request_retry must be 0 to %d", c.Name, auth.MaxRequestRetry)
	}
	out.RequestRetry = c.RequestRetry
	if c.AuthHeader != "" {
		if provider != auth.Claude {
			return nil, fmt.Errorf("credential %s: auth_header applies to provider claude only", c.Name)
		}
		if out.AuthHeader, err = auth.ParseAuthHeader(c.AuthHeader); err != nil {
			return nil, fmt.Errorf("credential %s: %w", c.Name, err)
		}
	}
	if c.Weight != nil {
		if *c.Weight < 0 {
			return nil, fmt.Errorf("credential %s: weight must not be negative", c.Name)
		}
		out.Weight = *c.Weight
	}
	if c.BaseURL != "" {
		u, err := auth.ParseBaseURL(repl.ReplaceKnown(c.BaseURL, ""))
		if err != nil {
			return nil, fmt.Errorf("credential %s: %w", c.Name, err)
		}
		out.BaseURL = u
	} else if provider.DefaultBaseURL() == "" {
		return nil, fmt.Errorf("credential %s: provider %s requires base_url", c.Name, provider)
	}
	if c.ProxyURL != "" {
		if out.ProxyURL, err = auth.ParseProxyURL(repl.ReplaceKnown(c.ProxyURL, "")); err != nil {
			return nil, fmt.Errorf("credential %s: %w", c.Name, err)
		}
	}
	if len(c.Headers) > 0 {
		out.Headers = make(http.Header, len(c.Headers))
		for name, values := range c.Headers {
			for _, v := range values {
				out.Headers.Add(name, repl.ReplaceKnown(v, ""))
			}
		}
	}
	return out, nil
}

// buildCredentials resolves the credentials of the configuration.
func (h *Handler) buildCredentials(repl *caddy.Replacer) ([]*auth.Credential, error) {
	creds := make([]*auth.Credential, 0, len(h.Credentials))
	for _, c := range h.Credentials {
		built, err := c.build(repl)
		if err != nil {
			return nil, err
		}
		creds = append(creds, built)
	}
	return creds, nil
}

// buildPool builds the pool from the configured credentials and those of
// the auth directory, over the shared health. A file credential whose name
// a configured one already has is skipped, with an error logged.
func (h *Handler) buildPool() (*auth.Pool, error) {
	creds := slices.Clone(h.configCreds)
	if h.authDir != nil {
		taken := make(map[string]bool, len(creds))
		for _, c := range creds {
			taken[c.Name] = true
		}
		for _, c := range h.authDir.Credentials() {
			if taken[c.Name] {
				h.logger.Error("skipping auth file credential: a configured credential has its name", zap.String("credential", c.Name))
				continue
			}
			taken[c.Name] = true
			creds = append(creds, c)
		}
	}
	pool, err := auth.NewPoolWithHealth(h.state.WithOverrides(creds), h.state.Health, h.policy)
	if err != nil {
		return nil, err
	}
	return pool, nil
}

// refresher builds the OAuth refresher with the configured token URLs.
func (h *Handler) refresher() (*oauth.Refresher, error) {
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		// a refresh posts the refresh token: it goes to the token
		// endpoint and nowhere a redirect points
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	r := &oauth.Refresher{Client: client, TokenURLs: map[oauth.OAuthProvider]string{}}
	for name, u := range h.OAuthTokenURLs {
		p, err := oauth.ParseOAuthProvider(name)
		if err != nil {
			return nil, fmt.Errorf("oauth_token_url: %w", err)
		}
		r.TokenURLs[p] = u
	}
	// token refresh leaves through the same egress as the requests
	return r.Via(h.egressProxy()), nil
}

// egressProxy is the URL proxy the transport options name
// (network_proxy url …), or nil.
func (h *Handler) egressProxy() *url.URL {
	if len(h.Transport) == 0 {
		return nil
	}
	raw := gjson.GetBytes(h.Transport, "network_proxy")
	if raw.Get("from").String() != "url" {
		return nil
	}
	u, err := url.Parse(raw.Get("url").String())
	if err != nil || u.Host == "" {
		return nil
	}
	return u
}
