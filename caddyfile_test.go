package cliproxy

import (
	"fmt"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parse(t *testing.T, input string) (*Handler, error) {
	t.Helper()
	d := caddyfile.NewTestDispenser(input)
	h := new(Handler)
	return h, h.UnmarshalCaddyfile(d)
}

// caddyfileErrorCases are bad cliproxy blocks, each with part of its error
// and the line the error must name; they seed the fuzz target too.
var caddyfileErrorCases = []struct {
	name  string
	input string
	want  string // part of the error
	line  int
}{
	{"argument on directive", "cliproxy extra {\n}", "wrong argument count", 1},
	{"unknown subdirective", "cliproxy {\n\tbogus 1\n}", `unrecognized cliproxy subdirective "bogus"`, 2},
	{"client_key without key", "cliproxy {\n\tclient_key\n}", "wrong argument count", 2},
	{"client_key too many", "cliproxy {\n\tclient_key a b c\n}", "wrong argument count", 2},
	{"client_key bad hash", "cliproxy {\n\tclient_key sha256:abc alice\n}", "64 hex digits", 2},
	{"client_identity missing", "cliproxy {\n\tclient_identity\n}", "wrong argument count", 2},
	{"client_identity two args", "cliproxy {\n\tclient_identity {http.auth.user.id} x\n}", "wrong argument count", 2},
	{"client_identity plain text", "cliproxy {\n\tclient_identity alice\n}", "would admit everyone", 2},
	{"client_identity env", "cliproxy {\n\n\tclient_identity {env.HOME}\n}", "would admit everyone", 3},
	{"client_identity file", "cliproxy {\n\tclient_identity {file./etc/hostname}\n}", "would admit everyone", 2},
	{"client_keys_file missing", "cliproxy {\n\tclient_keys_file\n}", "wrong argument count", 2},
	{"unknown strategy", "cliproxy {\n\tstrategy random\n}", `unknown strategy "random"`, 2},
	{"quota_threshold word", "cliproxy {\n\tquota_threshold most\n}", "quota_threshold must be a fraction", 2},
	{"quota_threshold over 1", "cliproxy {\n\tquota_threshold 90\n}", "quota_threshold must be a fraction", 2},
	{"quota_move_threshold off", "cliproxy {\n\tquota_move_threshold off\n}", "quota_move_threshold must be a fraction", 2},
	{"quota_threshold no arg", "cliproxy {\n\tquota_threshold\n}", "wrong argument count", 2},
	{"max_attempts word", "cliproxy {\n\tmax_attempts three\n}", "max_attempts must be a positive integer", 2},
	{"max_attempts zero", "cliproxy {\n\n\tmax_attempts 0\n}", "max_attempts must be a positive integer", 3},
	{"max_attempts two args", "cliproxy {\n\tmax_attempts 1 2\n}", "wrong argument count", 2},
	{"max_body bad size", "cliproxy {\n\tmax_body lots\n}", "max_body must be a positive size", 2},
	{"max_body zero", "cliproxy {\n\tmax_body 0\n}", "max_body must be a positive size", 2},
	{"body_memory bad size", "cliproxy {\n\tbody_memory plenty\n}", "body_memory must be a positive size", 2},
	{"body_memory zero", "cliproxy {\n\tbody_memory 0\n}", "body_memory must be a positive size", 2},
	{"body_spool_dir without a directory", "cliproxy {\n\tbody_spool_dir\n}", "wrong argument count", 2},
	{"body_spool_dir with two", "cliproxy {\n\tbody_spool_dir /a /b\n}", "wrong argument count", 2},
	{"credential without name", "cliproxy {\n\tcredential {\n\t}\n}", "wrong argument count", 2},
	{"credential unknown provider", "cliproxy {\n\tcredential a {\n\t\tprovider mistral\n\t\tapi_key k\n\t}\n}", `unknown provider "mistral"`, 3},
	{"credential without provider", "cliproxy {\n\tcredential a {\n\t\tapi_key k\n\t}\n}", "credential a (line 2) needs a provider", 4},
	{"credential without key", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t}\n}", "credential a (line 2) needs an api_key", 4},
	{"api_key without value", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key\n\t}\n}", "wrong argument count", 4},
	{"bad base_url scheme", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\tbase_url ftp://x\n\t}\n}", "scheme must be http or https", 5},
	{"base_url without host", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\tbase_url https://\n\t}\n}", "missing host", 5},
	{"base_url with query", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\tbase_url https://h/?x=1\n\t}\n}", "must not carry a query", 5},
	{"bad proxy_url scheme", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\tproxy_url ftp://p:1\n\t}\n}", "scheme must be http, https, socks5 or socks5h", 5},
	{"proxy_url without host", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\tproxy_url http://\n\t}\n}", "missing host", 5},
	{"proxy_url without value", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\tproxy_url\n\t}\n}", "wrong argument count", 5},
	{"compatible without base_url", "cliproxy {\n\tcredential a {\n\t\tprovider openai-compatible\n\t\tapi_key k\n\t}\n}", "needs a base_url", 5},
	{"bad priority", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\tpriority high\n\t}\n}", "priority must be an integer", 5},
	{"models without patterns", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\tmodels\n\t}\n}", "wrong argument count", 5},
	{"excluded_models without patterns", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\texcluded_models\n\t}\n}", "wrong argument count", 5},
	{"header one arg", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\theader X-A\n\t}\n}", "wrong argument count", 5},
	{"disabled with arg", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\tdisabled yes\n\t}\n}", "wrong argument count", 5},
	{"unknown credential subdirective", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\tcolour blue\n\t}\n}", `unrecognized credential subdirective "colour"`, 5},
	{"negative weight", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\tweight -1\n\t}\n}", "weight must be a non-negative integer", 5},
	{"group without name", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\tgroup\n\t}\n}", "wrong argument count", 5},
	{"allowed_clients without names", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\tallowed_clients\n\t}\n}", "wrong argument count", 5},
	{"session_affinity yes", "cliproxy {\n\tsession_affinity yes\n}", `session_affinity must be on or off, got "yes"`, 2},
	{"deprecated alias bad value", "cliproxy {\n\tclaude_code_session_affinity 1\n}", `claude_code_session_affinity must be on or off`, 2},
	{"session_affinity_ttl bad", "cliproxy {\n\tsession_affinity_ttl forever\n}", "session_affinity_ttl must be a positive duration", 2},
	{"session_affinity_ttl zero", "cliproxy {\n\tsession_affinity_ttl 0s\n}", "session_affinity_ttl must be a positive duration", 2},
	{"usage_queue_retention bad", "cliproxy {\n\tusage_queue_retention soon\n}", "usage_queue_retention must be a duration from 1s to 1h", 2},
	{"usage_queue_retention past 1h", "cliproxy {\n\tusage_queue_retention 61m\n}", "usage_queue_retention must be a duration from 1s to 1h", 2},
	{"usage_queue_retention zero", "cliproxy {\n\tusage_queue_retention 0s\n}", "usage_queue_retention must be a duration from 1s to 1h", 2},
	{"subagent_affinity bad", "cliproxy {\n\tsubagent_affinity child\n}", "subagent_affinity must be parent or separate", 2},
	{"transient_cooldown bad", "cliproxy {\n\ttransient_cooldown soon\n}", "transient_cooldown must be a positive duration", 2},
	{"max_cooldown zero", "cliproxy {\n\tmax_cooldown 0s\n}", "max_cooldown must be a positive duration", 2},
	{"probe_interval negative", "cliproxy {\n\tprobe_interval -1m\n}", "probe_interval must be a positive duration", 2},
	{"max_retry_interval bad", "cliproxy {\n\tmax_retry_interval x\n}", "max_retry_interval must be a positive duration", 2},
	{"body_read_timeout bad", "cliproxy {\n\tbody_read_timeout slow\n}", "body_read_timeout must be a positive duration", 2},
	{"first_event_timeout zero", "cliproxy {\n\tfirst_event_timeout 0s\n}", "first_event_timeout must be a positive duration", 2},
	{"first_event_timeout two args", "cliproxy {\n\tfirst_event_timeout 1m 2m\n}", "wrong argument count", 2},
	{"stream_header_timeout zero", "cliproxy {\n\tstream_header_timeout 0s\n}", "stream_header_timeout must be a positive duration", 2},
	{"disable_cooling with arg", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\tdisable_cooling yes\n\t}\n}", "wrong argument count", 5},
	{"auth_dir without path", "cliproxy {\n\tauth_dir\n}", "wrong argument count", 2},
	{"oauth_token_url unknown provider", "cliproxy {\n\toauth_token_url mistral https://x\n}", `unknown provider "mistral"`, 2},
	{"oauth_token_url bad url", "cliproxy {\n\toauth_token_url claude ftp://x\n}", "scheme must be http or https", 2},
	{"oauth_token_url one arg", "cliproxy {\n\toauth_token_url claude\n}", "wrong argument count", 2},
	{"oauth_clients bad", "cliproxy {\n\toauth_clients all\n}", `oauth_clients must be official or any, got "all"`, 2},
	{"oauth_clients without value", "cliproxy {\n\toauth_clients\n}", "wrong argument count", 2},
	{"auth_header bad", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\tauth_header authorization\n\t}\n}", `auth_header must be x-api-key or bearer, got "authorization"`, 5},
	{"auth_header on openai", "cliproxy {\n\tcredential a {\n\t\tprovider openai\n\t\tapi_key k\n\t\tauth_header bearer\n\t}\n}", "auth_header applies to provider claude only", 6},
	{"pool without name", "cliproxy {\n\tpool\n}", "wrong argument count", 2},
	{"unknown strategy wrr typo", "cliproxy {\n\tstrategy wwr\n}", `unknown strategy "wwr"`, 2},
	{"duplicate credential", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t}\n\tcredential a {\n\t\tprovider gemini\n\t\tapi_key k2\n\t}\n}", `duplicate credential name "a"`, 9},
	{"transport twice", "cliproxy {\n\ttransport {\n\t}\n\ttransport {\n\t}\n}", "transport already specified", 4},
	{"transport with argument", "cliproxy {\n\ttransport http {\n\t}\n}", "wrong argument count", 2},
	{"management with argument", "cliproxy {\n\tmanagement on {\n\t}\n}", "wrong argument count", 2},
	{"management twice", "cliproxy {\n\tmanagement\n\tmanagement\n}", "management already specified", 3},
	{"management unknown subdirective", "cliproxy {\n\tmanagement {\n\t\tpassword x\n\t}\n}", `unrecognized management subdirective "password"`, 3},
	{"management path without slash", "cliproxy {\n\tmanagement {\n\t\tpath v0/management\n\t}\n}", "management path must start with /", 3},
	{"management path root", "cliproxy {\n\tmanagement {\n\t\tpath /\n\t}\n}", "management path must start with / and not be /", 3},
	{"management path missing", "cliproxy {\n\tmanagement {\n\t\tpath\n\t}\n}", "wrong argument count", 3},
	{"management key missing", "cliproxy {\n\tmanagement {\n\t\tkey\n\t}\n}", "wrong argument count", 3},
	{"management key two args", "cliproxy {\n\tmanagement {\n\t\tkey a b\n\t}\n}", "wrong argument count", 3},
	{"management key bad hash", "cliproxy {\n\tmanagement {\n\t\tkey sha256:zz\n\t}\n}", "64 hex digits", 3},
	{"management allow_remote yes", "cliproxy {\n\tmanagement {\n\t\tallow_remote yes\n\t}\n}", `allow_remote must be on or off, got "yes"`, 3},
	{"disable_metrics with arg", "cliproxy {\n\tdisable_metrics yes\n}", "wrong argument count", 2},
	{"request_log bad mode", "cliproxy {\n\trequest_log some\n}", `request_log must be off, errors or all, got "some"`, 2},
	{"request_log without mode", "cliproxy {\n\trequest_log\n}", "wrong argument count", 2},
	{"request_log two modes", "cliproxy {\n\trequest_log errors all\n}", "wrong argument count", 2},
	{"request_log_dir without path", "cliproxy {\n\trequest_log_dir\n}", "wrong argument count", 2},
	{"request_log_max_files word", "cliproxy {\n\trequest_log_max_files many\n}", "request_log_max_files must be a positive integer", 2},
	{"request_log_max_files zero", "cliproxy {\n\trequest_log_max_files 0\n}", "request_log_max_files must be a positive integer", 2},
	{"request_log_max_bytes bad", "cliproxy {\n\n\trequest_log_max_bytes huge\n}", "request_log_max_bytes must be a positive size", 3},
	{"request_log_max_body zero", "cliproxy {\n\trequest_log_max_body 0\n}", "request_log_max_body must be a positive size", 2},
	{"bad transport option", "cliproxy {\n\ttransport {\n\t\tdial_timeout soon\n\t}\n}", "bad timeout value", 3},
	{"websockets maybe", "cliproxy {\n\tcredential a {\n\t\tprovider openai\n\t\tapi_key k\n\t\twebsockets maybe\n\t}\n}", `websockets must be on or off, got "maybe"`, 5},
	{"prefix with slash", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\tprefix team/a\n\t}\n}", `invalid prefix "team/a"`, 5},
	{"prefix without value", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\tprefix\n\t}\n}", "wrong argument count", 5},
	{"request_retry word", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\trequest_retry often\n\t}\n}", "request_retry must be an integer from 0 to 5", 5},
	{"request_retry too many", "cliproxy {\n\tcredential a {\n\t\tprovider claude\n\t\tapi_key k\n\t\trequest_retry 6\n\t}\n}", "request_retry must be an integer from 0 to 5", 5},
	{"websockets without value", "cliproxy {\n\tcredential a {\n\t\tprovider openai\n\t\tapi_key k\n\t\twebsockets\n\t}\n}", "wrong argument count", 5},
	{"state without url", "cliproxy {\n\tstate\n}", "wrong argument count", 2},
	{"state two urls", "cliproxy {\n\tstate redis://a:6379 redis://b:6379\n}", "wrong argument count", 2},
	{"state http url", "cliproxy {\n\tstate http://127.0.0.1:6379\n}", `scheme must be redis or rediss, got "http"`, 2},
	{"state without host", "cliproxy {\n\tstate redis:///0\n}", "missing host", 2},
	{"state bad db", "cliproxy {\n\tstate redis://127.0.0.1:6379/zero\n}", "expected redis://[user:password@]host:port/db", 2},
	{"state placeholder url without scheme", "cliproxy {\n\tstate {env.REDIS_URL}\n}", "url must start with redis:// or rediss://", 2},
	{"state usage_retention zero", "cliproxy {\n\tstate redis://127.0.0.1:6379 {\n\t\tusage_retention 0\n\t}\n}", "usage_retention must be a positive integer", 3},
	{"state unknown option", "cliproxy {\n\tstate redis://127.0.0.1:6379 {\n\t\tttl 1h\n\t}\n}", `unrecognized state option "ttl"`, 3},
}

func TestCaddyfileErrors(t *testing.T) {
	for _, tc := range caddyfileErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.input)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), fmt.Sprintf(", at Testfile:%d", tc.line), "error must name file and line")
		})
	}
}

func TestCaddyfileFullGrammar(t *testing.T) {
	h, err := parse(t, `cliproxy {
	client_key {env.KEY_A} alice
	client_key sha256:`+"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"+` bob
	client_key plainkey
	client_keys_file /etc/keys
	strategy FF
	max_attempts 5
	pool team-a
	state redis://gateway:{env.REDIS_PASSWORD}@redis.internal:6379/2 {
		usage_retention 500
	}
	auth_dir /var/lib/cliproxy/auth
	oauth_token_url codex http://127.0.0.1:9/token
	oauth_clients official
	transient_cooldown 30s
	max_cooldown 2h
	probe_interval 5m
	max_retry_interval 0s
	first_event_timeout 2m
	stream_header_timeout 40s
	body_read_timeout 45s
	session_affinity on
	claude_code_session_affinity off
	session_affinity_ttl 30m
	subagent_affinity separate
	max_body 1MiB
	body_memory 256MiB
	body_spool_dir /var/tmp/cliproxy
	disable_metrics
	request_log all
	request_log_dir /var/log/cliproxy
	request_log_max_files 50
	request_log_max_bytes 10MiB
	request_log_max_body 64KiB
	credential c {
		provider Claude
		api_key {env.K}
		base_url http://127.0.0.1:9000/prefix
		priority -2
		weight 0
		group acct
		allowed_clients alice bob
		models claude-* sonnet
		models opus
		excluded_models *-haiku
		header X-A 1
		header X-A 2
		auth_header x-api-key
		disabled
		disable_cooling
	}
	management {
		path /admin/gw/
		key {env.MGMT_KEY}
		allow_remote on
	}
	transport {
		dial_timeout 5s
	}
}`)
	require.NoError(t, err)
	assert.Equal(t, []ClientKey{{Name: "alice", Key: "{env.KEY_A}"}, {Name: "bob", SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}, {Key: "plainkey"}}, h.ClientKeys)
	assert.Equal(t, "/etc/keys", h.ClientKeysFile)
	assert.Equal(t, "fill-first", h.Strategy)
	assert.Equal(t, 5, h.MaxAttempts)
	assert.Equal(t, "team-a", h.Pool)
	assert.Equal(t, &StateConfig{URL: "redis://gateway:{env.REDIS_PASSWORD}@redis.internal:6379/2", UsageRetention: 500}, h.State)
	assert.Equal(t, "/var/lib/cliproxy/auth", h.AuthDir)
	assert.Equal(t, map[string]string{"codex": "http://127.0.0.1:9/token"}, h.OAuthTokenURLs)
	assert.Equal(t, "official", h.OAuthClients)
	assert.EqualValues(t, 30*time.Second, h.TransientCooldown)
	assert.EqualValues(t, 2*time.Hour, h.MaxCooldown)
	assert.EqualValues(t, 5*time.Minute, h.ProbeInterval)
	assert.Zero(t, h.MaxRetryInterval)
	assert.EqualValues(t, 2*time.Minute, h.FirstEventTimeout)
	assert.EqualValues(t, 40*time.Second, h.StreamHeaderTimeout)
	assert.EqualValues(t, 45*time.Second, h.BodyReadTimeout)
	assert.True(t, h.SessionAffinity)
	assert.EqualValues(t, 30*time.Minute, h.SessionAffinityTTL)
	assert.Equal(t, "separate", h.SubagentAffinity)
	assert.EqualValues(t, 1<<20, h.MaxBody)
	assert.EqualValues(t, 256<<20, h.BodyMemory)
	assert.Equal(t, "/var/tmp/cliproxy", h.BodySpoolDir)
	assert.True(t, h.DisableMetrics)
	assert.Equal(t, "all", h.RequestLog)
	assert.Equal(t, "/var/log/cliproxy", h.RequestLogDir)
	assert.Equal(t, 50, h.RequestLogMaxFiles)
	assert.EqualValues(t, 10<<20, h.RequestLogMaxBytes)
	assert.EqualValues(t, 64<<10, h.RequestLogMaxBody)
	require.Len(t, h.Credentials, 1)
	c := h.Credentials[0]
	assert.Equal(t, "claude", c.Provider)
	assert.Equal(t, -2, c.Priority)
	require.NotNil(t, c.Weight)
	assert.Equal(t, 0, *c.Weight, "weight 0 is kept, not taken for unset")
	assert.Equal(t, "acct", c.Group)
	assert.Equal(t, []string{"alice", "bob"}, c.AllowedClients)
	assert.Equal(t, []string{"claude-*", "sonnet", "opus"}, c.Models)
	assert.Equal(t, []string{"*-haiku"}, c.ExcludedModels)
	assert.Equal(t, []string{"1", "2"}, c.Headers["X-A"])
	assert.Equal(t, "x-api-key", c.AuthHeader)
	assert.True(t, c.Disabled)
	assert.True(t, c.DisableCooling)
	assert.JSONEq(t, `{"dial_timeout":5000000000}`, string(h.Transport))
	assert.Equal(t, &ManagementConfig{Path: "/admin/gw/", Key: "{env.MGMT_KEY}", AllowRemote: true}, h.Management)
}

func TestCaddyfileManagementDefaultsAndHash(t *testing.T) {
	h, err := parse(t, "cliproxy {\n\tmanagement\n}")
	require.NoError(t, err)
	assert.Equal(t, &ManagementConfig{}, h.Management, "a bare management block takes every default")
	hash := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	h, err = parse(t, "cliproxy {\n\tmanagement {\n\t\tkey sha256:"+hash+"\n\t\tallow_remote off\n\t}\n}")
	require.NoError(t, err)
	assert.Equal(t, &ManagementConfig{KeySHA256: hash}, h.Management)
}
