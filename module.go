// Package cliproxy is a Caddy HTTP handler that turns a Caddy site into a
// team gateway for AI coding tools: it authenticates team members by their
// client keys, pools upstream credentials for Claude, OpenAI,
// OpenAI-compatible hosts and Gemini, picks one per request, injects its
// secret, proxies through Caddy's reverse_proxy, and fails over to the
// next credential when an upstream is out of quota or down.
package cliproxy

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-cliproxy/cliproxy/access"
	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/auth/authfile"
	"github.com/caddy-cliproxy/cliproxy/cluster"
	"github.com/caddy-cliproxy/cliproxy/executor"
	"github.com/caddy-cliproxy/cliproxy/management"
	"github.com/caddy-cliproxy/cliproxy/metrics"
	"github.com/caddy-cliproxy/cliproxy/outcome"
	"github.com/caddy-cliproxy/cliproxy/pool"
	"github.com/caddy-cliproxy/cliproxy/reqlog"
	"github.com/caddy-cliproxy/cliproxy/selector"
	"github.com/caddy-cliproxy/cliproxy/telemetry"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// The defaults of the handler's options.
const (
	DefaultMaxBody            = 32 << 20
	DefaultPool               = "default"
	DefaultSessionAffinityTTL = caddy.Duration(time.Hour)
	DefaultFirstEventTimeout  = caddy.Duration(5 * time.Minute)
	DefaultBodyReadTimeout    = caddy.Duration(2 * time.Minute)
)

// bodyBudget is the process's request body memory: the requests of every
// handler draw on it, so those of a config being replaced and of its
// successor count together.
var bodyBudget = executor.NewBodyBudget(0)

// DefaultStreamHeaderTimeout leaves a client that gives up after a minute
// (the shortest wait of the clients the gateway serves, by far) room for
// a second credential's answer after a hung one.
const DefaultStreamHeaderTimeout = caddy.Duration(30 * time.Second)

// Handler is the cliproxy HTTP handler. Requests to paths it does not serve
// are passed to the next handler.
type Handler struct {
	// ClientKeys are the keys team members authenticate with. A key may be
	// given in clear (placeholders such as {env.X} and {file./path} are
	// resolved at provision, so the secret stays out of saved configs) or
	// as a SHA-256 hash. At least one client key, here or in
	// ClientKeysFile, or a ClientIdentities entry is required.
	ClientKeys []ClientKey `json:"client_keys,omitempty"`

	// ClientKeysFile is a file of client keys, one per line as
	// "<name> <key>" or "<name> sha256:<hex>". Read at provision.
	ClientKeysFile string `json:"client_keys_file,omitempty"`

	// ClientIdentities admit members that a handler before cliproxy
	// authenticated: each is a placeholder resolved per request, such as
	// {http.auth.user.id} (set by Caddy's authentication handlers) or
	// {http.request.header.X-Member} (a header forward_auth copied from
	// its auth service's answer). A request without a matching client
	// key is admitted as the member the first identity resolves to; one
	// resolving to nothing is answered 401. A header identity is only
	// safe behind a handler that sets or deletes that header on every
	// request, or a client could name itself. The headers read are not
	// sent upstream. Default: none.
	ClientIdentities []string `json:"client_identities,omitempty"`

	// Strategy picks among available credentials: "round-robin" (aliases
	// "roundrobin", "rr"; group-aware when credentials have groups),
	// "fill-first" ("fillfirst", "ff") or "weighted-round-robin"
	// ("weightedroundrobin", "wrr"; by each credential's weight) or
	// "headroom" (the most room left in the credentials' usage windows,
	// weighted by time to reset). Default: round-robin.
	Strategy string `json:"strategy,omitempty"`

	// QuotaThreshold is the utilization (a fraction of a usage window,
	// as the upstream's headers report it) from which a credential takes
	// no new session or session-less request while another that can
	// serve the model is below it; 0 turns quota-aware placement off.
	// Default: 0.9.
	QuotaThreshold *float64 `json:"quota_threshold,omitempty"`

	// QuotaMoveThreshold is the utilization from which a bound session
	// leaves its credential for one with more room. Default: 0.98.
	QuotaMoveThreshold *float64 `json:"quota_move_threshold,omitempty"`

	// MaxAttempts is how many credentials one request may try before the
	// client is answered with the last failure. Default: every credential
	// that may serve the request, once, at most 8 (executor.MaxAttemptsCap),
	// so a request fails only when no credential could answer it; the wait
	// for a cooling credential stays bounded by MaxRetryInterval.
	MaxAttempts int `json:"max_attempts,omitempty"`

	// MaxBody is the largest request body accepted, in bytes; larger
	// bodies are refused with 413. Default: 32 MiB.
	MaxBody int64 `json:"max_body,omitempty"`

	// BodyMemory is how many bytes of request bodies the gateway holds
	// in memory at once, across its requests (and every cliproxy handler
	// of the process; the last one provisioned sets it). A body that would
	// take the total past it is spooled to a temporary file and replayed
	// from there. Default: 64 MiB.
	BodyMemory int64 `json:"body_memory,omitempty"`

	// BodySpoolDir is the directory of the temporary files of bodies over
	// BodyMemory: each is created 0600 and removed when its request ends.
	// Default: the system's temporary directory.
	BodySpoolDir string `json:"body_spool_dir,omitempty"`

	// BodyReadTimeout is how long a client has to send its request body
	// when the server sets no timeouts { read_body } (which then applies
	// instead); past it the request is refused with 408 and the
	// connection closed. Caddy's read_body_idle (default 1m) drops a body
	// that stalls, whatever this says. Default: 2m.
	BodyReadTimeout caddy.Duration `json:"body_read_timeout,omitempty"`

	// TransientCooldown is how long a credential rests after a 408, 5xx,
	// 529 or connection error. Default: 60s.
	TransientCooldown caddy.Duration `json:"transient_cooldown,omitempty"`

	// MaxCooldown caps the rest an upstream's hint can impose; past it,
	// one real request per ProbeInterval checks whether the quota came
	// back early. Default: 5h.
	MaxCooldown caddy.Duration `json:"max_cooldown,omitempty"`

	// ProbeInterval is how often a credential past MaxCooldown is probed.
	// Default: 10m.
	ProbeInterval caddy.Duration `json:"probe_interval,omitempty"`

	// MaxRetryInterval is how long a request may wait for the nearest
	// recovery when every credential is cooling, instead of answering
	// 429 at once. Default: 0 (do not wait).
	MaxRetryInterval caddy.Duration `json:"max_retry_interval,omitempty"`

	// FirstEventTimeout bounds the wait from sending a request upstream to
	// the first complete event of an event stream, or the first body byte
	// of any other answer. When it passes before anything reached the
	// client, the credential rests for TransientCooldown and the request
	// moves to the next one (504 upstream_timeout when none is left). A
	// non-streaming request that may take longer (a long generation
	// answered whole) needs a larger value. Default: 5m.
	FirstEventTimeout caddy.Duration `json:"first_event_timeout,omitempty"`

	// StreamHeaderTimeout bounds the wait from sending a request that asks
	// for a streamed answer upstream to the answer's response headers,
	// which providers send as soon as they take the request, before the
	// model writes. An upstream that took the connection and then hangs
	// is given up after it, well before a client gives up, like an answer
	// past FirstEventTimeout: the credential rests for TransientCooldown
	// and the request moves to the next one. Requests for a whole answer,
	// whose headers only come with it, are bounded by FirstEventTimeout
	// alone. Default: 30s.
	StreamHeaderTimeout caddy.Duration `json:"stream_header_timeout,omitempty"`

	// Pool names the state this handler shares across config reloads
	// (cooldowns, session bindings, rotation cursors). Handlers with the
	// same pool name share it. Default: "default".
	Pool string `json:"pool,omitempty"`

	// SessionAffinity keeps each conversation on the credential that
	// served its first request, so the provider's prompt cache keeps
	// hitting. Default: off.
	SessionAffinity bool `json:"session_affinity,omitempty"`

	// SessionAffinityTTL is how long a session binding lives after its
	// last request. Default: 1h.
	SessionAffinityTTL caddy.Duration `json:"session_affinity_ttl,omitempty"`

	// ClaudeCodeSessionAffinity is the deprecated name of SessionAffinity;
	// it turns affinity on and logs a warning. Default: off.
	ClaudeCodeSessionAffinity bool `json:"claude_code_session_affinity,omitempty"`

	// SubagentAffinity decides whether Claude Code subagents
	// (X-Claude-Code-Agent-Id) share their parent's binding ("parent") or
	// get their own ("separate"), which spreads a fan-out across
	// credentials. Default: parent.
	SubagentAffinity string `json:"subagent_affinity,omitempty"`

	// AuthDir is a directory of OAuth and API-key credential files in
	// CLIProxyAPI's format (an existing ~/.cli-proxy-api works unchanged).
	// Files added, edited or removed are picked up without a reload;
	// refreshed tokens are written back. Default: none.
	AuthDir string `json:"auth_dir,omitempty"`

	// OAuthTokenURLs override the providers' token endpoints, by
	// provider: "claude", "codex", "google". Default: the providers' own
	// (Claude: https://platform.claude.com/v1/oauth/token).
	OAuthTokenURLs map[string]string `json:"oauth_token_urls,omitempty"`

	// OAuthClients says which clients the subscription (OAuth) accounts
	// of the auth directory serve, unless an auth file says otherwise:
	// "official", each account only its own CLI (Claude Code, Codex CLI,
	// Gemini CLI, recognised by their headers), other clients going to
	// API-key credentials; or "any", every client (the provider may
	// refuse or bill them apart). Default: official.
	OAuthClients string `json:"oauth_clients,omitempty"`

	// State shares the pool's state (cooldowns, session bindings, OAuth
	// refreshes, usage and error events) with other Caddy instances
	// through Redis. Default: none, the state lives in this process.
	State *StateConfig `json:"state,omitempty"`

	// UsageQueueRetention is how long a usage record waits in the pool's
	// usage queue for a collector (RESP LPOP, GET usage-queue) before it
	// is dropped; at most 1h. The queue also holds at most 10000 records
	// in memory, or state's usage_retention in Redis. Default: 60s.
	UsageQueueRetention caddy.Duration `json:"usage_queue_retention,omitempty"`

	// DisableMetrics turns off this handler's Prometheus metrics (see
	// docs/metrics.md). Default: metrics on.
	DisableMetrics bool `json:"disable_metrics,omitempty"`

	// RequestLog says which requests are written to files in
	// RequestLogDir: "off", "errors" (answers of status 400 or more,
	// upstream failures, broken streams) or "all". Default: errors.
	RequestLog string `json:"request_log,omitempty"`

	// RequestLogDir is the directory of the request log files; one that
	// cannot be created is an error. Default: cliproxy/request_logs in
	// Caddy's data directory, and when that cannot be created, no request
	// log (with a warning).
	RequestLogDir string `json:"request_log_dir,omitempty"`

	// RequestLogMaxFiles is how many request log files the directory
	// keeps; the oldest go first. Default: 1000.
	RequestLogMaxFiles int `json:"request_log_max_files,omitempty"`

	// RequestLogMaxBytes is the total size of the request log files the
	// directory keeps, in bytes. Default: 100 MiB.
	RequestLogMaxBytes int64 `json:"request_log_max_bytes,omitempty"`

	// RequestLogMaxBody is how much of a request body, and of an error
	// response body, one file keeps, in bytes. Default: 1 MiB.
	RequestLogMaxBody int64 `json:"request_log_max_body,omitempty"`

	// Credentials are the upstream credentials of the pool.
	Credentials []Credential `json:"credentials,omitempty"`

	// Management mounts the management API on this site under its path
	// (see docs/management.md). It is always on Caddy's admin endpoint
	// under /cliproxy/. Default: not mounted on the site.
	Management *ManagementConfig `json:"management,omitempty"`

	// Transport configures the connections to upstreams with the options
	// of reverse_proxy's http transport (timeouts, egress proxy, TLS
	// settings, ...). Default: reverse_proxy's defaults, TLS for https
	// base URLs.
	Transport json.RawMessage `json:"transport,omitempty"`

	keys        *access.KeySet
	identities  access.Identities
	state       *pool.State
	member      *pool.Member
	strategy    string // canonical, as configured
	selector    *pool.Switch
	reloadMu    *sync.Mutex // serializes pool rebuilds
	guard       *management.Guard
	authDir     *authfile.Dir
	authDirKey  string
	configCreds []*auth.Credential
	policy      auth.Policy
	exec        *executor.Executor
	logger      *zap.Logger

	cluster      *cluster.Cluster
	clusterKeyed string
	metrics      *metrics.Recorder // nil with DisableMetrics
	requestLog   *requestLogger    // nil when off

	requestLogDir string // the store held in requestLogStores
}

// ClientKey is one team member's key.
type ClientKey struct {
	// Name is the principal the key authenticates, shown in logs and
	// placeholders instead of the key. Default: "member-<n>".
	Name string `json:"name,omitempty"`
	// Key is the secret, or a placeholder resolving to it.
	Key string `json:"key,omitempty"`
	// SHA256 is the hex SHA-256 of the secret, instead of Key.
	SHA256 string `json:"sha256,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.cliproxy",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision sets up the handler.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.reloadMu = new(sync.Mutex)
	if h.MaxBody == 0 {
		h.MaxBody = DefaultMaxBody
	}
	if h.Pool == "" {
		h.Pool = DefaultPool
	}
	if h.SessionAffinityTTL == 0 {
		h.SessionAffinityTTL = DefaultSessionAffinityTTL
	}
	if h.FirstEventTimeout == 0 {
		h.FirstEventTimeout = DefaultFirstEventTimeout
	}
	if h.StreamHeaderTimeout == 0 {
		h.StreamHeaderTimeout = DefaultStreamHeaderTimeout
	}
	if h.BodyReadTimeout == 0 {
		h.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if h.BodyMemory == 0 {
		h.BodyMemory = executor.DefaultBodyMemory
	}
	bodyBudget.SetLimit(h.BodyMemory)
	if h.ClaudeCodeSessionAffinity {
		h.logger.Warn("claude_code_session_affinity is deprecated; use session_affinity")
		h.SessionAffinity = true
	}
	repl := caddy.NewReplacer()

	keys, err := h.buildKeySet(repl)
	if err != nil {
		return err
	}
	h.keys = keys
	if h.identities, err = access.NewIdentities(h.ClientIdentities, caddy.NewReplacer()); err != nil {
		return err
	}

	state, err := loadPoolState(h.Pool, time.Duration(h.SessionAffinityTTL))
	if err != nil {
		return err
	}
	h.state = state
	state.Telemetry.SetLimits(time.Duration(h.UsageQueueRetention), 0)
	h.policy = auth.Policy{
		TransientCooldown: time.Duration(h.TransientCooldown),
		MaxCooldown:       time.Duration(h.MaxCooldown),
		ProbeInterval:     time.Duration(h.ProbeInterval),
	}
	if h.configCreds, err = h.buildCredentials(repl); err != nil {
		return err
	}
	if h.State != nil {
		if err := h.loadCluster(ctx, repl); err != nil {
			return err
		}
	}
	if h.AuthDir != "" {
		refresher, err := h.refresher()
		if err != nil {
			return err
		}
		if h.authDir, h.authDirKey, err = state.OpenAuthDir(repl.ReplaceKnown(h.AuthDir, ""), refresher, h.logger); err != nil {
			return err
		}
	}
	built, err := h.buildPool()
	if err != nil {
		return err
	}
	if h.strategy, err = selector.NormalizeStrategy(h.Strategy); err != nil {
		return err
	}
	if h.selector, err = state.Selector(h.strategy); err != nil {
		return err
	}
	var affinity *selector.Affinity
	if h.SessionAffinity {
		affinity = &selector.Affinity{Next: h.selector, Bindings: state.Sessions}
		if h.cluster != nil {
			affinity.Bindings = h.cluster.Bindings()
		}
	}
	if h.guard, err = h.Management.guard(repl, state.Lockout); err != nil {
		return err
	}
	plain, tlsProxy, err := h.loadProxies(ctx)
	if err != nil {
		return err
	}
	if h.requestLog, err = h.openRequestLog(repl); err != nil {
		return err
	}
	opts := executor.Options{
		Pool:              built,
		Selector:          h.selector,
		Affinity:          affinity,
		SeparateSubagents: h.SubagentAffinity == SubagentSeparate,
		Proxy:             plain,
		TLSProxy:          tlsProxy,
		Transport:         proxyTransport(plain),
		TLSTransport:      proxyTransport(tlsProxy),
		MaxAttempts:       h.MaxAttempts,
		MaxRetryInterval:  time.Duration(h.MaxRetryInterval),
		MaxBody:           h.MaxBody,
		FirstEventTimeout: time.Duration(h.FirstEventTimeout),
		BodyReadTimeout:   time.Duration(h.BodyReadTimeout),
		BodyBudget:        bodyBudget,
		BodySpoolDir:      h.BodySpoolDir,
		Logger:            h.logger,
		Quota:             h.quota(),
		OAuthClients:      auth.OAuthClients(h.OAuthClients),
	}
	opts.StreamHeaderTimeout = time.Duration(h.StreamHeaderTimeout)
	// the recorders of every finished request, in the order they hear of it
	if !h.DisableMetrics {
		if h.metrics, err = metrics.NewRecorder(ctx.GetMetricsRegistry(), h.currentPool); err != nil {
			return fmt.Errorf("registering metrics: %w", err)
		}
		opts.Recorders = append(opts.Recorders, h.metrics)
		if err := metrics.Register(ctx.GetMetricsRegistry(), usageQueueMetrics()); err != nil {
			return fmt.Errorf("registering metrics: %w", err)
		}
	}
	if h.requestLog != nil {
		opts.Recorders = append(opts.Recorders, h.requestLog)
	}
	// the telemetry hub writes the cluster's shared usage list and errors
	// channel, when the pool has one
	opts.Recorders = append(opts.Recorders, state.Usage(), usageLog{caddy.Log().Named("cliproxy.usage")}, state.Telemetry)
	h.exec, err = executor.New(opts)
	if err != nil {
		return err
	}
	if h.metrics != nil {
		h.metrics.Track(built, h.keys.Names())
	}
	if h.authDir != nil {
		h.authDir.Subscribe(h, func() { h.reloadPool("credentials reloaded from auth_dir") })
		h.logCredentials(built, "credentials loaded")
	}
	h.member = &pool.Member{
		Pool:     h.currentPool,
		Strategy: h.strategy,
		Selector: h.selector,
		Changed:  h.reloadPool,
		Guard:    h.guard,
		Affinity: management.Affinity{
			Enabled:    h.SessionAffinity,
			TTLSeconds: int64(time.Duration(h.SessionAffinityTTL) / time.Second),
			Subagents:  cmp.Or(h.SubagentAffinity, SubagentParent),
		},
	}
	state.Register(h.member)
	return nil
}

// Validate checks the options that need no provisioning to judge.
func (h *Handler) Validate() error {
	if h.MaxAttempts < 0 {
		return fmt.Errorf("max_attempts must not be negative, got %d", h.MaxAttempts)
	}
	if h.BodyMemory < 0 {
		return fmt.Errorf("body_memory must not be negative, got %d", h.BodyMemory)
	}
	if h.BodySpoolDir != "" {
		if fi, err := os.Stat(h.BodySpoolDir); err != nil || !fi.IsDir() {
			return fmt.Errorf("body_spool_dir %q must be an existing directory", h.BodySpoolDir)
		}
	}
	if h.MaxBody < 1 {
		return fmt.Errorf("max_body must be positive, got %d", h.MaxBody)
	}
	if h.TransientCooldown < 0 || h.MaxCooldown < 0 || h.ProbeInterval < 0 || h.MaxRetryInterval < 0 || h.FirstEventTimeout < 0 || h.StreamHeaderTimeout < 0 || h.BodyReadTimeout < 0 {
		return fmt.Errorf("transient_cooldown, max_cooldown, probe_interval, max_retry_interval, first_event_timeout, stream_header_timeout and body_read_timeout must not be negative")
	}
	if err := h.validateQuota(); err != nil {
		return err
	}
	if err := h.Management.validate(); err != nil {
		return err
	}
	if h.SessionAffinityTTL < 0 {
		return fmt.Errorf("session_affinity_ttl must not be negative")
	}
	if _, err := auth.ParseOAuthClients(h.OAuthClients); err != nil {
		return err
	}
	if h.State != nil && h.State.URL == "" {
		return fmt.Errorf("state needs a redis:// or rediss:// url")
	}
	if h.UsageQueueRetention < 0 || time.Duration(h.UsageQueueRetention) > telemetry.MaxRetention {
		return fmt.Errorf("usage_queue_retention must be between 0 and %s, got %s", telemetry.MaxRetention, time.Duration(h.UsageQueueRetention))
	}
	if h.State != nil && h.State.UsageRetention < 0 {
		return fmt.Errorf("state usage_retention must not be negative")
	}
	switch h.SubagentAffinity {
	case "", SubagentParent, SubagentSeparate:
	default:
		return fmt.Errorf("subagent_affinity must be parent or separate, got %q", h.SubagentAffinity)
	}
	if _, err := reqlog.ParseMode(h.RequestLog); err != nil {
		return err
	}
	if h.RequestLogMaxFiles < 0 || h.RequestLogMaxBytes < 0 || h.RequestLogMaxBody < 0 {
		return fmt.Errorf("request_log_max_files, request_log_max_bytes and request_log_max_body must not be negative")
	}
	return nil
}

// ServeHTTP authenticates the client and serves the request from the pool.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if h.guard != nil {
		if rel, ok := h.Management.under(r.URL.Path); ok {
			h.serveManagement(w, r, rel)
			return nil
		}
	}
	route, ok := executor.Resolve(r)
	if !ok {
		return next.ServeHTTP(w, r)
	}
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	principal, ok := h.keys.Lookup(access.ClientKey(r))
	if !ok && repl != nil {
		principal = h.identities.Resolve(repl)
		ok = principal != ""
	}
	if !ok {
		if h.metrics != nil {
			h.metrics.Request(&outcome.Request{Family: route.Family.String(), Status: http.StatusUnauthorized})
		}
		return executor.WriteError(w, route.Family, &executor.ClientError{
			Status:  http.StatusUnauthorized,
			Code:    executor.CodeUnauthorized,
			Message: "missing or invalid client key for this gateway",
		})
	}
	h.identities.Strip(r)
	if repl != nil {
		repl.Set(PlaceholderClient, principal)
	}
	if extra, ok := r.Context().Value(caddyhttp.ExtraLogFieldsCtxKey).(*caddyhttp.ExtraLogFields); ok {
		extra.Set(zap.String("cliproxy_client", principal))
	}
	return h.exec.Serve(w, r, route, principal)
}

// Cleanup releases this handler's hold on the pool state.
func (h *Handler) Cleanup() error {
	if h.metrics != nil {
		h.metrics.Close()
	}
	if h.requestLogDir != "" {
		_, _ = requestLogStores.Delete(h.requestLogDir)
	}
	if h.member != nil {
		h.state.Unregister(h.member)
	}
	if h.authDir != nil {
		h.authDir.Unsubscribe(h)
	}
	h.releaseCluster()
	if h.authDir != nil {
		h.state.ReleaseAuthDir(h.authDirKey)
	}
	if h.state != nil {
		_, err := pools.Delete(h.Pool)
		return err
	}
	return nil
}

// The values of SubagentAffinity.
const (
	SubagentParent   = "parent"
	SubagentSeparate = "separate"
)

// PlaceholderClient is the placeholder holding the authenticated client's
// name (never its key).
const PlaceholderClient = "http.cliproxy.client"

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
