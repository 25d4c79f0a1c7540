package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Credential is one upstream account or API key of the pool. Its fields are
// set once when the pool is built and not changed afterwards; the mutable
// health of a credential lives in the [Pool].
type Credential struct {
	// Name identifies the credential in logs, metrics and the management
	// API. Names are unique within a pool, and the pool orders credentials
	// by name so every selection strategy is deterministic.
	Name string

	// Provider is the upstream API family the credential talks to.
	Provider Provider

	// APIKey is the upstream secret. It is injected into upstream requests
	// and never written anywhere else; use Fingerprint to refer to it.
	APIKey string

	// BaseURL overrides the provider's default upstream. For the OpenAI
	// family it includes the API version path (https://host/v1); for
	// Claude and Gemini it is the host root, optionally with a prefix path.
	BaseURL *url.URL

	// Priority groups credentials into tiers; only the highest tier that
	// has an available credential is offered to the selector.
	Priority int

	// Models, when not empty, is the allow-list of model patterns the
	// credential serves ('*' wildcards). Empty means every model.
	Models []string

	// ExcludedModels are model patterns the credential never serves, even
	// when Models allows them.
	ExcludedModels []string

	// Weight is the credential's share under weighted round robin; 0
	// takes it out of that rotation.
	Weight int

	// Group names a set of credentials that share an upstream account
	// (e.g. the projects of one Google account). Round robin rotates
	// across groups before rotating within one.
	Group string

	// AllowedClients, when not empty, are the only client principals the
	// credential serves, so a member can keep a personal account to
	// themselves.
	AllowedClients []string

	// Headers are added to every upstream request made with the credential.
	Headers http.Header

	// Disabled takes the credential out of selection.
	Disabled bool

	// DisableCooling keeps the credential in rotation whatever the
	// upstream answers (its failures are still recorded).
	DisableCooling bool

	// Label and Note are the operator's words about the credential, shown
	// in management.
	Label, Note string

	// OAuth supplies the access token of an OAuth account; nil for an
	// API key.
	OAuth TokenProvider

	// AccountID is the ChatGPT account of a Codex credential, sent as
	// chatgpt-account-id.
	AccountID string

	// ProjectID is the Google Cloud project of a Gemini Code Assist
	// credential.
	ProjectID string

	// Email names the account of an OAuth credential, for operators.
	Email string

	// Websockets says whether the upstream is reached over its WebSocket
	// mode for WebSocket clients (true) or through the HTTP bridge
	// (false); nil is the provider's default (see WebSocketUpstream).
	Websockets *bool

	// Source is the auth file the credential came from, "" for one from
	// the config.
	Source string

	// ProxyURL is the egress proxy of the credential's upstream requests
	// and token refreshes (http, https, socks5 or socks5h); nil leaves
	// through the transport's own.
	ProxyURL *url.URL

	// OAuthClients decides which clients an OAuth account serves (see
	// ServesClient); OAuthClientsDefault takes the pool's setting.
	OAuthClients OAuthClients

	// AuthHeader is how a claude API key is sent: x-api-key (the default,
	// also for "") or Authorization: Bearer.
	AuthHeader AuthHeader

	// Prefix, when set, makes the credential serve only requests for
	// "<Prefix>/<model>", sent upstream as <model> (see UpstreamModel).
	// Models and ExcludedModels name models as the upstream knows them.
	Prefix string

	// RequestRetry is how many more times a request is sent to this
	// credential after a transient failure (a 5xx, 408 or connection
	// error) before it moves on to another credential; 0 moves on at once.
	RequestRetry int
}

// MaxRequestRetry bounds Credential.RequestRetry: a credential that keeps
// failing must not hold a request for long.
const MaxRequestRetry = 5

// ParsePrefix reads a credential's model prefix: surrounding spaces and
// slashes are dropped, and what is left must be one path segment of
// printable characters ("team-a", not "team/a").
func ParsePrefix(raw string) (string, error) {
	p := strings.Trim(strings.TrimSpace(raw), "/")
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c == 0x7f || c == '/' || c == ':' {
			return "", fmt.Errorf("invalid prefix %q: want one segment without spaces, slashes or colons", raw)
		}
	}
	return p, nil
}

// UpstreamModel is the name the upstream knows model by when the
// credential serves it: model without the credential's prefix. ok is false
// when the credential has a prefix and model does not carry it. A request
// that names no model ("") is served as it is by any credential.
func (c *Credential) UpstreamModel(model string) (upstream string, ok bool) {
	if c.Prefix == "" || model == "" {
		return model, true
	}
	rest, ok := strings.CutPrefix(model, c.Prefix+"/")
	if !ok || rest == "" {
		return "", false
	}
	return rest, true
}

// ClientModel is the name clients use for the upstream's model id when the
// credential serves it: "<prefix>/<id>", or id without a prefix.
func (c *Credential) ClientModel(id string) string {
	if c.Prefix == "" {
		return id
	}
	return c.Prefix + "/" + id
}

// ParseBaseURL reads a credential's base_url: it accepts an absolute http or https URL without query or
// fragment.
func ParseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid base_url: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("invalid base_url %q: scheme must be http or https", raw)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("invalid base_url %q: missing host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("invalid base_url %q: must not carry a query, fragment or user info", raw)
	}
	return u, nil
}

// ParseProxyURL reads an egress proxy URL: http, https, socks5 or socks5h,
// with a host, and user info if the proxy wants it.
func ParseProxyURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid proxy_url: %v", redactURLError(err))
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, fmt.Errorf("invalid proxy_url: scheme must be http, https, socks5 or socks5h, got %q", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("invalid proxy_url: missing host")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("invalid proxy_url: must not carry a path, query or fragment")
	}
	return u, nil
}

// redactURLError keeps the reason of a URL parse error without the URL,
// which may hold a proxy password.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// WebSocketUpstream reports whether WebSocket clients are served over the
// upstream's own WebSocket mode. Codex and OpenAI have one; an
// OpenAI-compatible host is bridged over HTTP unless it says otherwise.
func (c *Credential) WebSocketUpstream() bool {
	if c.Websockets != nil {
		return *c.Websockets
	}
	return c.Provider == Codex || c.Provider == OpenAI
}

// AllowsModel reports whether the credential may serve model, named as
// the upstream knows it (see UpstreamModel). An empty model
// (a request that names none, such as a model listing) is always allowed, so
// listings work in a pool where every credential is restricted.
func (c *Credential) AllowsModel(model string) bool {
	if model == "" {
		return true
	}
	if len(c.Models) > 0 && !matchAny(c.Models, model) {
		return false
	}
	return !matchAny(c.ExcludedModels, model)
}

// TokenProvider supplies an OAuth credential's access token;
// *TokenSource implements it.
type TokenProvider interface {
	// Access returns a usable access token, refreshing it first when it
	// is about to expire.
	Access(ctx context.Context) (string, error)
	// Invalidate forces a refresh after the upstream rejected the access
	// token rejected, unless another caller already replaced it, and
	// returns the new token.
	Invalidate(ctx context.Context, rejected string) (string, error)
}

// AllowsClient reports whether the client principal may use the credential.
func (c *Credential) AllowsClient(principal string) bool {
	if len(c.AllowedClients) == 0 {
		return true
	}
	for _, p := range c.AllowedClients {
		if p == principal {
			return true
		}
	}
	return false
}

// Fingerprint is a short, non-reversible tag of the credential's secret,
// enough for an operator to tell two keys apart and never enough to use one.
func (c *Credential) Fingerprint() string {
	id := c.APIKey
	if c.OAuth != nil {
		// tokens rotate; the account and project do not
		id = "oauth\x00" + string(c.Provider) + "\x00" + c.Email + "\x00" + c.AccountID + "\x00" + c.ProjectID + "\x00" + c.Source
	}
	if id == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:4])
}

// String names the credential without its secret, so that formatting a
// credential by mistake (%v, %+v, %s, as value or pointer) cannot leak it.
func (c Credential) String() string {
	return string(c.Provider) + ":" + c.Name
}

// GoString keeps %#v from printing the secret too.
func (c Credential) GoString() string {
	return "auth.Credential(" + c.String() + ")"
}
