package cliproxy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"github.com/dustin/go-humanize"

	"github.com/caddy-cliproxy/cliproxy/access"
	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/reqlog"
	"github.com/caddy-cliproxy/cliproxy/selector"
	"github.com/caddy-cliproxy/cliproxy/telemetry"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("cliproxy", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("cliproxy", httpcaddyfile.Before, "reverse_proxy")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	cliproxy {
//	    client_key <key> [<name>]
//	    client_keys_file <path>
//	    client_identity <placeholder>
//	    strategy round-robin|fill-first|weighted-round-robin|headroom
//	    quota_threshold <fraction>|off
//	    quota_move_threshold <fraction>
//	    max_attempts <n>
//	    max_body <size>
//	    body_memory <size>
//	    body_spool_dir <dir>
//	    body_read_timeout <duration>
//	    transient_cooldown <duration>
//	    max_cooldown <duration>
//	    probe_interval <duration>
//	    max_retry_interval <duration>
//	    first_event_timeout <duration>
//	    stream_header_timeout <duration>
//	    pool <name>
//	    state redis://[user:password@]host:port/db {
//	        usage_retention <n>
//	    }
//	    auth_dir <path>
//	    oauth_token_url claude|codex|google <url>
//	    oauth_clients official|any
//	    session_affinity on|off
//	    claude_code_session_affinity on|off
//	    session_affinity_ttl <duration>
//	    subagent_affinity parent|separate
//	    usage_queue_retention <duration>
//	    disable_metrics
//	    request_log off|errors|all
//	    request_log_dir <path>
//	    request_log_max_files <n>
//	    request_log_max_bytes <size>
//	    request_log_max_body <size>
//	    credential <name> {
//	        provider claude|openai|openai-compatible|gemini
//	        api_key <key>
//	        base_url <url>
//	        priority <int>
//	        weight <int>
//	        group <name>
//	        allowed_clients <name>...
//	        models <pattern>...
//	        excluded_models <pattern>...
//	        header <name> <value>
//	        auth_header x-api-key|bearer
//	        disabled
//	        disable_cooling
//	    }
//	    management {
//	        path <path>
//	        key <key>|sha256:<hex>
//	        allow_remote on|off
//	    }
//	    transport {
//	        <reverse_proxy http transport options>
//	    }
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "client_key":
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return d.ArgErr()
			}
			k := ClientKey{Key: args[0]}
			if len(args) == 2 {
				k.Name = args[1]
			}
			if hash, ok := strings.CutPrefix(k.Key, "sha256:"); ok {
				if raw, err := hex.DecodeString(hash); err != nil || len(raw) != sha256.Size {
					return d.Errf("client_key sha256: must be 64 hex digits")
				}
				k.Key, k.SHA256 = "", hash
			}
			h.ClientKeys = append(h.ClientKeys, k)

		case "client_keys_file":
			if err := oneArg(d, &h.ClientKeysFile); err != nil {
				return err
			}

		case "client_identity":
			var placeholder string
			if err := oneArg(d, &placeholder); err != nil {
				return err
			}
			if _, err := access.NewIdentities([]string{placeholder}, caddy.NewReplacer()); err != nil {
				return d.Errf("%v", err)
			}
			h.ClientIdentities = append(h.ClientIdentities, placeholder)

		case "strategy":
			var name string
			if err := oneArg(d, &name); err != nil {
				return err
			}
			canonical, err := selector.NormalizeStrategy(name)
			if err != nil {
				return d.Errf("parsing strategy: %v", err)
			}
			h.Strategy = canonical

		case "quota_threshold", "quota_move_threshold":
			name := d.Val()
			var raw string
			if err := oneArg(d, &raw); err != nil {
				return err
			}
			var v float64
			if raw != "off" || name != "quota_threshold" {
				f, err := strconv.ParseFloat(raw, 64)
				if err != nil || f <= 0 || f > 1 {
					return d.Errf("%s must be a fraction above 0 and at most 1 such as 0.9, got %q", name, raw)
				}
				v = f
			}
			if name == "quota_threshold" {
				h.QuotaThreshold = &v
			} else {
				h.QuotaMoveThreshold = &v
			}

		case "max_attempts":
			var raw string
			if err := oneArg(d, &raw); err != nil {
				return err
			}
			n, err := strconv.Atoi(raw)
			if err != nil || n < 1 {
				return d.Errf("max_attempts must be a positive integer, got %q", raw)
			}
			h.MaxAttempts = n

		case "max_body":
			size, err := sizeArg(d, "max_body")
			if err != nil {
				return err
			}
			h.MaxBody = size

		case "body_memory":
			size, err := sizeArg(d, "body_memory")
			if err != nil {
				return err
			}
			h.BodyMemory = size

		case "body_spool_dir":
			if err := oneArg(d, &h.BodySpoolDir); err != nil {
				return err
			}

		case "transient_cooldown", "max_cooldown", "probe_interval", "max_retry_interval", "first_event_timeout", "stream_header_timeout", "body_read_timeout":
			name := d.Val()
			var raw string
			if err := oneArg(d, &raw); err != nil {
				return err
			}
			dur, err := caddy.ParseDuration(raw)
			if err != nil || dur < 0 || (dur == 0 && name != "max_retry_interval") {
				return d.Errf("%s must be a positive duration such as 60s, got %q", name, raw)
			}
			switch name {
			case "transient_cooldown":
				h.TransientCooldown = caddy.Duration(dur)
			case "max_cooldown":
				h.MaxCooldown = caddy.Duration(dur)
			case "probe_interval":
				h.ProbeInterval = caddy.Duration(dur)
			case "first_event_timeout":
				h.FirstEventTimeout = caddy.Duration(dur)
			case "stream_header_timeout":
				h.StreamHeaderTimeout = caddy.Duration(dur)
			case "body_read_timeout":
				h.BodyReadTimeout = caddy.Duration(dur)
			default:
				h.MaxRetryInterval = caddy.Duration(dur)
			}

		case "auth_dir":
			if err := oneArg(d, &h.AuthDir); err != nil {
				return err
			}

		case "oauth_token_url":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.ArgErr()
			}
			switch args[0] {
			case "claude", "codex", "google":
			default:
				return d.Errf("oauth_token_url: unknown provider %q (want claude, codex or google)", args[0])
			}
			if !strings.Contains(args[1], "{") {
				if _, err := auth.ParseBaseURL(args[1]); err != nil {
					return d.Errf("oauth_token_url %s: %v", args[0], err)
				}
			}
			if h.OAuthTokenURLs == nil {
				h.OAuthTokenURLs = make(map[string]string)
			}
			h.OAuthTokenURLs[args[0]] = args[1]

		case "oauth_clients":
			if err := oneArg(d, &h.OAuthClients); err != nil {
				return err
			}
			if h.OAuthClients != string(auth.OAuthClientsOfficial) && h.OAuthClients != string(auth.OAuthClientsAny) {
				return d.Errf("oauth_clients must be official or any, got %q", h.OAuthClients)
			}

		case "state":
			st, err := unmarshalState(d)
			if err != nil {
				return err
			}
			h.State = st

		case "pool":
			if err := oneArg(d, &h.Pool); err != nil {
				return err
			}

		case "session_affinity", "claude_code_session_affinity":
			directive := d.Val()
			on, err := onOff(d, directive)
			if err != nil {
				return err
			}
			if directive == "session_affinity" {
				h.SessionAffinity = on
			} else {
				h.ClaudeCodeSessionAffinity = on
			}

		case "session_affinity_ttl":
			var raw string
			if err := oneArg(d, &raw); err != nil {
				return err
			}
			dur, err := caddy.ParseDuration(raw)
			if err != nil || dur <= 0 {
				return d.Errf("session_affinity_ttl must be a positive duration such as 1h, got %q", raw)
			}
			h.SessionAffinityTTL = caddy.Duration(dur)

		case "subagent_affinity":
			if err := oneArg(d, &h.SubagentAffinity); err != nil {
				return err
			}
			if h.SubagentAffinity != SubagentParent && h.SubagentAffinity != SubagentSeparate {
				return d.Errf("subagent_affinity must be parent or separate, got %q", h.SubagentAffinity)
			}

		case "usage_queue_retention":
			var raw string
			if err := oneArg(d, &raw); err != nil {
				return err
			}
			dur, err := caddy.ParseDuration(raw)
			if err != nil || dur <= 0 || dur > telemetry.MaxRetention {
				return d.Errf("usage_queue_retention must be a duration from 1s to 1h, got %q", raw)
			}
			h.UsageQueueRetention = caddy.Duration(dur)

		case "disable_metrics":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.DisableMetrics = true

		case "request_log":
			if err := oneArg(d, &h.RequestLog); err != nil {
				return err
			}
			if _, err := reqlog.ParseMode(h.RequestLog); err != nil {
				return d.Errf("request_log must be off, errors or all, got %q", h.RequestLog)
			}

		case "request_log_dir":
			if err := oneArg(d, &h.RequestLogDir); err != nil {
				return err
			}

		case "request_log_max_files":
			var raw string
			if err := oneArg(d, &raw); err != nil {
				return err
			}
			n, err := strconv.Atoi(raw)
			if err != nil || n < 1 {
				return d.Errf("request_log_max_files must be a positive integer, got %q", raw)
			}
			h.RequestLogMaxFiles = n

		case "request_log_max_bytes", "request_log_max_body":
			name := d.Val()
			size, err := sizeArg(d, name)
			if err != nil {
				return err
			}
			if name == "request_log_max_bytes" {
				h.RequestLogMaxBytes = size
			} else {
				h.RequestLogMaxBody = size
			}

		case "credential":
			c, err := unmarshalCredential(d)
			if err != nil {
				return err
			}
			for _, other := range h.Credentials {
				if other.Name == c.Name {
					return d.Errf("duplicate credential name %q", c.Name)
				}
			}
			h.Credentials = append(h.Credentials, c)

		case "management":
			if h.Management != nil {
				return d.Err("management already specified")
			}
			m, err := unmarshalManagement(d)
			if err != nil {
				return err
			}
			h.Management = m

		case "transport":
			if h.Transport != nil {
				return d.Err("transport already specified")
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			var t reverseproxy.HTTPTransport
			if err := t.UnmarshalCaddyfile(d.NewFromNextSegment()); err != nil {
				return err
			}
			raw, err := json.Marshal(t)
			if err != nil {
				return d.Errf("encoding transport: %v", err)
			}
			h.Transport = raw

		default:
			return d.Errf("unrecognized cliproxy subdirective %q", d.Val())
		}
	}
	return nil
}

// onOff reads one on|off argument.
func onOff(d *caddyfile.Dispenser, directive string) (bool, error) {
	var raw string
	if err := oneArg(d, &raw); err != nil {
		return false, err
	}
	switch raw {
	case "on":
		return true, nil
	case "off":
		return false, nil
	}
	return false, d.Errf("%s must be on or off, got %q", directive, raw)
}

// sizeArg reads one positive size argument (32MiB, 512KB...) of the
// subdirective called name.
func sizeArg(d *caddyfile.Dispenser, name string) (int64, error) {
	var raw string
	if err := oneArg(d, &raw); err != nil {
		return 0, err
	}
	size, err := humanize.ParseBytes(raw)
	if err != nil || size == 0 || size > 1<<40 {
		return 0, d.Errf("%s must be a positive size such as 32MiB, got %q", name, raw)
	}
	return int64(size), nil
}

// oneArg reads exactly one argument into dst.
func oneArg(d *caddyfile.Dispenser, dst *string) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
