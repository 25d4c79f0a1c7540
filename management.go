package cliproxy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-cliproxy/cliproxy/management"
)

// DefaultManagementPath is where the management API is mounted on a site.
const DefaultManagementPath = "/v0/management"

// ManagementPasswordEnv names the environment variable holding a runtime
// management password: read when the config loads, accepted from loopback
// clients only, and never written to the config, a log or a response.
const ManagementPasswordEnv = "CLIPROXY_MANAGEMENT_PASSWORD"

// ManagementConfig mounts the management API on the site.
type ManagementConfig struct {
	// Path is the API's mount point; requests under it never reach the
	// pool. Default: /v0/management.
	Path string `json:"path,omitempty"`

	// Key is the secret clients present as "Authorization: Bearer <key>"
	// (a header Caddy's access log redacts), or a placeholder such as {env.X}
	// resolved at provision (so it stays out of the autosaved config).
	// Without a key (here or in KeySHA256), only the runtime password of
	// CLIPROXY_MANAGEMENT_PASSWORD is accepted. Default: none.
	Key string `json:"key,omitempty"`

	// KeySHA256 is the hex SHA-256 of the key, instead of Key.
	KeySHA256 string `json:"key_sha256,omitempty"`

	// AllowRemote admits clients that do not connect from a loopback
	// address (as Caddy's client IP has it, so trusted_proxies apply).
	// The runtime password is never accepted from them. Default: false.
	AllowRemote bool `json:"allow_remote,omitempty"`
}

func (m *ManagementConfig) path() string {
	if m.Path == "" {
		return DefaultManagementPath
	}
	return strings.TrimSuffix(m.Path, "/")
}

// under reports whether path is the API's, and the endpoint relative to
// the mount point.
func (m *ManagementConfig) under(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, m.path())
	if !ok || (rest != "" && rest[0] != '/') {
		return "", false
	}
	return strings.TrimPrefix(rest, "/"), true
}

func (m *ManagementConfig) validate() error {
	if m == nil {
		return nil
	}
	if m.Path != "" && (!strings.HasPrefix(m.Path, "/") || m.path() == "") {
		return fmt.Errorf("management path must start with / and not be /, got %q", m.Path)
	}
	if m.Key != "" && m.KeySHA256 != "" {
		return fmt.Errorf("management: key and key_sha256 are exclusive")
	}
	if m.KeySHA256 != "" {
		if raw, err := hex.DecodeString(m.KeySHA256); err != nil || len(raw) != sha256.Size {
			return fmt.Errorf("management key_sha256 must be 64 hex digits")
		}
	}
	return nil
}

// guard builds the site mount's guard, or nil when m is nil. It reads the
// runtime password from the environment; the password lives in the guard
// only, as a hash.
func (m *ManagementConfig) guard(repl *caddy.Replacer, lockout *management.Lockout) (*management.Guard, error) {
	if m == nil {
		return nil, nil
	}
	var keyHash []byte
	switch {
	case m.KeySHA256 != "":
		keyHash, _ = hex.DecodeString(m.KeySHA256)
	case m.Key != "":
		key := repl.ReplaceKnown(m.Key, "")
		if strings.TrimSpace(key) == "" {
			return nil, fmt.Errorf("management key is empty")
		}
		sum := sha256.Sum256([]byte(key))
		keyHash = sum[:]
	}
	password := os.Getenv(ManagementPasswordEnv)
	if keyHash == nil && password == "" {
		return nil, fmt.Errorf("management needs a key, or a password in %s", ManagementPasswordEnv)
	}
	return management.NewGuard(keyHash, password, m.AllowRemote, lockout), nil
}

// serveManagement answers a request to the site mount of the API.
func (h *Handler) serveManagement(w http.ResponseWriter, r *http.Request, rel string) {
	client, local := managementClient(r)
	if management.IsPage(rel) {
		if err := h.guard.CheckPage(client, local); err != nil {
			management.WriteError(w, err)
			return
		}
		management.ServePage(w, r, rel)
		return
	}
	if err := h.guard.CheckFrom(client, local, management.PresentedKey(r)); err != nil {
		management.WriteError(w, err)
		return
	}
	management.Serve(w, r, h.state, rel)
}

// managementClient is the address the site mount judges a request by, and
// whether it is local. Without a trusted proxy in between, that is the
// connection's peer. Through one, Caddy's client IP is believed only when
// the server picks it strictly (trusted_proxies_strict): otherwise it is
// the left-most X-Forwarded-For entry, which the client wrote itself, so
// the request counts as remote and the proxy's address keys the lockout.
// A local request must come from loopback over a loopback connection.
// An address that cannot be parsed is the zero Addr, which is not local.
func managementClient(r *http.Request) (netip.Addr, bool) {
	peer := parseAddr(r.RemoteAddr)
	raw, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	client := parseAddr(raw)
	if !client.IsValid() || client == peer {
		return peer, peer.IsLoopback()
	}
	if srv, ok := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server); ok && srv.TrustedProxiesStrict > 0 {
		return client, client.IsLoopback() && peer.IsLoopback()
	}
	return peer, false
}

// parseAddr reads an address with or without a port.
func parseAddr(raw string) netip.Addr {
	if host, _, err := net.SplitHostPort(raw); err == nil {
		raw = host
	}
	addr, err := netip.ParseAddr(raw)
	if err != nil {
		return netip.Addr{}
	}
	return addr.Unmap()
}
