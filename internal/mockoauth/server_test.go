package mockoauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

func start(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	m := New(cfg)
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return m, srv
}

// post sends body with contentType and returns the status and body.
func post(t *testing.T, srv *httptest.Server, contentType, body string) (int, string) {
	t.Helper()
	resp, err := srv.Client().Post(srv.URL+"/any/path/token", contentType, strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	return resp.StatusCode, string(b)
}

func claudeBody(rt string) string {
	b, _ := json.Marshal(map[string]string{"grant_type": "refresh_token", "refresh_token": rt, "client_id": "claude-client"})
	return string(b)
}

func codexBody(rt string) string {
	b, _ := json.Marshal(map[string]string{"client_id": "codex-client", "grant_type": "refresh_token", "refresh_token": rt, "scope": "openid profile email"})
	return string(b)
}

func googleBody(rt string) string {
	return url.Values{"client_id": {"g-client"}, "client_secret": {"g-secret"}, "grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()
}

const (
	ctJSON = "application/json"
	ctForm = "application/x-www-form-urlencoded"
)

func TestClaudeRefresh(t *testing.T) {
	m, srv := start(t, Config{Format: Claude, ExpiresIn: 8 * time.Hour})
	status, body := post(t, srv, ctJSON, claudeBody("rt-a"))
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "mock-access-1", gjson.Get(body, "access_token").String())
	assert.Equal(t, "mock-refresh-1", gjson.Get(body, "refresh_token").String())
	assert.EqualValues(t, 8*3600, gjson.Get(body, "expires_in").Int())
	assert.Equal(t, "Bearer", gjson.Get(body, "token_type").String())
	assert.Equal(t, "mock@example.com", gjson.Get(body, "account.email_address").String())
	assert.False(t, gjson.Get(body, "id_token").Exists())

	status, body = post(t, srv, ctJSON, claudeBody("mock-refresh-1"))
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "mock-access-2", gjson.Get(body, "access_token").String())
	assert.Equal(t, "mock-refresh-2", gjson.Get(body, "refresh_token").String())

	reqs := m.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, Request{
		Format: Claude, Method: http.MethodPost, Path: "/any/path/token", ContentType: ctJSON,
		GrantType: "refresh_token", ClientID: "claude-client", RefreshToken: "rt-a", UserAgent: "Go-http-client/1.1", Body: claudeBody("rt-a"),
	}, reqs[0])
	assert.Equal(t, 2, m.Refreshes())
	assert.Equal(t, 1, m.RefreshesFor("rt-a"))
	assert.Equal(t, []string{"mock-access-1", "mock-access-2"}, m.AccessTokens())
}

func TestCodexRefresh(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	_, srv := start(t, Config{Format: Codex, Now: func() time.Time { return now }})
	status, body := post(t, srv, ctJSON, codexBody("rt-a"))
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "mock-access-1", gjson.Get(body, "access_token").String())
	assert.Equal(t, "mock-refresh-1", gjson.Get(body, "refresh_token").String())
	assert.EqualValues(t, 3600, gjson.Get(body, "expires_in").Int())

	parts := strings.Split(gjson.Get(body, "id_token").String(), ".")
	require.Len(t, parts, 3)
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	assert.Equal(t, "mock-chatgpt-account", gjson.GetBytes(claims, `https://api\.openai\.com/auth.chatgpt_account_id`).String())
	assert.Equal(t, now.Add(time.Hour).Unix(), gjson.GetBytes(claims, "exp").Int())
	assert.Equal(t, "mock@example.com", gjson.GetBytes(claims, "email").String())
}

func TestGoogleRefresh(t *testing.T) {
	m, srv := start(t, Config{Format: Google, ExpiresIn: 3599 * time.Second})
	for i := range 2 {
		status, body := post(t, srv, ctForm, googleBody("rt-g"))
		require.Equal(t, http.StatusOK, status, body)
		assert.NotEmpty(t, gjson.Get(body, "access_token").String())
		assert.False(t, gjson.Get(body, "refresh_token").Exists(), "google does not rotate (call %d)", i)
		assert.EqualValues(t, 3599, gjson.Get(body, "expires_in").Int())
	}
	req := m.Requests()[0]
	assert.Equal(t, Google, req.Format)
	assert.Equal(t, "g-client", req.ClientID)
	assert.Equal(t, "g-secret", req.ClientSecret)
	assert.Equal(t, 2, m.RefreshesFor("rt-g"))
}

func TestAutoFormat(t *testing.T) {
	m, srv := start(t, Config{})
	post(t, srv, ctForm, googleBody("rt-1"))
	post(t, srv, ctJSON, codexBody("rt-2"))
	post(t, srv, ctJSON+"; charset=utf-8", claudeBody("rt-3"))
	var got []Format
	for _, r := range m.Requests() {
		got = append(got, r.Format)
	}
	assert.Equal(t, []Format{Google, Codex, Claude}, got)
}

func TestMalformedRequests(t *testing.T) {
	cases := []struct {
		name        string
		format      Format
		contentType string
		body        string
		status      int
		code        string
	}{
		{"claude given a form", Claude, ctForm, googleBody("rt"), 400, "invalid_request"},
		{"google given JSON", Google, ctJSON, claudeBody("rt"), 400, "invalid_request"},
		{"bad JSON", Codex, ctJSON, "{", 400, "invalid_request"},
		{"wrong grant", Claude, ctJSON, `{"grant_type":"authorization_code","client_id":"c","refresh_token":"rt"}`, 400, "unsupported_grant_type"},
		{"no client", Claude, ctJSON, `{"grant_type":"refresh_token","refresh_token":"rt"}`, 401, "invalid_client"},
		{"google without secret", Google, ctForm, "grant_type=refresh_token&client_id=c&refresh_token=rt", 401, "invalid_client"},
		{"no refresh token", Codex, ctJSON, `{"grant_type":"refresh_token","client_id":"c","scope":"openid"}`, 400, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, srv := start(t, Config{Format: tc.format})
			m.SetFault("*", Fault{Status: 500, Times: 1}) // not consumed by a malformed request
			status, body := post(t, srv, tc.contentType, tc.body)
			assert.Equal(t, tc.status, status, body)
			assert.Equal(t, tc.code, gjson.Get(body, "error").String())
			assert.Empty(t, m.AccessTokens())
			assert.Equal(t, 1, m.Refreshes(), "recorded")
		})
	}

	t.Run("GET", func(t *testing.T) {
		_, srv := start(t, Config{})
		resp, err := srv.Client().Get(srv.URL)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	})
}

func TestReuseDetection(t *testing.T) {
	t.Run("codex", func(t *testing.T) {
		m, srv := start(t, Config{Format: Codex, DetectReuse: true})
		status, _ := post(t, srv, ctJSON, codexBody("rt-a"))
		require.Equal(t, 200, status)
		status, body := post(t, srv, ctJSON, codexBody("rt-a"))
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Equal(t, "refresh_token_reused", gjson.Get(body, "error.code").String())
		assert.NotEmpty(t, gjson.Get(body, "error.message").String())
		assert.Equal(t, 2, m.RefreshesFor("rt-a"))
		// The rotated token works.
		status, _ = post(t, srv, ctJSON, codexBody("mock-refresh-1"))
		assert.Equal(t, 200, status)
	})
	t.Run("claude", func(t *testing.T) {
		_, srv := start(t, Config{Format: Claude, DetectReuse: true})
		post(t, srv, ctJSON, claudeBody("rt-a"))
		status, body := post(t, srv, ctJSON, claudeBody("rt-a"))
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, "invalid_grant", gjson.Get(body, "error").String())
	})
	t.Run("google never rotates", func(t *testing.T) {
		_, srv := start(t, Config{Format: Google, DetectReuse: true})
		post(t, srv, ctForm, googleBody("rt-a"))
		status, _ := post(t, srv, ctForm, googleBody("rt-a"))
		assert.Equal(t, 200, status)
	})
	t.Run("off", func(t *testing.T) {
		_, srv := start(t, Config{Format: Codex})
		post(t, srv, ctJSON, codexBody("rt-a"))
		status, _ := post(t, srv, ctJSON, codexBody("rt-a"))
		assert.Equal(t, 200, status)
	})
}

func TestFaults(t *testing.T) {
	m, srv := start(t, Config{Format: Claude})
	m.SetFault("rt-dead", Fault{Status: 400, Error: "invalid_grant", Description: "Refresh token revoked"})
	m.SetFault("*", Fault{Status: 503, Times: 2})

	status, body := post(t, srv, ctJSON, claudeBody("rt-dead"))
	assert.Equal(t, 400, status)
	assert.JSONEq(t, `{"error":"invalid_grant","error_description":"Refresh token revoked"}`, body)

	for range 2 {
		status, body = post(t, srv, ctJSON, claudeBody("rt-other"))
		assert.Equal(t, 503, status)
		assert.Equal(t, "server_error", gjson.Get(body, "error").String())
	}
	status, _ = post(t, srv, ctJSON, claudeBody("rt-other"))
	assert.Equal(t, 200, status, "the Times fault is spent")
	status, _ = post(t, srv, ctJSON, claudeBody("rt-dead"))
	assert.Equal(t, 400, status, "a fault without Times stays")

	m.SetFault("*", Fault{Status: 400})
	_, body = post(t, srv, ctJSON, claudeBody("rt-x"))
	assert.Equal(t, "invalid_request", gjson.Get(body, "error").String())

	m.SetFault("*", Fault{Status: 502, Body: "<html>bad gateway</html>"})
	status, body = post(t, srv, ctJSON, claudeBody("rt-x"))
	assert.Equal(t, 502, status)
	assert.Equal(t, "<html>bad gateway</html>", body)

	m.SetFault("*", Fault{Body: `{"token_type":"Bearer"}`})
	status, body = post(t, srv, ctJSON, claudeBody("rt-x"))
	assert.Equal(t, 200, status)
	assert.Equal(t, `{"token_type":"Bearer"}`, body)

	m.ClearFaults()
	status, _ = post(t, srv, ctJSON, claudeBody("rt-dead"))
	assert.Equal(t, 200, status)
}

func TestDelay(t *testing.T) {
	m, srv := start(t, Config{Format: Google})
	m.SetFault("*", Fault{Delay: 50 * time.Millisecond})
	begin := time.Now()
	status, _ := post(t, srv, ctForm, googleBody("rt"))
	assert.Equal(t, 200, status)
	assert.GreaterOrEqual(t, time.Since(begin), 50*time.Millisecond)

	// A client that gives up is not kept waiting by the handler.
	m.SetFault("*", Fault{Delay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(googleBody("rt")))
	req.Header.Set("Content-Type", ctForm)
	_, err := srv.Client().Do(req)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	// srv.Close in cleanup would hang if the handler ignored the cancel.
}

func TestExpiresInSettings(t *testing.T) {
	m, srv := start(t, Config{Format: Codex, OmitExpiresIn: true})
	_, body := post(t, srv, ctJSON, codexBody("rt"))
	assert.False(t, gjson.Get(body, "expires_in").Exists())

	m2, srv2 := start(t, Config{Format: Claude})
	m2.SetExpiresIn(90 * time.Second)
	_, body = post(t, srv2, ctJSON, claudeBody("rt"))
	assert.EqualValues(t, 90, gjson.Get(body, "expires_in").Int())

	m.Reset()
	assert.Zero(t, m.Refreshes())
	assert.Empty(t, m.AccessTokens())
	_, body = post(t, srv, ctJSON, codexBody("rt"))
	assert.Equal(t, "mock-access-1", gjson.Get(body, "access_token").String(), "counters restart")
}
