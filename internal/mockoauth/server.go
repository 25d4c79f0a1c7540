package mockoauth

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Format is the wire format of a provider's token endpoint.
type Format string

// The formats a Server speaks.
const (
	// Auto decides the format per request from its body: form → Google,
	// JSON with a "scope" → Codex, other JSON → Claude.
	Auto Format = ""
	// Claude is Anthropic's endpoint: a JSON request {grant_type,
	// refresh_token, client_id}; the answer rotates the refresh token.
	Claude Format = "claude"
	// Codex is OpenAI's endpoint: a JSON request {client_id, grant_type,
	// refresh_token, scope}; the answer rotates the refresh token and
	// carries an id_token.
	Codex Format = "codex"
	// Google is Google's endpoint: a form request client_id,
	// client_secret, grant_type, refresh_token; the answer carries no
	// refresh token (the old one stays valid).
	Google Format = "google"
)

// DefaultExpiresIn is the lifetime of the access tokens a Server issues
// unless configured otherwise.
const DefaultExpiresIn = time.Hour

// Config configures a Server.
type Config struct {
	// Format is the wire format the server speaks; Auto (the zero value)
	// picks it per request.
	Format Format
	// ExpiresIn is the lifetime of issued access tokens, sent as
	// expires_in (whole seconds). Default DefaultExpiresIn.
	ExpiresIn time.Duration
	// OmitExpiresIn leaves expires_in out of the answers (the Codex
	// endpoint may; the expiry is then in the access token, which for this
	// mock means unknown).
	OmitExpiresIn bool
	// DetectReuse refuses a refresh token presented again after it was
	// exchanged and rotated: Codex answers 401 refresh_token_reused in
	// OpenAI's error shape, Claude 400 invalid_grant. Google tokens do not
	// rotate and are never reused. Without it, old refresh tokens keep
	// working.
	DetectReuse bool
	// Now is the clock of the id_token claims; nil means time.Now.
	Now func() time.Time
}

// Fault programs the answer to requests that present the refresh token it
// is set for with [Server.SetFault].
type Fault struct {
	// Status, when non-zero, answers with this status and an OAuth error
	// body {"error": Error, "error_description": Description}.
	Status int
	// Error is the OAuth error code; "" means "server_error" for a 5xx
	// status and "invalid_request" otherwise.
	Error string
	// Description is the error_description ("" = none).
	Description string
	// Body, when set, replaces the error body verbatim (with Status) or the
	// successful answer (without).
	Body string
	// Delay is how long to wait before answering; a client that gives up
	// meanwhile gets no answer.
	Delay time.Duration
	// Times applies the fault to the next N matching requests only; 0 =
	// until cleared.
	Times int
}

// Request is a token request as the server received it.
type Request struct {
	// Format is the wire format the request was served in.
	Format      Format
	Method      string
	Path        string
	ContentType string
	// The grant's parameters, from the JSON or form body.
	GrantType    string
	ClientID     string
	ClientSecret string
	RefreshToken string
	Scope        string
	// UserAgent is the request's User-Agent header.
	UserAgent string
	// Body is the raw request body.
	Body string
}

// Server is a mock OAuth token endpoint. Create one with New; it is safe for
// concurrent use.
type Server struct {
	format        Format
	detectReuse   bool
	omitExpiresIn bool
	now           func() time.Time

	mu        sync.Mutex
	expiresIn time.Duration
	nAccess   int
	nRefresh  int
	access    []string
	uses      map[string]int  // requests per refresh token
	consumed  map[string]bool // rotated-away refresh tokens
	faults    map[string]*Fault
	requests  []Request
}

// New returns a server configured by cfg.
func New(cfg Config) *Server {
	s := &Server{
		format:        cfg.Format,
		detectReuse:   cfg.DetectReuse,
		omitExpiresIn: cfg.OmitExpiresIn,
		now:           cfg.Now,
		expiresIn:     cfg.ExpiresIn,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.expiresIn <= 0 {
		s.expiresIn = DefaultExpiresIn
	}
	s.Reset()
	return s
}

// Reset forgets requests, counts, issued and consumed tokens and faults.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nAccess, s.nRefresh = 0, 0
	s.access = nil
	s.uses = map[string]int{}
	s.consumed = map[string]bool{}
	s.faults = map[string]*Fault{}
	s.requests = nil
}

// SetExpiresIn sets the lifetime of the access tokens issued from now on.
func (s *Server) SetExpiresIn(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expiresIn = d
}

// SetFault programs f for requests presenting refreshToken ("*" = every
// refresh token without a fault of its own), replacing the fault set for it.
func (s *Server) SetFault(refreshToken string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[refreshToken] = &f
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string]*Fault{}
}

// Refreshes returns how many token requests the server received.
func (s *Server) Refreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// RefreshesFor returns how many token requests presented refreshToken.
func (s *Server) RefreshesFor(refreshToken string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uses[refreshToken]
}

// Requests returns a copy of the requests received, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// AccessTokens returns the access tokens issued, oldest first.
func (s *Server) AccessTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.access...)
}

// ServeHTTP answers a token request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "invalid_request", "token requests are POSTs")
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "unreadable body")
		return
	}
	req, problem := s.parse(r, raw)

	s.mu.Lock()
	s.requests = append(s.requests, req)
	if req.RefreshToken != "" {
		s.uses[req.RefreshToken]++
	}
	var (
		fault   Fault
		faulted bool
	)
	if problem == nil {
		fault, faulted = s.takeFaultLocked(req.RefreshToken)
	}
	s.mu.Unlock()

	if faulted && fault.Delay > 0 {
		t := time.NewTimer(fault.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if problem != nil {
		writeError(w, problem.status, problem.code, problem.desc)
		return
	}
	if faulted && fault.Status != 0 {
		if fault.Body != "" {
			writeRaw(w, fault.Status, fault.Body)
			return
		}
		code := fault.Error
		if code == "" {
			code = "invalid_request"
			if fault.Status >= 500 {
				code = "server_error"
			}
		}
		writeError(w, fault.Status, code, fault.Description)
		return
	}
	if faulted && fault.Body != "" {
		writeRaw(w, http.StatusOK, fault.Body)
		return
	}
	s.grant(w, req)
}

// grant exchanges req's refresh token, enforcing reuse detection.
func (s *Server) grant(w http.ResponseWriter, req Request) {
	rotates := req.Format != Google
	s.mu.Lock()
	if s.detectReuse && rotates && s.consumed[req.RefreshToken] {
		s.mu.Unlock()
		if req.Format == Codex {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{
				"message": "Your refresh token has already been used to generate a new access token. Please try signing in again.",
				"type":    "invalid_request_error",
				"param":   nil,
				"code":    "refresh_token_reused",
			}})
			return
		}
		writeError(w, http.StatusBadRequest, "invalid_grant", "Refresh token not found or invalid")
		return
	}
	s.nAccess++
	access := fmt.Sprintf("mock-access-%d", s.nAccess)
	s.access = append(s.access, access)
	var refresh string
	if rotates {
		s.consumed[req.RefreshToken] = true
		s.nRefresh++
		refresh = fmt.Sprintf("mock-refresh-%d", s.nRefresh)
	}
	expiresIn := s.expiresIn
	s.mu.Unlock()

	ans := map[string]any{"access_token": access, "token_type": "Bearer"}
	if !s.omitExpiresIn {
		ans["expires_in"] = int(expiresIn / time.Second)
	}
	switch req.Format {
	case Claude:
		ans["refresh_token"] = refresh
		ans["scope"] = "user:inference user:profile"
		ans["account"] = map[string]string{"uuid": "mock-account-uuid", "email_address": "mock@example.com"}
		ans["organization"] = map[string]string{"uuid": "mock-org-uuid", "name": "Mock Organization"}
	case Codex:
		ans["refresh_token"] = refresh
		ans["scope"] = "openid profile email offline_access"
		ans["id_token"] = s.idToken(expiresIn)
	case Google:
		ans["scope"] = "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email openid"
	}
	writeJSON(w, http.StatusOK, ans)
}

// idToken is an unsigned JWT shaped like OpenAI's, carrying the claims the
// Codex CLI reads (email, ChatGPT account id and plan).
func (s *Server) idToken(ttl time.Duration) string {
	now := s.now()
	header, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	claims, _ := json.Marshal(map[string]any{
		"iss":   "https://auth.openai.com",
		"aud":   []string{"app_mock"},
		"email": "mock@example.com",
		"iat":   now.Unix(),
		"exp":   now.Add(ttl).Unix(),
		"https://api.openai.com/auth": map[string]string{
			"chatgpt_account_id": "mock-chatgpt-account",
			"chatgpt_plan_type":  "plus",
		},
	})
	enc := base64.RawURLEncoding
	return enc.EncodeToString(header) + "." + enc.EncodeToString(claims) + ".mock-signature"
}

// problem is a request the real endpoint would refuse as malformed.
type problem struct {
	status     int
	code, desc string
}

// parse reads the grant from r's body in the server's format (or the one
// Auto detects) and checks what the real endpoints insist on.
func (s *Server) parse(r *http.Request, raw []byte) (Request, *problem) {
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	req := Request{Method: r.Method, Path: r.URL.Path, ContentType: ct, UserAgent: r.Header.Get("User-Agent"), Body: string(raw)}

	var (
		fields map[string]string
		isForm = mt == "application/x-www-form-urlencoded"
		isJSON = mt == "application/json"
	)
	switch {
	case isForm:
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			return req, &problem{http.StatusBadRequest, "invalid_request", "malformed form body"}
		}
		fields = map[string]string{}
		for k := range vals {
			fields[k] = vals.Get(k)
		}
	case isJSON:
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return req, &problem{http.StatusBadRequest, "invalid_request", "malformed JSON body"}
		}
		fields = map[string]string{}
		for k, v := range m {
			if str, ok := v.(string); ok {
				fields[k] = str
			}
		}
	}
	req.GrantType = fields["grant_type"]
	req.ClientID = fields["client_id"]
	req.ClientSecret = fields["client_secret"]
	req.RefreshToken = fields["refresh_token"]
	_, hasScope := fields["scope"]
	req.Scope = fields["scope"]

	req.Format = s.format
	if req.Format == Auto {
		switch {
		case isForm:
			req.Format = Google
		case hasScope:
			req.Format = Codex
		default:
			req.Format = Claude
		}
	}
	switch {
	case req.Format == Google && !isForm:
		return req, &problem{http.StatusBadRequest, "invalid_request", "expected an application/x-www-form-urlencoded body"}
	case req.Format != Google && !isJSON:
		return req, &problem{http.StatusBadRequest, "invalid_request", "expected an application/json body"}
	case req.GrantType != "refresh_token":
		return req, &problem{http.StatusBadRequest, "unsupported_grant_type", "only refresh_token grants are supported"}
	case req.ClientID == "":
		return req, &problem{http.StatusUnauthorized, "invalid_client", "missing client_id"}
	case req.Format == Google && req.ClientSecret == "":
		return req, &problem{http.StatusUnauthorized, "invalid_client", "missing client_secret"}
	case req.RefreshToken == "":
		return req, &problem{http.StatusBadRequest, "invalid_request", "missing refresh_token"}
	}
	return req, nil
}

// takeFaultLocked returns the fault for refreshToken, counting down (and
// removing when spent) a fault with Times.
func (s *Server) takeFaultLocked(refreshToken string) (Fault, bool) {
	key := refreshToken
	f, ok := s.faults[key]
	if !ok {
		key = "*"
		f, ok = s.faults[key]
	}
	if !ok {
		return Fault{}, false
	}
	out := *f
	if f.Times > 0 {
		f.Times--
		if f.Times == 0 {
			delete(s.faults, key)
		}
	}
	return out, true
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	body := map[string]string{"error": code}
	if desc != "" {
		body["error_description"] = desc
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	writeRaw(w, status, string(b))
}

func writeRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
