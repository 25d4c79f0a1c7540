package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/internal/mockoauth"
)

var loginB64URL = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

func TestPKCE(t *testing.T) {
	// RFC 7636, appendix B.
	assert.Equal(t, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		auth.PKCEChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"))

	a, err := auth.NewPKCE()
	require.NoError(t, err)
	b, err := auth.NewPKCE()
	require.NoError(t, err)
	assert.Regexp(t, loginB64URL, a.Verifier, "43 base64url characters: 32 random bytes")
	assert.Regexp(t, loginB64URL, a.Challenge)
	sum := sha256.Sum256([]byte(a.Verifier))
	assert.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:]), a.Challenge)
	assert.NotEqual(t, a.Verifier, b.Verifier)

	f1, err := auth.NewLoginFlow(auth.OAuthCodex, auth.LoginOverrides{})
	require.NoError(t, err)
	f2, err := auth.NewLoginFlow(auth.OAuthCodex, auth.LoginOverrides{})
	require.NoError(t, err)
	assert.Regexp(t, loginB64URL, f1.State)
	assert.NotEqual(t, f1.State, f2.State)
	assert.NotEqual(t, f1.Challenge, f2.Challenge)
	assert.NotEqual(t, f1.State, f1.Challenge)
}

func TestLoginURLParameters(t *testing.T) {
	cases := []struct {
		provider auth.OAuthProvider
		base     string
		params   map[string]string
	}{
		// as Claude Code 2.1.330 signs a Claude subscription in
		{auth.OAuthClaude, "https://claude.com/cai/oauth/authorize", map[string]string{
			"code":          "true",
			"client_id":     "9d1c250a-e61b-44d9-88ed-5944d1962f5e",
			"response_type": "code",
			"redirect_uri":  "https://platform.claude.com/oauth/code/callback",
			"scope":         "org:create_api_key user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload",
		}},
		{auth.OAuthCodex, "https://auth.openai.com/oauth/authorize", map[string]string{
			"client_id":                  "app_EMoamEEZ73f0CkXaXp7hrann",
			"response_type":              "code",
			"redirect_uri":               "http://localhost:1455/auth/callback",
			"scope":                      "openid profile email offline_access",
			"id_token_add_organizations": "true",
			"codex_cli_simplified_flow":  "true",
		}},
		{auth.OAuthGoogle, "https://accounts.google.com/o/oauth2/v2/auth", map[string]string{
			"client_id":     "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com",
			"response_type": "code",
			"redirect_uri":  "http://localhost/oauth2callback",
			"scope": "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email " +
				"https://www.googleapis.com/auth/userinfo.profile",
			"access_type": "offline",
			"prompt":      "consent",
		}},
	}
	for _, tc := range cases {
		t.Run(string(tc.provider), func(t *testing.T) {
			f, err := auth.NewLoginFlow(tc.provider, auth.LoginOverrides{})
			require.NoError(t, err)
			assert.Equal(t, auth.DefaultTokenURL(tc.provider), f.TokenURL)
			assert.Equal(t, tc.provider == auth.OAuthGoogle, f.ClientSecret != "", "only Google has a (public) secret")

			u, err := url.Parse(f.URL())
			require.NoError(t, err)
			assert.Equal(t, tc.base, u.Scheme+"://"+u.Host+u.Path)
			want := map[string]string{
				"code_challenge":        f.Challenge,
				"code_challenge_method": "S256",
				"state":                 f.State,
			}
			for k, v := range tc.params {
				want[k] = v
			}
			got := map[string]string{}
			for k, v := range u.Query() {
				require.Len(t, v, 1, k)
				got[k] = v[0]
			}
			assert.Equal(t, want, got)
			assert.NotContains(t, f.URL(), "verifier")
			assert.NotContains(t, f.String(), f.Challenge)
		})
	}

	t.Run("overrides", func(t *testing.T) {
		f, err := auth.NewLoginFlow(auth.OAuthCodex, auth.LoginOverrides{
			AuthorizeURL: "http://127.0.0.1:9/authorize?tenant=x",
			TokenURL:     "http://127.0.0.1:9/token",
			RedirectURI:  "http://127.0.0.1:7/cb",
		})
		require.NoError(t, err)
		u, err := url.Parse(f.URL())
		require.NoError(t, err)
		assert.Equal(t, "127.0.0.1:9", u.Host)
		assert.Equal(t, "x", u.Query().Get("tenant"), "the override's own query is kept")
		assert.Equal(t, "http://127.0.0.1:7/cb", u.Query().Get("redirect_uri"))
		assert.Equal(t, "http://127.0.0.1:9/token", f.TokenURL)

		for _, bad := range []string{"ftp://x/y", "/relative", "http://"} {
			_, err = auth.NewLoginFlow(auth.OAuthCodex, auth.LoginOverrides{TokenURL: bad})
			assert.Error(t, err, bad)
		}
		_, err = auth.NewLoginFlow("nope", auth.LoginOverrides{})
		assert.Error(t, err)
	})
}

func TestParseCallback(t *testing.T) {
	f, err := auth.NewLoginFlow(auth.OAuthCodex, auth.LoginOverrides{})
	require.NoError(t, err)
	st := url.QueryEscape(f.State)
	cases := []struct {
		name  string
		input string
		code  string
		err   error
	}{
		{"callback URL", "http://localhost:1455/auth/callback?code=c-1&state=" + st, "c-1", nil},
		{"callback URL, spaces and quotes", "  \"http://localhost:1455/auth/callback?code=c-1&scope=x&state=" + st + "\"\n", "c-1", nil},
		{"query only", "code=c-2&state=" + st, "c-2", nil},
		{"query with ?", "?state=" + st + "&code=c-3", "c-3", nil},
		{"code in fragment", "https://example.com/cb#code=c-4&state=" + st, "c-4", nil},
		{"encoded google code", "http://localhost:5/oauth2callback?code=4%2F0Ab-x&state=" + st, "4/0Ab-x", nil},
		{"code#state", "c-5#" + f.State, "c-5", nil},
		{"bare code", "c-6", "c-6", nil},
		{"bare google code", "4/0AbCd_e-f", "4/0AbCd_e-f", nil},
		{"URL with another state", "http://localhost:1455/auth/callback?code=c&state=other", "", auth.ErrStateMismatch},
		{"URL without state", "http://localhost:1455/auth/callback?code=c", "", auth.ErrStateMismatch},
		{"code#other", "c#other", "", auth.ErrStateMismatch},
		{"code#", "c#", "", auth.ErrStateMismatch},
		{"empty", "  \n", "", auth.ErrNoCode},
		{"URL without code", "http://localhost:1455/auth/callback?state=" + st, "", auth.ErrNoCode},
		{"a sentence", "I could not sign in", "", auth.ErrNoCode},
		{"#state only", "#" + f.State, "", auth.ErrNoCode},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, err := f.ParseCallback(tc.input)
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
				assert.Empty(t, code)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.code, code)
		})
	}

	t.Run("refusal", func(t *testing.T) {
		_, err := f.ParseCallback("http://localhost:1455/auth/callback?error=access_denied&error_description=User+said+no&state=" + st)
		var refused *auth.AuthorizationError
		require.ErrorAs(t, err, &refused)
		assert.Equal(t, "access_denied", refused.Code)
		assert.Equal(t, "User said no", refused.Description)
		// A refusal that is not this sign-in's cannot end it.
		_, err = f.ParseCallback("http://localhost:1455/auth/callback?error=access_denied&state=x")
		assert.ErrorIs(t, err, auth.ErrStateMismatch)
	})

	t.Run("errors do not quote the input", func(t *testing.T) {
		_, err := f.ParseCallback("http://localhost:1455/auth/callback?code=SECRET-CODE&state=x")
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "SECRET-CODE")
	})
}

// loginMock starts a mock authorization server imitating p's, registered
// for the flow's client and default redirect URI.
func loginMock(t *testing.T, p auth.OAuthProvider, cfg mockoauth.AuthConfig) (*mockoauth.AuthServer, *httptest.Server) {
	t.Helper()
	defaults, err := auth.NewLoginFlow(p, auth.LoginOverrides{})
	require.NoError(t, err)
	switch p {
	case auth.OAuthClaude:
		cfg.Format = mockoauth.Claude
	case auth.OAuthCodex:
		cfg.Format = mockoauth.Codex
	case auth.OAuthGoogle:
		cfg.Format = mockoauth.Google
		cfg.ClientSecret = defaults.ClientSecret
	}
	cfg.ClientID = defaults.ClientID
	cfg.RedirectURIs = []string{defaults.RedirectURI}
	m := mockoauth.NewAuthServer(cfg)
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return m, srv
}

func loginMockFlow(t *testing.T, p auth.OAuthProvider, srv *httptest.Server, now time.Time) *auth.LoginFlow {
	t.Helper()
	f, err := auth.NewLoginFlow(p, auth.LoginOverrides{
		AuthorizeURL: srv.URL + "/oauth/authorize",
		TokenURL:     srv.URL + "/oauth/token",
		UserInfoURL:  srv.URL + "/oauth2/v2/userinfo",
		Now:          func() time.Time { return now },
	})
	require.NoError(t, err)
	return f
}

// loginAuthorize visits the authorization URL without following the
// redirect, and returns what the browser would end on: the redirect's
// target, or the page's text.
func loginAuthorize(t *testing.T, f *auth.LoginFlow) (status int, landing string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(f.URL())
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if loc := resp.Header.Get("Location"); loc != "" {
		return resp.StatusCode, loc
	}
	return resp.StatusCode, string(body)
}

func TestLoginExchange(t *testing.T) {
	now := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()

	t.Run("claude", func(t *testing.T) {
		m, srv := loginMock(t, auth.OAuthClaude, mockoauth.AuthConfig{Email: "alice@example.com"})
		f := loginMockFlow(t, auth.OAuthClaude, srv, now)
		status, page := loginAuthorize(t, f)
		require.Equal(t, http.StatusOK, status, page)
		require.True(t, strings.HasSuffix(page, "#"+f.State), "the console shows code#state")

		tok, info, err := f.Exchange(ctx, srv.Client(), page)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(tok.AccessToken, "mock-login-access-"))
		assert.True(t, strings.HasPrefix(tok.RefreshToken, "mock-login-refresh-"))
		assert.Empty(t, tok.IDToken)
		assert.Equal(t, now.Add(time.Hour), tok.Expiry)
		assert.Equal(t, auth.LoginInfo{Email: "alice@example.com", AccountID: "mock-account-uuid"}, info)

		x := m.Exchanges()
		require.Len(t, x, 1)
		assert.Equal(t, "application/json", x[0].ContentType)
		assert.Equal(t, "authorization_code", x[0].GrantType)
		assert.Equal(t, f.State, x[0].State)
		assert.Equal(t, f.RedirectURI, x[0].RedirectURI)
		assert.Equal(t, f.ClientID, x[0].ClientID)
		assert.Equal(t, f.Challenge, auth.PKCEChallenge(x[0].CodeVerifier))
		assert.Empty(t, x[0].ClientSecret)
		assert.Equal(t, http.StatusOK, x[0].Status)
	})

	t.Run("codex", func(t *testing.T) {
		m, srv := loginMock(t, auth.OAuthCodex, mockoauth.AuthConfig{Email: "bob@example.com", AccountID: "acct-123"})
		f := loginMockFlow(t, auth.OAuthCodex, srv, now)
		status, landing := loginAuthorize(t, f)
		require.Equal(t, http.StatusFound, status)
		require.True(t, strings.HasPrefix(landing, "http://localhost:1455/auth/callback?"), landing)

		tok, info, err := f.Exchange(ctx, srv.Client(), landing)
		require.NoError(t, err)
		assert.NotEmpty(t, tok.AccessToken)
		assert.NotEmpty(t, tok.RefreshToken, "offline_access was requested")
		assert.NotEmpty(t, tok.IDToken)
		assert.Equal(t, auth.LoginInfo{Email: "bob@example.com", AccountID: "acct-123"}, info)
		assert.Equal(t, "acct-123", auth.AccountIDFromIDToken(tok.IDToken))

		x := m.Exchanges()
		require.Len(t, x, 1)
		assert.Equal(t, "application/x-www-form-urlencoded", x[0].ContentType)
		assert.Equal(t, f.ClientID, x[0].ClientID)
		assert.Empty(t, x[0].ClientSecret)
		assert.Empty(t, x[0].State, "OpenAI's exchange carries no state")
		assert.Equal(t, f.Challenge, auth.PKCEChallenge(x[0].CodeVerifier))
	})

	t.Run("google", func(t *testing.T) {
		m, srv := loginMock(t, auth.OAuthGoogle, mockoauth.AuthConfig{Email: "carol@example.com"})
		f := loginMockFlow(t, auth.OAuthGoogle, srv, now)
		status, landing := loginAuthorize(t, f)
		require.Equal(t, http.StatusFound, status)
		tok, info, err := f.Exchange(ctx, srv.Client(), landing)
		require.NoError(t, err)
		assert.NotEmpty(t, tok.RefreshToken, "access_type=offline")
		assert.Equal(t, auth.LoginInfo{Email: "carol@example.com", AccountID: "mock-google-sub"}, info)
		x := m.Exchanges()
		require.Len(t, x, 1)
		assert.Equal(t, f.ClientSecret, x[0].ClientSecret)
		assert.Equal(t, "application/x-www-form-urlencoded", x[0].ContentType)
	})

	t.Run("google without id_token asks userinfo", func(t *testing.T) {
		_, srv := loginMock(t, auth.OAuthGoogle, mockoauth.AuthConfig{Email: "dave@example.com", OmitIDToken: true})
		f := loginMockFlow(t, auth.OAuthGoogle, srv, now)
		_, landing := loginAuthorize(t, f)
		tok, info, err := f.Exchange(ctx, srv.Client(), landing)
		require.NoError(t, err)
		assert.Empty(t, tok.IDToken)
		assert.Equal(t, "dave@example.com", info.Email)
	})
}

func TestLoginStateMismatchIsNotExchanged(t *testing.T) {
	m, srv := loginMock(t, auth.OAuthCodex, mockoauth.AuthConfig{})
	f := loginMockFlow(t, auth.OAuthCodex, srv, time.Now())
	_, landing := loginAuthorize(t, f)
	forged := strings.Replace(landing, url.QueryEscape(f.State), "forged-state", 1)
	require.NotEqual(t, landing, forged)
	_, _, err := f.Exchange(context.Background(), srv.Client(), forged)
	assert.ErrorIs(t, err, auth.ErrStateMismatch)

	cm, csrv := loginMock(t, auth.OAuthClaude, mockoauth.AuthConfig{})
	cf := loginMockFlow(t, auth.OAuthClaude, csrv, time.Now())
	_, page := loginAuthorize(t, cf)
	code, _, _ := strings.Cut(page, "#")
	_, _, err = cf.Exchange(context.Background(), csrv.Client(), code+"#another-state")
	assert.ErrorIs(t, err, auth.ErrStateMismatch)

	assert.Empty(t, m.Exchanges(), "nothing reached the token endpoint")
	assert.Empty(t, cm.Exchanges())
}

func TestLoginVerifierMismatchRefused(t *testing.T) {
	for _, p := range []auth.OAuthProvider{auth.OAuthClaude, auth.OAuthCodex, auth.OAuthGoogle} {
		t.Run(string(p), func(t *testing.T) {
			m, srv := loginMock(t, p, mockoauth.AuthConfig{})
			victim := loginMockFlow(t, p, srv, time.Now())
			_, landing := loginAuthorize(t, victim)
			code, err := victim.ParseCallback(landing)
			require.NoError(t, err)

			// Another flow (another verifier) presenting the intercepted
			// code is refused by the token endpoint.
			thief := loginMockFlow(t, p, srv, time.Now())
			thief.State = victim.State // Claude's exchange also carries the state
			_, _, err = thief.Exchange(context.Background(), srv.Client(), code)
			var le *auth.LoginError
			require.ErrorAs(t, err, &le)
			assert.Equal(t, http.StatusBadRequest, le.Status)
			assert.Equal(t, "invalid_grant", le.Code)
			assert.Contains(t, le.Description, "code_verifier")
			assert.NotContains(t, err.Error(), code)

			x := m.Exchanges()
			require.Len(t, x, 1)
			assert.Equal(t, "invalid_grant", x[0].Error)

			// The code is spent: the right verifier no longer helps.
			_, _, err = victim.Exchange(context.Background(), srv.Client(), landing)
			require.ErrorAs(t, err, &le)
			assert.Equal(t, "invalid_grant", le.Code)
		})
	}
}

func TestLoginRefusedAuthorization(t *testing.T) {
	m, srv := loginMock(t, auth.OAuthCodex, mockoauth.AuthConfig{})
	m.SetDeny("access_denied")
	f := loginMockFlow(t, auth.OAuthCodex, srv, time.Now())
	status, landing := loginAuthorize(t, f)
	require.Equal(t, http.StatusFound, status)
	_, _, err := f.Exchange(context.Background(), srv.Client(), landing)
	var refused *auth.AuthorizationError
	require.ErrorAs(t, err, &refused)
	assert.Equal(t, "access_denied", refused.Code)
	assert.Empty(t, m.Exchanges())
}

func TestLoginExchangeErrorRedactsSecrets(t *testing.T) {
	// A token endpoint that echoes the request back in its error.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"invalid_grant","error_description":"bad code `+
			form.Get("code")+` with verifier `+form.Get("code_verifier")+`"}`)
	}))
	defer srv.Close()
	f, err := auth.NewLoginFlow(auth.OAuthCodex, auth.LoginOverrides{TokenURL: srv.URL})
	require.NoError(t, err)
	_, _, err = f.Exchange(context.Background(), srv.Client(), "SECRET-CODE")
	var le *auth.LoginError
	require.ErrorAs(t, err, &le)
	assert.NotContains(t, err.Error(), "SECRET-CODE")
	assert.Contains(t, err.Error(), "[redacted]")
	assert.Contains(t, err.Error(), "codex oauth login: token exchange: status 400: invalid_grant")
	assert.Equal(t, 2, strings.Count(err.Error(), "[redacted]"), "the verifier is redacted too")
}

func TestCallbackListener(t *testing.T) {
	f, err := auth.NewLoginFlow(auth.OAuthCodex, auth.LoginOverrides{})
	require.NoError(t, err)
	l, err := f.ListenCallback("127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()

	_, port, err := net.SplitHostPort(l.Addr().String())
	require.NoError(t, err)
	assert.Equal(t, "http://localhost:"+port+"/auth/callback", f.RedirectURI, "the redirect URI follows the bound port")
	u, err := url.Parse(f.URL())
	require.NoError(t, err)
	assert.Equal(t, f.RedirectURI, u.Query().Get("redirect_uri"))

	base := "http://" + l.Addr().String()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	waitBriefly := func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		return l.Wait(ctx)
	}

	status, _ := get("/elsewhere?code=c&state=" + url.QueryEscape(f.State))
	assert.Equal(t, http.StatusNotFound, status)
	status, page := get("/auth/callback?code=c&state=forged")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, page, "not the answer to the sign-in in progress")
	status, _ = get("/auth/callback?code=c")
	assert.Equal(t, http.StatusBadRequest, status)
	status, _ = get("/auth/callback?error=access_denied&state=forged")
	assert.Equal(t, http.StatusBadRequest, status, "a foreign refusal cannot end the sign-in")
	resp, err := http.Post(base+"/auth/callback", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	_, err = waitBriefly()
	assert.ErrorIs(t, err, context.DeadlineExceeded, "none of those ends the wait")

	status, page = get("/auth/callback?code=the-code&state=" + url.QueryEscape(f.State))
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, page, "You can close this tab")
	assert.NotContains(t, page, "the-code")
	cb, err := waitBriefly()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(cb, f.RedirectURI+"?"), cb)
	code, err := f.ParseCallback(cb)
	require.NoError(t, err)
	assert.Equal(t, "the-code", code)

	status, page = get("/auth/callback?code=again&state=" + url.QueryEscape(f.State))
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, page, "already")
	_, err = waitBriefly()
	assert.ErrorIs(t, err, context.DeadlineExceeded, "only the first callback is delivered")

	require.NoError(t, l.Close())
	_, err = http.Get(base + "/auth/callback")
	assert.Error(t, err, "closed")
}

func TestCallbackListenerRefusalAndDefaults(t *testing.T) {
	f, err := auth.NewLoginFlow(auth.OAuthGoogle, auth.LoginOverrides{})
	require.NoError(t, err)
	l, err := f.ListenCallback("") // 127.0.0.1 on a free port
	require.NoError(t, err)
	defer l.Close()
	host, port, err := net.SplitHostPort(l.Addr().String())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
	assert.Equal(t, "http://localhost:"+port+"/oauth2callback", f.RedirectURI)

	resp, err := http.Get("http://" + l.Addr().String() + "/oauth2callback?error=access_denied&state=" + url.QueryEscape(f.State))
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(page), "access_denied")
	cb, err := l.Wait(context.Background())
	require.NoError(t, err)
	_, _, err = f.Exchange(context.Background(), nil, cb)
	var refused *auth.AuthorizationError
	assert.ErrorAs(t, err, &refused)

	// A redirect URI that is not loopback keeps its port.
	g, err := auth.NewLoginFlow(auth.OAuthCodex, auth.LoginOverrides{RedirectURI: "https://tunnel.example.com/auth/callback"})
	require.NoError(t, err)
	l2, err := g.ListenCallback("127.0.0.1:0")
	require.NoError(t, err)
	defer l2.Close()
	assert.Equal(t, "https://tunnel.example.com/auth/callback", g.RedirectURI)
}

func TestLoginFileName(t *testing.T) {
	cases := map[string]string{
		"alice@example.com":    "codex-alice@example.com.json",
		"a.b+tag@ex-ample.io":  "codex-a.b+tag@ex-ample.io.json",
		"../../etc/passwd":     "codex-_.__._etc_passwd.json",
		"x..y":                 "codex-x_.y.json",
		"dir/name\\evil\x00":   "codex-dir_name_evil_.json",
		"":                     "codex-account.json",
		"...":                  "codex-__.json",
		"Jöhn Doe@example.com": "codex-J_hn_Doe@example.com.json",
	}
	store, err := auth.NewFileStore(t.TempDir())
	require.NoError(t, err)
	for ident, want := range cases {
		name := auth.LoginFileName("codex", ident)
		assert.Equal(t, want, name, ident)
		assert.NotContains(t, name, "..")
		assert.NotContains(t, name, "/")
		_, err := store.Save(context.Background(), &auth.AuthFile{Name: name, Type: "codex"})
		assert.NoError(t, err, "the store accepts %q", name)
	}
	long := auth.LoginFileName("claude", strings.Repeat("a", 500)+"@example.com")
	assert.LessOrEqual(t, len(long), 200)
}

func TestLoginAuthFile(t *testing.T) {
	now := time.Date(2030, 5, 1, 12, 0, 0, 500, time.UTC)
	tok := auth.Token{AccessToken: "at", RefreshToken: "rt", IDToken: "idt", Expiry: now.Add(time.Hour)}
	info := auth.LoginInfo{Email: "alice@example.com", AccountID: "acct-1"}
	flow := func(p auth.OAuthProvider) *auth.LoginFlow {
		f, err := auth.NewLoginFlow(p, auth.LoginOverrides{Now: func() time.Time { return now }})
		require.NoError(t, err)
		return f
	}

	c := flow(auth.OAuthCodex).AuthFile(tok, info, nil)
	assert.Equal(t, "codex-alice@example.com.json", c.Name)
	assert.Equal(t, auth.FileTypeCodex, c.Type)
	assert.Equal(t, "alice@example.com", c.Email)
	assert.Equal(t, "acct-1", c.AccountID)
	assert.Equal(t, [3]string{"at", "rt", "idt"}, [3]string{c.AccessToken, c.RefreshToken, c.IDToken})
	assert.Equal(t, now.Add(time.Hour).Truncate(time.Second), c.Expired)
	assert.Equal(t, now.Truncate(time.Second), c.LastRefresh)

	a := flow(auth.OAuthClaude).AuthFile(tok, info, nil)
	assert.Equal(t, "claude-alice@example.com.json", a.Name)
	assert.Empty(t, a.AccountID, "account_id is Codex's")

	g := flow(auth.OAuthGoogle).AuthFile(tok, auth.LoginInfo{}, []string{" proj-a", "", "proj-b "})
	assert.Equal(t, auth.FileTypeGeminiCLI, g.Type)
	assert.Equal(t, []string{"proj-a", "proj-b"}, g.ProjectIDs)
	assert.Equal(t, "gemini-cli-proj-a.json", g.Name, "without an e-mail address the file is named by project")

	n := flow(auth.OAuthCodex).AuthFile(tok, auth.LoginInfo{AccountID: "acct-9"}, nil)
	assert.Equal(t, "codex-acct-9.json", n.Name)
}

func TestSaveLogin(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "auths")
	store, err := auth.NewFileStore(dir)
	require.NoError(t, err)
	now := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	f, err := auth.NewLoginFlow(auth.OAuthGoogle, auth.LoginOverrides{Now: func() time.Time { return now }})
	require.NoError(t, err)

	first := f.AuthFile(auth.Token{AccessToken: "at-1", RefreshToken: "rt-1", Expiry: now.Add(time.Hour)},
		auth.LoginInfo{Email: "e@example.com"}, []string{"p1", "p2"})
	created, err := auth.SaveLogin(ctx, store, first)
	require.NoError(t, err)
	assert.True(t, created)
	path := filepath.Join(dir, "gemini-cli-e@example.com.json")
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	parsed, err := auth.ParseAuthFile(filepath.Base(path), raw)
	require.NoError(t, err)
	assert.Equal(t, auth.FileTypeGeminiCLI, parsed.Type)
	assert.Equal(t, "gemini-cli", gjson.GetBytes(raw, "type").String())
	assert.Equal(t, "p1,p2", gjson.GetBytes(raw, "project_id").String(), "CLIProxyAPI's comma-separated form")
	assert.Equal(t, "2030-05-01T13:00:00Z", gjson.GetBytes(raw, "expired").String())
	assert.Equal(t, "2030-05-01T12:00:00Z", gjson.GetBytes(raw, "last_refresh").String())

	// The operator adds settings; signing in again keeps them.
	edited := strings.Replace(string(raw), `"type"`, `"priority": 7, "proxy_url": "socks5://proxy:1080", "type"`, 1)
	require.NoError(t, os.WriteFile(path, []byte(edited), 0o600))
	second := f.AuthFile(auth.Token{AccessToken: "at-2", RefreshToken: "rt-2", Expiry: now.Add(2 * time.Hour)},
		auth.LoginInfo{Email: "e@example.com"}, nil)
	created, err = auth.SaveLogin(ctx, store, second)
	require.NoError(t, err)
	assert.False(t, created)
	raw, err = os.ReadFile(path)
	require.NoError(t, err)
	parsed, err = auth.ParseAuthFile(filepath.Base(path), raw)
	require.NoError(t, err)
	assert.Equal(t, "at-2", parsed.AccessToken)
	assert.Equal(t, "rt-2", parsed.RefreshToken)
	assert.Equal(t, 7, parsed.Priority)
	assert.Equal(t, "socks5://proxy:1080", parsed.ProxyURL)
	assert.Equal(t, []string{"p1", "p2"}, parsed.ProjectIDs, "kept when the new sign-in names none")

	// A file of that name holding an API key is left alone.
	keyFile := filepath.Join(dir, "claude-k@example.com.json")
	require.NoError(t, os.WriteFile(keyFile, []byte(`{"type":"claude","api_key":"sk-ant-api-x"}`), 0o600))
	cf, err := auth.NewLoginFlow(auth.OAuthClaude, auth.LoginOverrides{})
	require.NoError(t, err)
	_, err = auth.SaveLogin(ctx, store, cf.AuthFile(auth.Token{AccessToken: "at"}, auth.LoginInfo{Email: "k@example.com"}, nil))
	assert.Error(t, err)
	raw, err = os.ReadFile(keyFile)
	require.NoError(t, err)
	assert.Equal(t, `{"type":"claude","api_key":"sk-ant-api-x"}`, string(raw))

	names, err := os.ReadDir(dir)
	require.NoError(t, err)
	var got []string
	for _, e := range names {
		got = append(got, e.Name())
	}
	slices.Sort(got)
	assert.Equal(t, []string{"claude-k@example.com.json", "gemini-cli-e@example.com.json"}, got, "no temp files left")
}
