package cliproxy

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/cluster"
)

// unmarshalCredential parses a credential block; d is on "credential".
func unmarshalCredential(d *caddyfile.Dispenser) (Credential, error) {
	var c Credential
	if !d.NextArg() {
		return c, d.ArgErr()
	}
	c.Name = d.Val()
	if d.NextArg() {
		return c, d.ArgErr()
	}
	line := d.Line()
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "provider":
			var raw string
			if err := oneArg(d, &raw); err != nil {
				return c, err
			}
			p, err := auth.ParseProvider(raw)
			if err != nil {
				return c, d.Errf("credential %s: %v", c.Name, err)
			}
			c.Provider = string(p)
		case "api_key":
			if err := oneArg(d, &c.APIKey); err != nil {
				return c, err
			}
		case "base_url":
			if err := oneArg(d, &c.BaseURL); err != nil {
				return c, err
			}
			if !strings.Contains(c.BaseURL, "{") {
				if _, err := auth.ParseBaseURL(c.BaseURL); err != nil {
					return c, d.Errf("credential %s: %v", c.Name, err)
				}
			}
		case "proxy_url":
			if err := oneArg(d, &c.ProxyURL); err != nil {
				return c, err
			}
			if !strings.Contains(c.ProxyURL, "{") {
				if _, err := auth.ParseProxyURL(c.ProxyURL); err != nil {
					return c, d.Errf("credential %s: %v", c.Name, err)
				}
			}
		case "priority":
			var raw string
			if err := oneArg(d, &raw); err != nil {
				return c, err
			}
			n, err := strconv.Atoi(raw)
			if err != nil {
				return c, d.Errf("credential %s: priority must be an integer, got %q", c.Name, raw)
			}
			c.Priority = n
		case "weight":
			var raw string
			if err := oneArg(d, &raw); err != nil {
				return c, err
			}
			n, err := strconv.Atoi(raw)
			if err != nil || n < 0 {
				return c, d.Errf("credential %s: weight must be a non-negative integer, got %q", c.Name, raw)
			}
			c.Weight = &n
		case "group":
			if err := oneArg(d, &c.Group); err != nil {
				return c, err
			}
		case "allowed_clients":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return c, d.ArgErr()
			}
			c.AllowedClients = append(c.AllowedClients, args...)
		case "models":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return c, d.ArgErr()
			}
			c.Models = append(c.Models, args...)
		case "excluded_models":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return c, d.ArgErr()
			}
			c.ExcludedModels = append(c.ExcludedModels, args...)
		case "header":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return c, d.ArgErr()
			}
			if c.Headers == nil {
				c.Headers = make(map[string][]string)
			}
			c.Headers[args[0]] = append(c.Headers[args[0]], args[1])
		case "auth_header":
			if err := oneArg(d, &c.AuthHeader); err != nil {
				return c, err
			}
			if c.AuthHeader != string(auth.AuthHeaderAPIKey) && c.AuthHeader != string(auth.AuthHeaderBearer) {
				return c, d.Errf("credential %s: auth_header must be x-api-key or bearer, got %q", c.Name, c.AuthHeader)
			}
		case "disabled":
			if d.NextArg() {
				return c, d.ArgErr()
			}
			c.Disabled = true
		case "disable_cooling":
			if d.NextArg() {
				return c, d.ArgErr()
			}
			c.DisableCooling = true
		case "websockets":
			on, err := onOff(d, "websockets")
			if err != nil {
				return c, err
			}
			c.Websockets = &on
		case "prefix":
			if err := oneArg(d, &c.Prefix); err != nil {
				return c, err
			}
			if _, err := auth.ParsePrefix(c.Prefix); err != nil {
				return c, d.Errf("credential %s: %v", c.Name, err)
			}
		case "request_retry":
			var raw string
			if err := oneArg(d, &raw); err != nil {
				return c, err
			}
			n, err := strconv.Atoi(raw)
			if err != nil || n < 0 || n > auth.MaxRequestRetry {
				return c, d.Errf("credential %s: request_retry must be an integer from 0 to %d, got %q", c.Name, auth.MaxRequestRetry, raw)
			}
			c.RequestRetry = n
		default:
			return c, d.Errf("unrecognized credential subdirective %q", d.Val())
		}
	}
	switch {
	case c.Provider == "":
		return c, d.Errf("credential %s (line %d) needs a provider", c.Name, line)
	case c.APIKey == "":
		return c, d.Errf("credential %s (line %d) needs an api_key", c.Name, line)
	case c.Provider == string(auth.OpenAICompatible) && c.BaseURL == "":
		return c, d.Errf("credential %s (line %d): provider openai-compatible needs a base_url", c.Name, line)
	case c.AuthHeader != "" && c.Provider != string(auth.Claude):
		return c, d.Errf("credential %s (line %d): auth_header applies to provider claude only", c.Name, line)
	}
	return c, nil
}

// unmarshalManagement parses a management block; d is on "management".
func unmarshalManagement(d *caddyfile.Dispenser) (*ManagementConfig, error) {
	m := new(ManagementConfig)
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "path":
			if err := oneArg(d, &m.Path); err != nil {
				return nil, err
			}
			if !strings.HasPrefix(m.Path, "/") || strings.TrimSuffix(m.Path, "/") == "" {
				return nil, d.Errf("management path must start with / and not be /, got %q", m.Path)
			}
		case "key":
			var key string
			if err := oneArg(d, &key); err != nil {
				return nil, err
			}
			if hash, ok := strings.CutPrefix(key, "sha256:"); ok {
				if raw, err := hex.DecodeString(hash); err != nil || len(raw) != sha256.Size {
					return nil, d.Errf("management key sha256: must be 64 hex digits")
				}
				m.KeySHA256 = hash
			} else {
				m.Key = key
			}
		case "allow_remote":
			on, err := onOff(d, "allow_remote")
			if err != nil {
				return nil, err
			}
			m.AllowRemote = on
		default:
			return nil, d.Errf("unrecognized management subdirective %q", d.Val())
		}
	}
	return m, nil
}

// unmarshalState parses "state <url> [{ usage_retention <n> }]". A URL
// without placeholders is checked here; its errors never repeat it, as it
// may hold a password.
func unmarshalState(d *caddyfile.Dispenser) (*StateConfig, error) {
	st := new(StateConfig)
	if err := oneArg(d, &st.URL); err != nil {
		return nil, err
	}
	if strings.Contains(st.URL, "{") {
		if !strings.HasPrefix(st.URL, "redis://") && !strings.HasPrefix(st.URL, "rediss://") {
			return nil, d.Errf("state: url must start with redis:// or rediss://")
		}
	} else if err := cluster.ValidateURL(st.URL); err != nil {
		return nil, d.Errf("state: %v", err)
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "usage_retention":
			var raw string
			if err := oneArg(d, &raw); err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(raw)
			if err != nil || n < 1 {
				return nil, d.Errf("usage_retention must be a positive integer, got %q", raw)
			}
			st.UsageRetention = n
		default:
			return nil, d.Errf("unrecognized state option %q", d.Val())
		}
	}
	return st, nil
}
