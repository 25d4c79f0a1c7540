package mockoauth

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// AuthConfig configures an [AuthServer].
type AuthConfig struct {
	// Format is the provider the server imitates. Auto (the zero value)
	// decides per authorization request: code=true is Claude, access_type
	// is Google, anything else Codex.
	Format Format
	// ClientID is the only client_id accepted; "" accepts any.
	ClientID string
	// ClientSecret is the client_secret a Google code exchange must
	// present; "" accepts any non-empty one.
	ClientSecret string
	// RedirectURIs are the registered redirect URIs; "" (none) accepts
	// any absolute URI. A loopback URI (localhost, 127.0.0.1, [::1])
	// matches on any port, as Google allows installed apps (RFC 8252
	// §7.3); OpenAI's real client only accepts port 1455.
	RedirectURIs []string
	// Email and AccountID identify the account that signs in: Claude
	// answers them as account.email_address and account.uuid, Codex puts
	// them in the id_token (email, and chatgpt_account_id under
	// "https://api.openai.com/auth"), Google in its id_token (email, sub)
	// and at /userinfo. Defaults "mock@example.com" and
	// "mock-chatgpt-account".
	Email     string
	AccountID string
	// ExpiresIn is the lifetime of issued access tokens; default
	// DefaultExpiresIn.
	ExpiresIn time.Duration
	// OmitIDToken leaves the id_token out of Google's answer, so that the
	// client has to ask /userinfo for the e-mail address.
	OmitIDToken bool
	// Refresh, when set, answers the refresh_token grants posted to this
	// server; without it they are refused as unsupported.
	Refresh *Server
	// Now is the clock of the id_token claims; nil means time.Now.
	Now func() time.Time
}

// Authorization is an authorization request as the server received it.
type Authorization struct {
	Format Format
	// Query is the request's query string parameters.
	Query url.Values
	// Code is the code issued, "" when the request was refused.
	Code string
	// Error is the OAuth error answered, "" when a code was issued.
	Error string
}

// CodeExchange is an authorization_code grant as the server received it.
type CodeExchange struct {
	Format       Format
	ContentType  string
	GrantType    string
	Code         string
	ClientID     string
	ClientSecret string
	RedirectURI  string
	CodeVerifier string
	State        string
	// UserAgent is the request's User-Agent header.
	UserAgent string
	// Status is the HTTP status answered; Error the OAuth error code, ""
	// on success.
	Status int
	Error  string
}

// AuthServer is a mock OAuth authorization server for the sign-in of the
// official CLIs: the authorization endpoint, a token endpoint answering
// authorization_code grants with PKCE (S256), and Google's userinfo
// endpoint. It routes by method and path: a GET on a path ending in
// "/userinfo" is userinfo, any other GET is the authorization endpoint, a
// POST is the token endpoint.
//
// The authorization endpoint checks client_id and redirect_uri (answering
// 400 without redirecting when either is wrong, as real servers do), then
// response_type=code, a code_challenge with method S256 and a state, and
// redirects to redirect_uri with code and state (or error and state). A
// request carrying code=true, as Claude Code's does, is answered instead
// with the text Anthropic's console shows after that redirect: "code#state".
//
// The token endpoint speaks the provider's format (JSON for Claude, a form
// for Codex and Google), verifies that the code was issued to this client
// for this redirect_uri (and, for Claude, this state), that
// base64url(sha256(code_verifier)) is the code's challenge, and that a
// Google client sent its secret; a code works once. It issues
// "mock-login-access-N" / "mock-login-refresh-N" tokens (Google: a refresh
// token only for access_type=offline; Codex: only with offline_access).
//
// An AuthServer is safe for concurrent use.
type AuthServer struct {
	cfg AuthConfig
	now func() time.Time

	mu             sync.Mutex
	deny           string
	n              int
	grants         map[string]*codeGrant
	access         map[string]bool
	secrets        []string
	authorizations []Authorization
	exchanges      []CodeExchange
}

// codeGrant is what an issued code was bound to.
type codeGrant struct {
	format      Format
	clientID    string
	redirectURI string
	challenge   string
	state       string
	offline     bool
	used        bool
}

// NewAuthServer returns an authorization server configured by cfg.
func NewAuthServer(cfg AuthConfig) *AuthServer {
	if cfg.Email == "" {
		cfg.Email = "mock@example.com"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "mock-chatgpt-account"
	}
	if cfg.ExpiresIn <= 0 {
		cfg.ExpiresIn = DefaultExpiresIn
	}
	s := &AuthServer{cfg: cfg, now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	s.grants = map[string]*codeGrant{}
	s.access = map[string]bool{}
	return s
}

// SetDeny makes the following authorization requests end in a redirect
// with error=code (e.g. "access_denied", the user declining); "" restores
// issuing codes.
func (s *AuthServer) SetDeny(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deny = code
}

// Authorizations returns the authorization requests received, oldest first.
func (s *AuthServer) Authorizations() []Authorization {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.authorizations)
}

// Exchanges returns the authorization_code grants received, oldest first.
func (s *AuthServer) Exchanges() []CodeExchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.exchanges)
}

// Secrets returns every code and token the server issued, for tests that
// check none of them leaks.
func (s *AuthServer) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.secrets)
}

// ServeHTTP routes a request (see [AuthServer]).
func (s *AuthServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost:
		s.token(w, r)
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/userinfo"):
		s.userinfo(w, r)
	case r.Method == http.MethodGet:
		s.authorize(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, "invalid_request", "GET the authorization endpoint, POST the token endpoint")
	}
}

// authorize is the authorization endpoint; the user consents at once.
func (s *AuthServer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format := s.cfg.Format
	if format == Auto {
		switch {
		case q.Get("code") == "true":
			format = Claude
		case q.Has("access_type"):
			format = Google
		default:
			format = Codex
		}
	}
	rec := Authorization{Format: format, Query: q}
	defer func() {
		s.mu.Lock()
		s.authorizations = append(s.authorizations, rec)
		s.mu.Unlock()
	}()

	// Errors about the client or the redirect URI are shown, not
	// redirected: the redirect target cannot be trusted.
	clientID, redirectURI := q.Get("client_id"), q.Get("redirect_uri")
	switch {
	case clientID == "" || (s.cfg.ClientID != "" && clientID != s.cfg.ClientID):
		rec.Error = "invalid_client"
		http.Error(w, "invalid_client: unknown client_id", http.StatusBadRequest)
		return
	case !s.redirectAllowed(redirectURI):
		rec.Error = "invalid_request"
		http.Error(w, "invalid_request: redirect_uri is not registered for this client", http.StatusBadRequest)
		return
	case q.Get("state") == "":
		// The mock insists on a state: the CLIs always send one.
		rec.Error = "invalid_request"
		http.Error(w, "invalid_request: missing state", http.StatusBadRequest)
		return
	}
	state := q.Get("state")
	redirectError := func(code, desc string) {
		rec.Error = code
		v := url.Values{"error": {code}, "state": {state}}
		if desc != "" {
			v.Set("error_description", desc)
		}
		http.Redirect(w, r, withQuery(redirectURI, v), http.StatusFound)
	}
	switch {
	case q.Get("response_type") != "code":
		redirectError("unsupported_response_type", "response_type must be code")
		return
	case q.Get("code_challenge") == "":
		redirectError("invalid_request", "code_challenge required (PKCE)")
		return
	case q.Get("code_challenge_method") != "S256":
		redirectError("invalid_request", "code_challenge_method must be S256")
		return
	case q.Get("scope") == "":
		redirectError("invalid_scope", "scope required")
		return
	}
	s.mu.Lock()
	deny := s.deny
	s.mu.Unlock()
	if deny != "" {
		redirectError(deny, "The user denied the request")
		return
	}

	offline := true
	switch format {
	case Codex:
		offline = slices.Contains(strings.Fields(q.Get("scope")), "offline_access")
	case Google:
		offline = q.Get("access_type") == "offline"
	}
	s.mu.Lock()
	s.n++
	code := fmt.Sprintf("mock-code-%d", s.n)
	s.grants[code] = &codeGrant{
		format:      format,
		clientID:    clientID,
		redirectURI: redirectURI,
		challenge:   q.Get("code_challenge"),
		state:       state,
		offline:     offline,
	}
	s.secrets = append(s.secrets, code)
	s.mu.Unlock()
	rec.Code = code

	if q.Get("code") == "true" {
		// What Claude's console page shows after the redirect.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, code+"#"+state)
		return
	}
	http.Redirect(w, r, withQuery(redirectURI, url.Values{"code": {code}, "state": {state}}), http.StatusFound)
}

// redirectAllowed reports whether uri is registered (see AuthConfig).
func (s *AuthServer) redirectAllowed(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" {
		return false
	}
	if len(s.cfg.RedirectURIs) == 0 {
		return true
	}
	for _, reg := range s.cfg.RedirectURIs {
		if reg == uri {
			return true
		}
		ru, err := url.Parse(reg)
		if err != nil {
			continue
		}
		if loopbackHost(ru.Hostname()) && ru.Scheme == u.Scheme && ru.Hostname() == u.Hostname() &&
			ru.EscapedPath() == u.EscapedPath() && u.RawQuery == ru.RawQuery {
			return true
		}
	}
	return false
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// withQuery adds v to the query of uri.
func withQuery(uri string, v url.Values) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	q := u.Query()
	for k, vals := range v {
		q[k] = vals
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// token is the token endpoint.
func (s *AuthServer) token(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "unreadable body")
		return
	}
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	fields := map[string]string{}
	switch mt {
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
			return
		}
		for k := range vals {
			fields[k] = vals.Get(k)
		}
	case "application/json":
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", "malformed JSON body")
			return
		}
		for k, v := range m {
			if str, ok := v.(string); ok {
				fields[k] = str
			}
		}
	default:
		writeError(w, http.StatusBadRequest, "invalid_request", "unsupported content type")
		return
	}

	if fields["grant_type"] == "refresh_token" && s.cfg.Refresh != nil {
		r.Body = io.NopCloser(bytes.NewReader(raw))
		s.cfg.Refresh.ServeHTTP(w, r)
		return
	}
	x := CodeExchange{
		ContentType:  ct,
		GrantType:    fields["grant_type"],
		Code:         fields["code"],
		ClientID:     fields["client_id"],
		ClientSecret: fields["client_secret"],
		RedirectURI:  fields["redirect_uri"],
		CodeVerifier: fields["code_verifier"],
		State:        fields["state"],
		UserAgent:    r.Header.Get("User-Agent"),
	}
	status, code, desc, grant := s.checkExchange(&x, mt)
	x.Status, x.Error = status, code
	s.mu.Lock()
	s.exchanges = append(s.exchanges, x)
	s.mu.Unlock()
	if code != "" {
		writeError(w, status, code, desc)
		return
	}
	s.issue(w, grant)
}

// checkExchange validates an authorization_code grant, consuming its code.
// It returns the error to answer (code "" for none) or the grant.
func (s *AuthServer) checkExchange(x *CodeExchange, mediaType string) (status int, code, desc string, g *codeGrant) {
	if x.GrantType != "authorization_code" {
		return http.StatusBadRequest, "unsupported_grant_type", "only authorization_code grants are supported here", nil
	}
	if x.Code == "" || x.ClientID == "" || x.RedirectURI == "" || x.CodeVerifier == "" {
		return http.StatusBadRequest, "invalid_request", "code, client_id, redirect_uri and code_verifier are required", nil
	}
	if s.cfg.ClientID != "" && x.ClientID != s.cfg.ClientID {
		return http.StatusUnauthorized, "invalid_client", "unknown client_id", nil
	}

	s.mu.Lock()
	g = s.grants[x.Code]
	used := g != nil && g.used
	if g != nil {
		g.used = true // a code is spent by any attempt, as real servers do
	}
	s.mu.Unlock()
	if g == nil || used {
		return http.StatusBadRequest, "invalid_grant", "authorization code not found, expired or already used", nil
	}
	x.Format = g.format

	wantJSON := g.format == Claude
	if wantJSON != (mediaType == "application/json") {
		return http.StatusBadRequest, "invalid_request", "wrong content type for this provider", nil
	}
	switch {
	case g.format == Google && x.ClientSecret == "":
		return http.StatusUnauthorized, "invalid_client", "missing client_secret", nil
	case g.format == Google && s.cfg.ClientSecret != "" && x.ClientSecret != s.cfg.ClientSecret:
		return http.StatusUnauthorized, "invalid_client", "wrong client_secret", nil
	case x.ClientID != g.clientID:
		return http.StatusBadRequest, "invalid_grant", "code was issued to another client", nil
	case x.RedirectURI != g.redirectURI:
		return http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request", nil
	case g.format == Claude && x.State != g.state:
		return http.StatusBadRequest, "invalid_grant", "state does not match the authorization request", nil
	}
	sum := sha256.Sum256([]byte(x.CodeVerifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(g.challenge)) != 1 {
		return http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge", nil
	}
	return http.StatusOK, "", "", g
}

// issue answers a valid grant with tokens in the provider's shape.
func (s *AuthServer) issue(w http.ResponseWriter, g *codeGrant) {
	s.mu.Lock()
	s.n++
	access := fmt.Sprintf("mock-login-access-%d", s.n)
	refresh := fmt.Sprintf("mock-login-refresh-%d", s.n)
	s.access[access] = true
	s.secrets = append(s.secrets, access, refresh)
	s.mu.Unlock()

	ttl := s.cfg.ExpiresIn
	ans := map[string]any{
		"access_token": access,
		"token_type":   "Bearer",
		"expires_in":   int(ttl / time.Second),
	}
	if g.offline {
		ans["refresh_token"] = refresh
	}
	var idToken string
	switch g.format {
	case Claude:
		ans["scope"] = "org:create_api_key user:profile user:inference"
		ans["account"] = map[string]string{"uuid": "mock-account-uuid", "email_address": s.cfg.Email}
		ans["organization"] = map[string]string{"uuid": "mock-org-uuid", "name": "Mock Organization"}
	case Codex:
		idToken = unsignedJWT(map[string]any{
			"iss":   "https://auth.openai.com",
			"aud":   []string{g.clientID},
			"sub":   "mock-openai-sub",
			"email": s.cfg.Email,
			"iat":   s.now().Unix(),
			"exp":   s.now().Add(ttl).Unix(),
			"https://api.openai.com/auth": map[string]string{
				"chatgpt_account_id": s.cfg.AccountID,
				"chatgpt_plan_type":  "plus",
			},
		})
		ans["scope"] = "openid profile email offline_access"
	case Google:
		ans["scope"] = "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile openid"
		if !s.cfg.OmitIDToken {
			idToken = unsignedJWT(map[string]any{
				"iss":            "https://accounts.google.com",
				"aud":            g.clientID,
				"sub":            "mock-google-sub",
				"email":          s.cfg.Email,
				"email_verified": true,
				"iat":            s.now().Unix(),
				"exp":            s.now().Add(ttl).Unix(),
			})
		}
	}
	if idToken != "" {
		ans["id_token"] = idToken
		s.mu.Lock()
		s.secrets = append(s.secrets, idToken)
		s.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, ans)
}

// userinfo is Google's userinfo endpoint, for the tokens this server issued.
func (s *AuthServer) userinfo(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	known := ok && s.access[tok]
	s.mu.Unlock()
	if !known {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "invalid_token", "unknown access token")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id":             "mock-google-sub",
		"email":          s.cfg.Email,
		"verified_email": true,
	})
}

// unsignedJWT encodes claims as a JWT with alg "none" and a dummy signature.
func unsignedJWT(claims map[string]any) string {
	header, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	body, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(header) + "." + enc.EncodeToString(body) + ".mock-signature"
}
