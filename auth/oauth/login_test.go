package oauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
	"github.com/caddy-cliproxy/cliproxy/internal/mockoauth"
)

var loginB64URL = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

func TestPKCE(t *testing.T) {
	// RFC 7636, appendix B.
	assert.Equal(t, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		oauth.PKCEChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"))

	a, err := oauth.NewPKCE()
	require.NoError(t, err)
	b, err := oauth.NewPKCE()
	require.NoError(t, err)
	assert.Regexp(t, loginB64URL, a.Verifier, "43 base64url characters: 32 random bytes")
	assert.Regexp(t, loginB64URL, a.Challenge)
	sum := sha256.Sum256([]byte(a.Verifier))
	assert.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:]), a.Challenge)
	assert.NotEqual(t, a.Verifier, b.Verifier)

	f1, err := oauth.NewLoginFlow(oauth.OAuthCodex, oauth.LoginOverrides{})
	require.NoError(t, err)
	f2, err := oauth.NewLoginFlow(oauth.OAuthCodex, oauth.LoginOverrides{})
	require.NoError(t, err)
	assert.Regexp(t, loginB64URL, f1.State)
	assert.NotEqual(t, f1.State, f2.State)
	assert.NotEqual(t, f1.Challenge, f2.Challenge)
	assert.NotEqual(t, f1.State, f1.Challenge)
}

func TestLoginURLParameters(t *testing.T) {
	cases := []struct {
		provider oauth.OAuthProvider
		base     string
		params   map[string]string
	}{
		// as Claude Code 2.1.330 signs a Claude subscription in
		{oauth.OAuthClaude, "https://claude.com/cai/oauth/authorize", map[string]string{
			"code":          "true",
			"client_id":     "9d1c250a-e61b-44d9-88ed-5944d1962f5e",
			"response_type": "code",
			"redirect_uri":  "https://platform.claude.com/oauth/code/callback",
			"scope":         "org:create_api_key user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload",
		}},
		{oauth.OAuthCodex, "https://auth.openai.com/oauth/authorize", map[string]string{
			"client_id":                  "app_EMoamEEZ73f0CkXaXp7hrann",
			"response_type":              "code",
			"redirect_uri":               "http://localhost:1455/auth/callback",
			"scope":                      "openid profile email offline_access",
			"id_token_add_organizations": "true",
			"codex_cli_simplified_flow":  "true",
		}},
		{oauth.OAuthGoogle, "https://accounts.google.com/o/oauth2/v2/auth", map[string]string{
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
			f, err := oauth.NewLoginFlow(tc.provider, oauth.LoginOverrides{})
			require.NoError(t, err)
			assert.Equal(t, oauth.DefaultTokenURL(tc.provider), f.TokenURL)
			assert.Equal(t, tc.provider == oauth.OAuthGoogle, f.ClientSecret != "", "only Google has a (public) secret")

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
		f, err := oauth.NewLoginFlow(oauth.OAuthCodex, oauth.LoginOverrides{
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
			_, err = oauth.NewLoginFlow(oauth.OAuthCodex, oauth.LoginOverrides{TokenURL: bad})
			assert.Error(t, err, bad)
		}
		_, err = oauth.NewLoginFlow("nope", oauth.LoginOverrides{})
		assert.Error(t, err)
	})
}

func TestParseCallback(t *testing.T) {
	f, err := oauth.NewLoginFlow(oauth.OAuthCodex, oauth.LoginOverrides{})
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
		{"URL with another state", "http://localhost:1455/auth/callback?code=c&state=other", "", oauth.ErrStateMismatch},
		{"URL without state", "http://localhost:1455/auth/callback?code=c", "", oauth.ErrStateMismatch},
		{"code#other", "c#other", "", oauth.ErrStateMismatch},
		{"code#", "c#", "", oauth.ErrStateMismatch},
		{"empty", "  \n", "", oauth.ErrNoCode},
		{"URL without code", "http://localhost:1455/auth/callback?state=" + st, "", oauth.ErrNoCode},
		{"a sentence", "I could not sign in", "", oauth.ErrNoCode},
		{"#state only", "#" + f.State, "", oauth.ErrNoCode},
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
		var refused *oauth.AuthorizationError
		require.ErrorAs(t, err, &refused)
		assert.Equal(t, "access_denied", refused.Code)
		assert.Equal(t, "User said no", refused.Description)
		// A refusal that is not this sign-in's cannot end it.
		_, err = f.ParseCallback("http://localhost:1455/auth/callback?error=access_denied&state=x")
		assert.ErrorIs(t, err, oauth.ErrStateMismatch)
	})

	t.Run("errors do not quote the input", func(t *testing.T) {
		_, err := f.ParseCallback("http://localhost:1455/auth/callback?code=SECRET-CODE&state=x")
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "SECRET-CODE")
	})
}

// loginMock starts a mock authorization server imitating p's, registered
// for the flow's client and default redirect URI.
func loginMock(t *testing.T, p oauth.OAuthProvider, cfg mockoauth.AuthConfig) (*mockoauth.AuthServer, *httptest.Server) {
	t.Helper()
	defaults, err := oauth.NewLoginFlow(p, oauth.LoginOverrides{})
	require.NoError(t, err)
	switch p {
	case oauth.OAuthClaude:
		cfg.Format = mockoauth.Claude
	case oauth.OAuthCodex:
		cfg.Format = mockoauth.Codex
	case oauth.OAuthGoogle:
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

func loginMockFlow(t *testing.T, p oauth.OAuthProvider, srv *httptest.Server, now time.Time) *oauth.LoginFlow {
	t.Helper()
	f, err := oauth.NewLoginFlow(p, oauth.LoginOverrides{
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
func loginAuthorize(t *testing.T, f *oauth.LoginFlow) (status int, landing string) {
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
		m, srv := loginMock(t, oauth.OAuthClaude, mockoauth.AuthConfig{Email: "alice@example.com"})
		f := loginMockFlow(t, oauth.OAuthClaude, srv, now)
		status, page := loginAuthorize(t, f)
		require.Equal(t, http.StatusOK, status, page)
		require.True(t, strings.HasSuffix(page, "#"+f.State), "the console shows code#state")

		tok, info, err := f.Exchange(ctx, srv.Client(), page)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(tok.AccessToken, "mock-login-access-"))
		assert.True(t, strings.HasPrefix(tok.RefreshToken, "mock-login-refresh-"))
		assert.Empty(t, tok.IDToken)
		assert.Equal(t, now.Add(time.Hour), tok.Expiry)
		assert.Equal(t, oauth.LoginInfo{Email: "alice@example.com", AccountID: "mock-account-uuid"}, info)

		x := m.Exchanges()
		require.Len(t, x, 1)
		assert.Equal(t, "application/json", x[0].ContentType)
		assert.Equal(t, "authorization_code", x[0].GrantType)
		assert.Equal(t, f.State, x[0].State)
		assert.Equal(t, f.RedirectURI, x[0].RedirectURI)
		assert.Equal(t, f.ClientID, x[0].ClientID)
		assert.Equal(t, f.Challenge, oauth.PKCEChallenge(x[0].CodeVerifier))
		assert.Empty(t, x[0].ClientSecret)
		assert.Equal(t, http.StatusOK, x[0].Status)
	})

	t.Run("codex", func(t *testing.T) {
		m, srv := loginMock(t, oauth.OAuthCodex, mockoauth.AuthConfig{Email: "bob@example.com", AccountID: "acct-123"})
		f := loginMockFlow(t, oauth.OAuthCodex, srv, now)
		status, landing := loginAuthorize(t, f)
		require.Equal(t, http.StatusFound, status)
		require.True(t, strings.HasPrefix(landing, "http://localhost:1455/auth/callback?"), landing)

		tok, info, err := f.Exchange(ctx, srv.Client(), landing)
		require.NoError(t, err)
		assert.NotEmpty(t, tok.AccessToken)
		assert.NotEmpty(t, tok.RefreshToken, "offline_access was requested")
		assert.NotEmpty(t, tok.IDToken)
		assert.Equal(t, oauth.LoginInfo{Email: "bob@example.com", AccountID: "acct-123"}, info)
		assert.Equal(t, "acct-123", oauth.AccountIDFromIDToken(tok.IDToken))

		x := m.Exchanges()
		require.Len(t, x, 1)
		assert.Equal(t, "application/x-www-form-urlencoded", x[0].ContentType)
		assert.Equal(t, f.ClientID, x[0].ClientID)
		assert.Empty(t, x[0].ClientSecret)
		assert.Empty(t, x[0].State, "OpenAI's exchange carries no state")
		assert.Equal(t, f.Challenge, oauth.PKCEChallenge(x[0].CodeVerifier))
	})

	t.Run("google", func(t *testing.T) {
		m, srv := loginMock(t, oauth.OAuthGoogle, mockoauth.AuthConfig{Email: "carol@example.com"})
		f := loginMockFlow(t, oauth.OAuthGoogle, srv, now)
		status, landing := loginAuthorize(t, f)
		require.Equal(t, http.StatusFound, status)
		tok, info, err := f.Exchange(ctx, srv.Client(), landing)
		require.NoError(t, err)
		assert.NotEmpty(t, tok.RefreshToken, "access_type=offline")
		assert.Equal(t, oauth.LoginInfo{Email: "carol@example.com", AccountID: "mock-google-sub"}, info)
		x := m.Exchanges()
		require.Len(t, x, 1)
		assert.Equal(t, f.ClientSecret, x[0].ClientSecret)
		assert.Equal(t, "application/x-www-form-urlencoded", x[0].ContentType)
	})

	t.Run("google without id_token asks userinfo", func(t *testing.T) {
		_, srv := loginMock(t, oauth.OAuthGoogle, mockoauth.AuthConfig{Email: "dave@example.com", OmitIDToken: true})
		f := loginMockFlow(t, oauth.OAuthGoogle, srv, now)
		_, landing := loginAuthorize(t, f)
		tok, info, err := f.Exchange(ctx, srv.Client(), landing)
		require.NoError(t, err)
		assert.Empty(t, tok.IDToken)
		assert.Equal(t, "dave@example.com", info.Email)
	})
}

func TestLoginStateMismatchIsNotExchanged(t *testing.T) {
	m, srv := loginMock(t, oauth.OAuthCodex, mockoauth.AuthConfig{})
	f := loginMockFlow(t, oauth.OAuthCodex, srv, time.Now())
	_, landing := loginAuthorize(t, f)
	forged := strings.Replace(landing, url.QueryEscape(f.State), "forged-state", 1)
	require.NotEqual(t, landing, forged)
	_, _, err := f.Exchange(context.Background(), srv.Client(), forged)
	assert.ErrorIs(t, err, oauth.ErrStateMismatch)

	cm, csrv := loginMock(t, oauth.OAuthClaude, mockoauth.AuthConfig{})
	cf := loginMockFlow(t, oauth.OAuthClaude, csrv, time.Now())
	_, page := loginAuthorize(t, cf)
	code, _, _ := strings.Cut(page, "#")
	_, _, err = cf.Exchange(context.Background(), csrv.Client(), code+"#another-state")
	assert.ErrorIs(t, err, oauth.ErrStateMismatch)

	assert.Empty(t, m.Exchanges(), "nothing reached the token endpoint")
	assert.Empty(t, cm.Exchanges())
}

func TestLoginVerifierMismatchRefused(t *testing.T) {
	for _, p := range []oauth.OAuthProvider{oauth.OAuthClaude, oauth.OAuthCodex, oauth.OAuthGoogle} {
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
			var le *oauth.LoginError
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
	m, srv := loginMock(t, oauth.OAuthCodex, mockoauth.AuthConfig{})
	m.SetDeny("access_denied")
	f := loginMockFlow(t, oauth.OAuthCodex, srv, time.Now())
	status, landing := loginAuthorize(t, f)
	require.Equal(t, http.StatusFound, status)
	_, _, err := f.Exchange(context.Background(), srv.Client(), landing)
	var refused *oauth.AuthorizationError
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
	f, err := oauth.NewLoginFlow(oauth.OAuthCodex, oauth.LoginOverrides{TokenURL: srv.URL})
	require.NoError(t, err)
	_, _, err = f.Exchange(context.Background(), srv.Client(), "SECRET-CODE")
	var le *oauth.LoginError
	require.ErrorAs(t, err, &le)
	assert.NotContains(t, err.Error(), "SECRET-CODE")
	assert.Contains(t, err.Error(), "[redacted]")
	assert.Contains(t, err.Error(), "codex oauth login: token exchange: status 400: invalid_grant")
	assert.Equal(t, 2, strings.Count(err.Error(), "[redacted]"), "the verifier is redacted too")
}

func TestCallbackListener(t *testing.T) {
	f, err := oauth.NewLoginFlow(oauth.OAuthCodex, oauth.LoginOverrides{})
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
	f, err := oauth.NewLoginFlow(oauth.OAuthGoogle, oauth.LoginOverrides{})
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
	var refused *oauth.AuthorizationError
	assert.ErrorAs(t, err, &refused)

	// A redirect URI that is not loopback keeps its port.
	g, err := oauth.NewLoginFlow(oauth.OAuthCodex, oauth.LoginOverrides{RedirectURI: "https://tunnel.example.com/auth/callback"})
	require.NoError(t, err)
	l2, err := g.ListenCallback("127.0.0.1:0")
	require.NoError(t, err)
	defer l2.Close()
	assert.Equal(t, "https://tunnel.example.com/auth/callback", g.RedirectURI)
}
