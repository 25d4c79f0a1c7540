package mockoauth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

const (
	azVerifier = "verifier-0123456789-0123456789-0123456789-abc"
	azState    = "state-xyz"
)

func azChallenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func startAuth(t *testing.T, cfg AuthConfig) (*AuthServer, *httptest.Server) {
	t.Helper()
	m := NewAuthServer(cfg)
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return m, srv
}

// azParams are valid authorization parameters for format; over replaces
// some ("" deletes).
func azParams(format Format, over map[string]string) url.Values {
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {"client-1"},
		"code_challenge":        {azChallenge(azVerifier)},
		"code_challenge_method": {"S256"},
		"state":                 {azState},
	}
	switch format {
	case Claude:
		q.Set("code", "true")
		q.Set("redirect_uri", "https://console.example/oauth/code/callback")
		q.Set("scope", "user:inference")
	case Codex:
		q.Set("redirect_uri", "http://localhost:1455/auth/callback")
		q.Set("scope", "openid email offline_access")
	case Google:
		q.Set("redirect_uri", "http://localhost/oauth2callback")
		q.Set("scope", "https://www.googleapis.com/auth/cloud-platform")
		q.Set("access_type", "offline")
	}
	for k, v := range over {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return q
}

var azRedirects = []string{
	"https://console.example/oauth/code/callback",
	"http://localhost:1455/auth/callback",
	"http://localhost/oauth2callback",
}

// azGet requests the authorization endpoint without following redirects.
func azGet(t *testing.T, srv *httptest.Server, q url.Values) (int, string, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(srv.URL + "/oauth/authorize?" + q.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

func azCode(t *testing.T, srv *httptest.Server, format Format) string {
	t.Helper()
	status, loc, body := azGet(t, srv, azParams(format, nil))
	if format == Claude {
		require.Equal(t, http.StatusOK, status, body)
		code, state, ok := strings.Cut(body, "#")
		require.True(t, ok)
		require.Equal(t, azState, state)
		return code
	}
	require.Equal(t, http.StatusFound, status, body)
	u, err := url.Parse(loc)
	require.NoError(t, err)
	require.Equal(t, azState, u.Query().Get("state"))
	return u.Query().Get("code")
}

func azExchange(t *testing.T, srv *httptest.Server, format Format, fields map[string]string) (int, string) {
	t.Helper()
	var (
		body string
		ct   string
	)
	if format == Claude {
		b, _ := json.Marshal(fields)
		body, ct = string(b), "application/json"
	} else {
		v := url.Values{}
		for k, f := range fields {
			v.Set(k, f)
		}
		body, ct = v.Encode(), "application/x-www-form-urlencoded"
	}
	resp, err := srv.Client().Post(srv.URL+"/oauth/token", ct, strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func azFields(format Format, code string, over map[string]string) map[string]string {
	f := map[string]string{
		"grant_type":    "authorization_code",
		"code":          code,
		"client_id":     "client-1",
		"code_verifier": azVerifier,
	}
	switch format {
	case Claude:
		f["redirect_uri"] = "https://console.example/oauth/code/callback"
		f["state"] = azState
	case Codex:
		f["redirect_uri"] = "http://localhost:1455/auth/callback"
	case Google:
		f["redirect_uri"] = "http://localhost/oauth2callback"
		f["client_secret"] = "secret-1"
	}
	for k, v := range over {
		if v == "" {
			delete(f, k)
		} else {
			f[k] = v
		}
	}
	return f
}

func TestAuthorizeValidation(t *testing.T) {
	m, srv := startAuth(t, AuthConfig{Format: Codex, ClientID: "client-1", RedirectURIs: azRedirects})

	// Problems with the client or the redirect URI are shown, not redirected.
	for name, over := range map[string]map[string]string{
		"unknown client":   {"client_id": "client-2"},
		"no client":        {"client_id": ""},
		"foreign redirect": {"redirect_uri": "https://evil.example/cb"},
		"other path":       {"redirect_uri": "http://localhost:1455/other"},
		"no redirect":      {"redirect_uri": ""},
		"no state":         {"state": ""},
	} {
		status, loc, _ := azGet(t, srv, azParams(Codex, over))
		assert.Equal(t, http.StatusBadRequest, status, name)
		assert.Empty(t, loc, name)
	}

	// Other problems go back to the client, with the state.
	for name, tc := range map[string]struct {
		over map[string]string
		code string
	}{
		"no PKCE":        {map[string]string{"code_challenge": ""}, "invalid_request"},
		"plain PKCE":     {map[string]string{"code_challenge_method": "plain"}, "invalid_request"},
		"no method":      {map[string]string{"code_challenge_method": ""}, "invalid_request"},
		"token response": {map[string]string{"response_type": "token"}, "unsupported_response_type"},
		"no scope":       {map[string]string{"scope": ""}, "invalid_scope"},
	} {
		status, loc, _ := azGet(t, srv, azParams(Codex, tc.over))
		require.Equal(t, http.StatusFound, status, name)
		u, err := url.Parse(loc)
		require.NoError(t, err)
		assert.Equal(t, tc.code, u.Query().Get("error"), name)
		assert.Equal(t, azState, u.Query().Get("state"), name)
		assert.False(t, u.Query().Has("code"), name)
	}

	// A loopback redirect URI matches on any port.
	status, loc, _ := azGet(t, srv, azParams(Codex, map[string]string{"redirect_uri": "http://localhost:50123/auth/callback"}))
	require.Equal(t, http.StatusFound, status)
	assert.True(t, strings.HasPrefix(loc, "http://localhost:50123/auth/callback?code=mock-code-"), loc)

	m.SetDeny("access_denied")
	_, loc, _ = azGet(t, srv, azParams(Codex, nil))
	u, _ := url.Parse(loc)
	assert.Equal(t, "access_denied", u.Query().Get("error"))
	assert.Equal(t, azState, u.Query().Get("state"))
	m.SetDeny("")

	auths := m.Authorizations()
	require.Len(t, auths, 13)
	for _, a := range auths[:11] {
		assert.NotEmpty(t, a.Error)
		assert.Empty(t, a.Code, "no code issued for a refused request")
	}
	assert.NotEmpty(t, auths[11].Code)
	last := auths[len(auths)-1]
	assert.Equal(t, "access_denied", last.Error)
	assert.Equal(t, Codex, last.Format)
}

func TestAuthorizeClaudeShowsCode(t *testing.T) {
	m, srv := startAuth(t, AuthConfig{Format: Claude, ClientID: "client-1", RedirectURIs: azRedirects})
	status, loc, body := azGet(t, srv, azParams(Claude, nil))
	assert.Equal(t, http.StatusOK, status)
	assert.Empty(t, loc)
	assert.Equal(t, "mock-code-1#"+azState, body)

	// Without code=true the browser is redirected, as for the others.
	status, loc, _ = azGet(t, srv, azParams(Claude, map[string]string{"code": ""}))
	assert.Equal(t, http.StatusFound, status)
	assert.Contains(t, loc, "https://console.example/oauth/code/callback?code=mock-code-2&state="+azState)
	assert.Len(t, m.Authorizations(), 2)
}

func TestCodeExchange(t *testing.T) {
	for _, format := range []Format{Claude, Codex, Google} {
		t.Run(string(format), func(t *testing.T) {
			m, srv := startAuth(t, AuthConfig{
				Format: format, ClientID: "client-1", ClientSecret: "secret-1", RedirectURIs: azRedirects,
				Email: "x@example.com", AccountID: "acct-x",
			})
			code := azCode(t, srv, format)
			status, body := azExchange(t, srv, format, azFields(format, code, nil))
			require.Equal(t, http.StatusOK, status, body)
			access := gjson.Get(body, "access_token").String()
			assert.True(t, strings.HasPrefix(access, "mock-login-access-"))
			assert.True(t, strings.HasPrefix(gjson.Get(body, "refresh_token").String(), "mock-login-refresh-"))
			assert.EqualValues(t, 3600, gjson.Get(body, "expires_in").Int())

			claims := func() gjson.Result {
				parts := strings.Split(gjson.Get(body, "id_token").String(), ".")
				require.Len(t, parts, 3)
				raw, err := base64.RawURLEncoding.DecodeString(parts[1])
				require.NoError(t, err)
				return gjson.ParseBytes(raw)
			}
			switch format {
			case Claude:
				assert.Equal(t, "x@example.com", gjson.Get(body, "account.email_address").String())
				assert.False(t, gjson.Get(body, "id_token").Exists())
			case Codex:
				c := claims()
				assert.Equal(t, "x@example.com", c.Get("email").String())
				assert.Equal(t, "acct-x", c.Get(`https://api\.openai\.com/auth.chatgpt_account_id`).String())
			case Google:
				assert.Equal(t, "x@example.com", claims().Get("email").String())
			}
			assert.ElementsMatch(t, append([]string{code, access, gjson.Get(body, "refresh_token").String()},
				nonEmpty(gjson.Get(body, "id_token").String())...), m.Secrets())

			x := m.Exchanges()
			require.Len(t, x, 1)
			assert.Equal(t, format, x[0].Format)
			assert.Equal(t, code, x[0].Code)
			assert.Equal(t, azVerifier, x[0].CodeVerifier)
			assert.Equal(t, http.StatusOK, x[0].Status)

			// A code works once.
			status, body = azExchange(t, srv, format, azFields(format, code, nil))
			assert.Equal(t, http.StatusBadRequest, status)
			assert.Equal(t, "invalid_grant", gjson.Get(body, "error").String())
		})
	}
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

func TestCodeExchangeRefusals(t *testing.T) {
	cases := []struct {
		name   string
		format Format
		over   map[string]string
		status int
		code   string
	}{
		{"verifier mismatch", Codex, map[string]string{"code_verifier": "another-verifier-0123456789-0123456789-0123"}, 400, "invalid_grant"},
		{"verifier mismatch (claude)", Claude, map[string]string{"code_verifier": "x"}, 400, "invalid_grant"},
		{"verifier mismatch (google)", Google, map[string]string{"code_verifier": "x"}, 400, "invalid_grant"},
		{"no verifier", Codex, map[string]string{"code_verifier": ""}, 400, "invalid_request"},
		{"other redirect", Codex, map[string]string{"redirect_uri": "http://localhost:1456/auth/callback"}, 400, "invalid_grant"},
		{"unknown code", Codex, map[string]string{"code": "mock-code-99"}, 400, "invalid_grant"},
		{"wrong client", Codex, map[string]string{"client_id": "client-2"}, 401, "invalid_client"},
		{"claude without state", Claude, map[string]string{"state": ""}, 400, "invalid_grant"},
		{"claude other state", Claude, map[string]string{"state": "nope"}, 400, "invalid_grant"},
		{"google without secret", Google, map[string]string{"client_secret": ""}, 401, "invalid_client"},
		{"google wrong secret", Google, map[string]string{"client_secret": "nope"}, 401, "invalid_client"},
		{"refresh grant without a refresh server", Codex, map[string]string{"grant_type": "refresh_token"}, 400, "unsupported_grant_type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, srv := startAuth(t, AuthConfig{Format: tc.format, ClientID: "client-1", ClientSecret: "secret-1", RedirectURIs: azRedirects})
			code := azCode(t, srv, tc.format)
			status, body := azExchange(t, srv, tc.format, azFields(tc.format, code, tc.over))
			assert.Equal(t, tc.status, status, body)
			assert.Equal(t, tc.code, gjson.Get(body, "error").String(), body)
			assert.False(t, gjson.Get(body, "access_token").Exists())
			require.Len(t, m.Exchanges(), 1)
			assert.Equal(t, tc.code, m.Exchanges()[0].Error)
		})
	}

	t.Run("wrong wire format", func(t *testing.T) {
		_, srv := startAuth(t, AuthConfig{Format: Codex, RedirectURIs: azRedirects})
		code := azCode(t, srv, Codex)
		// Claude's JSON to OpenAI's form endpoint.
		status, body := azExchange(t, srv, Claude, azFields(Codex, code, nil))
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, "invalid_request", gjson.Get(body, "error").String())
	})
}

func TestOfflineAccessDecidesRefreshToken(t *testing.T) {
	_, srv := startAuth(t, AuthConfig{Format: Google, RedirectURIs: azRedirects})
	status, loc, _ := azGet(t, srv, azParams(Google, map[string]string{"access_type": "online"}))
	require.Equal(t, http.StatusFound, status)
	u, _ := url.Parse(loc)
	_, body := azExchange(t, srv, Google, azFields(Google, u.Query().Get("code"), nil))
	assert.NotEmpty(t, gjson.Get(body, "access_token").String())
	assert.False(t, gjson.Get(body, "refresh_token").Exists())

	_, csrv := startAuth(t, AuthConfig{Format: Codex, RedirectURIs: azRedirects})
	_, loc, _ = azGet(t, csrv, azParams(Codex, map[string]string{"scope": "openid email"}))
	u, _ = url.Parse(loc)
	_, body = azExchange(t, csrv, Codex, azFields(Codex, u.Query().Get("code"), nil))
	assert.False(t, gjson.Get(body, "refresh_token").Exists())
}

func TestAuthServerAutoFormatRefreshAndUserinfo(t *testing.T) {
	refresh := New(Config{})
	m, srv := startAuth(t, AuthConfig{RedirectURIs: azRedirects, Refresh: refresh, OmitIDToken: true, Email: "u@example.com"})

	for _, format := range []Format{Claude, Codex, Google} {
		code := azCode(t, srv, format)
		status, body := azExchange(t, srv, format, azFields(format, code, nil))
		require.Equal(t, http.StatusOK, status, body)
	}
	var got []Format
	for _, a := range m.Authorizations() {
		got = append(got, a.Format)
	}
	assert.Equal(t, []Format{Claude, Codex, Google}, got)

	// Refresh grants go to the refresh server.
	status, body := post(t, srv, ctJSON, claudeBody("rt-login"))
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "mock-access-1", gjson.Get(body, "access_token").String())
	assert.Equal(t, 1, refresh.RefreshesFor("rt-login"))

	// userinfo knows the issued access tokens only.
	code := azCode(t, srv, Google)
	_, body = azExchange(t, srv, Google, azFields(Google, code, nil))
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/oauth2/v2/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+gjson.Get(body, "access_token").String())
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "u@example.com", gjson.GetBytes(b, "email").String())

	req.Header.Set("Authorization", "Bearer mock-access-1")
	resp, err = srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	req, _ = http.NewRequest(http.MethodPut, srv.URL+"/oauth/token", nil)
	resp, err = srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}
