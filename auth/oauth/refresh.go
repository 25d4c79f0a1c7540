package oauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// OAuthProvider names the OAuth authorization server an account signs in
// with, which decides the token endpoint, the public client and the wire
// format of a refresh.
type OAuthProvider string

// The OAuth providers whose accounts a pool can hold.
const (
	// OAuthClaude is an Anthropic account signed in with Claude Code.
	OAuthClaude OAuthProvider = "claude"
	// OAuthCodex is a ChatGPT account signed in with the Codex CLI.
	OAuthCodex OAuthProvider = "codex"
	// OAuthGoogle is a Google account signed in with the Gemini CLI
	// (Gemini Code Assist).
	OAuthGoogle OAuthProvider = "google"
)

// The public OAuth clients of the official command-line tools. Refresh
// tokens are bound to the client that obtained them, so a refresh must
// present the same client as the CLI the user logged in with. Google's
// installed-app "secret" is published with the Gemini CLI and is not
// confidential.
const (
	claudeClientID     = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
	codexClientID      = "app_EMoamEEZ73f0CkXaXp7hrann"
	codexScope         = "openid profile email"
	googleClientID     = "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com"
	googleClientSecret = "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"
)

// maxTokenResponse bounds how much of a token endpoint's answer is read.
const maxTokenResponse = 1 << 20

// ClaudeTokenURL is where Claude Code 2.1.330 exchanges codes and refreshes
// tokens (its TOKEN_URL). The older console.anthropic.com/v1/oauth/token
// answers programmatic POSTs with a Cloudflare challenge page (403) or a
// 404; api.anthropic.com/v1/oauth/token is the reported fallback, set
// with oauth_token_url.
const ClaudeTokenURL = "https://platform.claude.com/v1/oauth/token"

// ClaudeTokenUserAgent is the User-Agent of the gateway's requests to
// Claude's token endpoint, in the form Claude Code identifies itself with
// ("claude-cli/<version> (external, cli)"): the endpoint sits behind a bot
// filter that throttles requests from datacenter addresses without it.
// The requests are made with Claude Code's own public client, for tokens
// that client issued.
const ClaudeTokenUserAgent = "claude-cli/2.1.330 (external, cli)"

// setTokenHeaders sets the headers of a request to p's token endpoint.
func setTokenHeaders(h http.Header, p OAuthProvider, contentType string) {
	h.Set("Content-Type", contentType)
	h.Set("Accept", "application/json")
	if p == OAuthClaude {
		h.Set("User-Agent", ClaudeTokenUserAgent)
	}
}

// ParseOAuthProvider returns the OAuth provider called name (claude, codex
// or google).
func ParseOAuthProvider(name string) (OAuthProvider, error) {
	switch p := OAuthProvider(name); p {
	case OAuthClaude, OAuthCodex, OAuthGoogle:
		return p, nil
	}
	return "", fmt.Errorf("unknown oauth provider %q (want one of claude, codex, google)", name)
}

// DefaultTokenURL returns the token endpoint the official CLI of p refreshes
// at, or "" for an unknown provider.
func DefaultTokenURL(p OAuthProvider) string {
	switch p {
	case OAuthClaude:
		return ClaudeTokenURL
	case OAuthCodex:
		return "https://auth.openai.com/oauth/token"
	case OAuthGoogle:
		return "https://oauth2.googleapis.com/token"
	}
	return ""
}

// Token is the OAuth state of one account. Every field but Expiry is a
// secret: never log a Token (its String method prints the expiry only).
type Token struct {
	// AccessToken is sent upstream as the bearer credential.
	AccessToken string
	// RefreshToken obtains the next access token. Claude and Codex rotate
	// it on every refresh (the old one stops working); Google keeps it.
	RefreshToken string
	// IDToken is the OpenID Connect identity of a Codex or Google account
	// (a JWT carrying, for Codex, the ChatGPT account id). Empty when the
	// provider issues none.
	IDToken string
	// Expiry is when AccessToken stops working. The zero time means
	// unknown: the token is used until the upstream rejects it.
	Expiry time.Time
}

// Valid reports whether t has an access token that has not expired at now.
func (t Token) Valid(now time.Time) bool {
	return t.AccessToken != "" && (t.Expiry.IsZero() || now.Before(t.Expiry))
}

// String describes t without its secrets, so a Token that reaches a log by
// mistake leaks nothing.
func (t Token) String() string {
	exp := "unknown"
	if !t.Expiry.IsZero() {
		exp = t.Expiry.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("Token{access: %s, refresh: %s, expiry: %s}",
		presence(t.AccessToken), presence(t.RefreshToken), exp)
}

// GoString is String, for %#v.
func (t Token) GoString() string { return t.String() }

// Format prints String whatever the verb, so that no fmt verb (%d, %x, …)
// reaches the secret fields.
func (t Token) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, t.String()) }

func presence(s string) string {
	if s == "" {
		return "none"
	}
	return "set"
}

// ErrRevoked is matched (with errors.Is) by a refresh failure that can never
// succeed with the same refresh token: the token endpoint answered
// invalid_grant, or, for Codex, refresh_token_reused, refresh_token_expired
// or refresh_token_invalidated. The account has to sign in again.
var ErrRevoked = errors.New("refresh token revoked")

// ErrNoRefreshToken is returned when a refresh is needed but the account has
// no refresh token (for example a long-lived Claude setup token).
var ErrNoRefreshToken = errors.New("no refresh token")

// revokedCodes are the OAuth error codes after which a refresh token is dead.
var revokedCodes = map[string]bool{
	"invalid_grant":             true,
	"refresh_token_reused":      true,
	"refresh_token_expired":     true,
	"refresh_token_invalidated": true,
}

// RefreshError is a refresh the token endpoint refused. Its message carries
// the status, the OAuth error code and a shortened description, never a
// token.
type RefreshError struct {
	Provider OAuthProvider
	// Status is the HTTP status of the answer.
	Status int
	// Code is the OAuth error code ("invalid_grant", "refresh_token_reused",
	// …), "" when the answer carried none.
	Code string
	// Description is the endpoint's explanation, shortened and with the
	// refresh token removed should the endpoint have echoed it.
	Description string
}

func (e *RefreshError) Error() string {
	return endpointError(e.Provider, "oauth refresh", e.Status, e.Code, e.Description)
}

// endpointError words a token endpoint's refusal: what was being done,
// the status, the OAuth error code and the description, never a secret.
func endpointError(p OAuthProvider, doing string, status int, code, description string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: status %d", p, doing, status)
	if code != "" {
		b.WriteString(": ")
		b.WriteString(code)
	}
	if description != "" {
		b.WriteString(": ")
		b.WriteString(description)
	}
	return b.String()
}

// Revoked reports whether the refresh token is dead (see [ErrRevoked]).
func (e *RefreshError) Revoked() bool {
	return revokedCodes[e.Code] && e.Status < 500
}

// Is makes errors.Is(err, ErrRevoked) true for a revoked refresh token.
func (e *RefreshError) Is(target error) bool {
	return target == ErrRevoked && e.Revoked()
}

// Refresher exchanges refresh tokens for access tokens at the providers'
// token endpoints, in each provider's wire format:
//
//   - Claude: POST JSON {grant_type, refresh_token, client_id}; the answer
//     carries a new access token, a new refresh token and expires_in.
//   - Codex: POST JSON {client_id, grant_type, refresh_token, scope}; the
//     answer carries new access, refresh and id tokens, and expires_in or
//     else an access token whose JWT exp claim gives the expiry.
//   - Google: POST form client_id, client_secret, grant_type,
//     refresh_token; the answer carries a new access token and expires_in,
//     and usually no refresh token, in which case the old one stays.
//
// The zero Refresher uses http.DefaultClient, the real endpoints and the
// system clock. A Refresher is safe for concurrent use.
type Refresher struct {
	// Client makes the token requests (per-credential egress proxies go
	// here). Nil means http.DefaultClient.
	Client *http.Client
	// TokenURLs overrides the token endpoint of a provider; providers
	// missing from the map use DefaultTokenURL.
	TokenURLs map[OAuthProvider]string
	// Now is the clock that turns expires_in into an expiry; nil means
	// time.Now.
	Now func() time.Time
}

// TokenURL returns the endpoint r refreshes p's tokens at.
func (r *Refresher) TokenURL(p OAuthProvider) string {
	if u := r.TokenURLs[p]; u != "" {
		return u
	}
	return DefaultTokenURL(p)
}

func (r *Refresher) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Refresh exchanges refreshToken at p's token endpoint. The returned Token
// keeps refreshToken when the endpoint issued no new one. A refusal is a
// *RefreshError, matching ErrRevoked when the refresh token is dead; a
// transport failure wraps the client's error. No error carries a token.
func (r *Refresher) Refresh(ctx context.Context, p OAuthProvider, refreshToken string) (Token, error) {
	if refreshToken == "" {
		return Token{}, fmt.Errorf("%s oauth refresh: %w", p, ErrNoRefreshToken)
	}
	endpoint := r.TokenURL(p)
	if endpoint == "" {
		return Token{}, fmt.Errorf("oauth refresh: unknown provider %q", p)
	}
	var (
		body        []byte
		contentType string
	)
	switch p {
	case OAuthClaude:
		contentType = "application/json"
		body, _ = json.Marshal(map[string]string{
			"grant_type":    "refresh_token",
			"refresh_token": refreshToken,
			"client_id":     claudeClientID,
		})
	case OAuthCodex:
		contentType = "application/json"
		body, _ = json.Marshal(map[string]string{
			"client_id":     codexClientID,
			"grant_type":    "refresh_token",
			"refresh_token": refreshToken,
			"scope":         codexScope,
		})
	case OAuthGoogle:
		contentType = "application/x-www-form-urlencoded"
		body = []byte(url.Values{
			"client_id":     {googleClientID},
			"client_secret": {googleClientSecret},
			"grant_type":    {"refresh_token"},
			"refresh_token": {refreshToken},
		}.Encode())
	default:
		return Token{}, fmt.Errorf("oauth refresh: unknown provider %q", p)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return Token{}, fmt.Errorf("%s oauth refresh: %w", p, err)
	}
	setTokenHeaders(req.Header, p, contentType)
	client := r.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		// A *url.Error names the method and URL, never the body.
		return Token{}, fmt.Errorf("%s oauth refresh: %w", p, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	if err != nil {
		return Token{}, fmt.Errorf("%s oauth refresh: reading answer: %w", p, err)
	}

	access := gjson.GetBytes(raw, "access_token").String()
	if resp.StatusCode/100 != 2 || access == "" {
		return Token{}, refusal(p, resp.StatusCode, raw, refreshToken)
	}
	tok := Token{
		AccessToken:  access,
		RefreshToken: refreshToken,
		IDToken:      gjson.GetBytes(raw, "id_token").String(),
	}
	if rt := gjson.GetBytes(raw, "refresh_token").String(); rt != "" {
		tok.RefreshToken = rt
	}
	if in := gjson.GetBytes(raw, "expires_in"); in.Exists() && in.Float() > 0 {
		tok.Expiry = r.now().Add(time.Duration(in.Float() * float64(time.Second)))
	} else {
		tok.Expiry = jwtExpiry(access)
	}
	return tok, nil
}

// refusal builds the error for a non-2xx answer, or a 2xx answer without an
// access token. OAuth errors come as {"error": "code",
// "error_description": "…"}; OpenAI also answers {"error": {"code": …,
// "message": …}}.
func refusal(p OAuthProvider, status int, raw []byte, refreshToken string) error {
	code, description := oauthErrorOf(status, raw, refreshToken)
	return &RefreshError{Provider: p, Status: status, Code: code, Description: description}
}

// oauthErrorOf reads the error code and description of a token endpoint's
// answer, with every one of secrets removed should the endpoint have
// echoed it.
func oauthErrorOf(status int, raw []byte, secrets ...string) (code, description string) {
	if gjson.ValidBytes(raw) {
		errv := gjson.GetBytes(raw, "error")
		switch {
		case errv.Type == gjson.String:
			code = errv.String()
			description = gjson.GetBytes(raw, "error_description").String()
		case errv.IsObject():
			code = errv.Get("code").String()
			if code == "" {
				code = errv.Get("type").String()
			}
			description = errv.Get("message").String()
		}
	}
	if status/100 == 2 && code == "" {
		description = "answer carries no access token"
	}
	if code == "" && description == "" {
		description = htmlAnswer(raw)
	}
	for _, secret := range secrets {
		code = sanitize(code, secret, 64)
		description = sanitize(description, secret, 200)
	}
	return code, description
}

// htmlAnswer describes a token endpoint's answer that is a web page instead
// of OAuth JSON, "" for any other answer. A Cloudflare challenge ("Just a
// moment...") is what console.anthropic.com answers programmatic clients
// today: the page itself is not quoted, only what it is.
func htmlAnswer(raw []byte) string {
	head := bytes.ToLower(bytes.TrimSpace(raw[:min(len(raw), 4096)]))
	if !bytes.HasPrefix(head, []byte("<")) {
		return ""
	}
	for _, mark := range []string{"just a moment", "challenge-platform", "cf-chl", "cf_chl", "cloudflare"} {
		if bytes.Contains(head, []byte(mark)) {
			return "answered with a Cloudflare challenge page (a check for browsers) instead of OAuth JSON; " +
				"this host refuses programmatic clients: use the provider's current token endpoint (oauth_token_url)"
		}
	}
	return "answered with an HTML page instead of OAuth JSON; is this the provider's token endpoint (oauth_token_url)?"
}

// sanitize makes endpoint-provided text fit for an error message: the
// refresh token removed, control characters dropped, at most limit bytes.
func sanitize(s, secret string, limit int) string {
	if secret != "" {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// jwtExpiry returns the exp claim of a JWT, or the zero time when token is
// not a JWT with one. The signature is not checked: the expiry only decides
// when to refresh.
func jwtExpiry(token string) time.Time {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}
	}
	exp := gjson.GetBytes(payload, "exp")
	if exp.Type != gjson.Number || exp.Int() <= 0 {
		return time.Time{}
	}
	return time.Unix(exp.Int(), 0)
}

// Via returns r with its token requests sent through proxy, an account's
// own egress; r itself when proxy is nil.
func (r *Refresher) Via(proxy *url.URL) *Refresher {
	if proxy == nil {
		return r
	}
	base := http.DefaultTransport
	if r.Client != nil && r.Client.Transport != nil {
		base = r.Client.Transport
	}
	tr, ok := base.(*http.Transport)
	if !ok {
		return r
	}
	tr = tr.Clone()
	tr.Proxy = http.ProxyURL(proxy)
	out := *r
	out.Client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	if r.Client != nil {
		out.Client.Timeout, out.Client.CheckRedirect = r.Client.Timeout, r.Client.CheckRedirect
	}
	return &out
}
