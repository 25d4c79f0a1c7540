package oauth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
	"github.com/caddy-cliproxy/cliproxy/internal/mockoauth"
)

func TestOAuthDefaultTokenURL(t *testing.T) {
	// Claude Code's TOKEN_URL today; console.anthropic.com answers
	// programmatic clients with a challenge page
	assert.Equal(t, "https://platform.claude.com/v1/oauth/token", oauth.DefaultTokenURL(oauth.OAuthClaude))
	assert.Equal(t, "https://auth.openai.com/oauth/token", oauth.DefaultTokenURL(oauth.OAuthCodex))
	assert.Equal(t, "https://oauth2.googleapis.com/token", oauth.DefaultTokenURL(oauth.OAuthGoogle))
	assert.Empty(t, oauth.DefaultTokenURL("github"))

	r := &oauth.Refresher{TokenURLs: map[oauth.OAuthProvider]string{oauth.OAuthCodex: "http://127.0.0.1:9/token"}}
	assert.Equal(t, "http://127.0.0.1:9/token", r.TokenURL(oauth.OAuthCodex))
	assert.Equal(t, oauth.DefaultTokenURL(oauth.OAuthClaude), r.TokenURL(oauth.OAuthClaude))
}

// TestRefreshAtChallengedHost: the old Claude token host answers with a
// Cloudflare challenge page; the error says so in words an operator acts
// on, quotes none of the page, and is not taken for a dead refresh token.
func TestRefreshAtChallengedHost(t *testing.T) {
	old := &mockoauth.Challenge{}
	srv := httptest.NewServer(old)
	t.Cleanup(srv.Close)
	ref := &oauth.Refresher{Client: srv.Client(), TokenURLs: map[oauth.OAuthProvider]string{oauth.OAuthClaude: srv.URL + "/v1/oauth/token"}}
	_, err := ref.Refresh(context.Background(), oauth.OAuthClaude, "sk-ant-ort01-still-good")
	require.Error(t, err)
	var re *oauth.RefreshError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, http.StatusForbidden, re.Status)
	assert.Contains(t, err.Error(), "status 403")
	assert.Contains(t, err.Error(), "Cloudflare challenge page")
	assert.Contains(t, err.Error(), "oauth_token_url")
	assert.NotContains(t, err.Error(), "<")
	assert.NotErrorIs(t, err, oauth.ErrRevoked, "a challenge says nothing about the refresh token")
	assert.Equal(t, 1, old.Hits())

	// a page that is no challenge is still named for what it is
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, "<html><body>Not Found</body></html>")
	}))
	t.Cleanup(page.Close)
	ref.TokenURLs[oauth.OAuthClaude] = page.URL
	_, err = ref.Refresh(context.Background(), oauth.OAuthClaude, "rt")
	assert.ErrorContains(t, err, "status 404: answered with an HTML page instead of OAuth JSON")
}

func TestOAuthParseProvider(t *testing.T) {
	for _, name := range []string{"claude", "codex", "google"} {
		p, err := oauth.ParseOAuthProvider(name)
		require.NoError(t, err)
		assert.Equal(t, oauth.OAuthProvider(name), p)
	}
	_, err := oauth.ParseOAuthProvider("gemini")
	assert.ErrorContains(t, err, "unknown oauth provider")
}

// TestRefreshWireFormat checks, at a mock speaking only the provider's own
// format, what each provider's refresh sends: content type, client, grant,
// scope and secret, on any path.
func TestRefreshWireFormat(t *testing.T) {
	cases := []struct {
		provider     oauth.OAuthProvider
		format       mockoauth.Format
		contentType  string
		clientID     string
		clientSecret string
		scope        string
		rotates      bool
		idToken      bool
		userAgent    string
	}{
		{
			oauth.OAuthClaude, mockoauth.Claude, "application/json", "9d1c250a-e61b-44d9-88ed-5944d1962f5e", "", "", true, false,
			"claude-cli/2.1.330 (external, cli)",
		},
		{
			oauth.OAuthCodex, mockoauth.Codex, "application/json", "app_EMoamEEZ73f0CkXaXp7hrann", "", "openid profile email", true, true,
			"Go-http-client/1.1",
		},
		{
			oauth.OAuthGoogle, mockoauth.Google, "application/x-www-form-urlencoded",
			"681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com", "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", "", false, false,
			"Go-http-client/1.1",
		},
	}
	for _, tc := range cases {
		t.Run(string(tc.provider), func(t *testing.T) {
			for _, mode := range []mockoauth.Format{tc.format, mockoauth.Auto} {
				env := newOAuthEnv(t, mockoauth.Config{Format: mode})
				tok, err := env.ref.Refresh(context.Background(), tc.provider, "rt-wire")
				require.NoError(t, err)

				reqs := env.mock.Requests()
				require.Len(t, reqs, 1)
				got := reqs[0]
				assert.Equal(t, tc.format, got.Format, "format the mock served")
				assert.Equal(t, http.MethodPost, got.Method)
				assert.Equal(t, "/"+string(tc.provider)+"/token", got.Path)
				assert.Equal(t, tc.contentType, got.ContentType)
				assert.Equal(t, "refresh_token", got.GrantType)
				assert.Equal(t, "rt-wire", got.RefreshToken)
				assert.Equal(t, tc.clientID, got.ClientID)
				assert.Equal(t, tc.clientSecret, got.ClientSecret)
				assert.Equal(t, tc.scope, got.Scope)
				assert.Equal(t, tc.userAgent, got.UserAgent)

				assert.Equal(t, "mock-access-1", tok.AccessToken)
				assert.Equal(t, env.clk.Now().Add(time.Hour), tok.Expiry)
				if tc.rotates {
					assert.Equal(t, "mock-refresh-1", tok.RefreshToken)
				} else {
					assert.Equal(t, "rt-wire", tok.RefreshToken, "google issues no refresh token: the old one stays")
				}
				assert.Equal(t, tc.idToken, tok.IDToken != "")
			}
		})
	}
}

func TestRefreshUnknownProviderAndMissingToken(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{})
	_, err := env.ref.Refresh(context.Background(), "github", "rt")
	assert.ErrorContains(t, err, "unknown provider")
	_, err = env.ref.Refresh(context.Background(), oauth.OAuthClaude, "")
	assert.ErrorIs(t, err, oauth.ErrNoRefreshToken)
	assert.NotErrorIs(t, err, oauth.ErrRevoked)
	assert.Zero(t, env.mock.Refreshes(), "nothing sent")
}

// TestRefreshErrorShapes covers the answers a token endpoint refuses with.
func TestRefreshErrorShapes(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		code    string
		revoked bool
	}{
		{"oauth invalid_grant", 400, `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`, "invalid_grant", true},
		{"oauth invalid_grant 401", 401, `{"error":"invalid_grant"}`, "invalid_grant", true},
		{"openai reused", 401, `{"error":{"message":"Your refresh token has already been used.","type":"invalid_request_error","param":null,"code":"refresh_token_reused"}}`, "refresh_token_reused", true},
		{"openai expired", 401, `{"error":{"message":"expired","code":"refresh_token_expired"}}`, "refresh_token_expired", true},
		{"openai invalidated", 401, `{"error":{"message":"revoked","code":"refresh_token_invalidated"}}`, "refresh_token_invalidated", true},
		{"anthropic shape", 400, `{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}`, "invalid_request_error", false},
		{"invalid_client", 401, `{"error":"invalid_client"}`, "invalid_client", false},
		{"server error", 500, `{"error":"server_error"}`, "server_error", false},
		{"invalid_grant on a 5xx", 503, `{"error":"invalid_grant"}`, "invalid_grant", false},
		{"html", 502, `<html><body>Bad gateway</body></html>`, "", false},
		{"200 without token", 200, `{"token_type":"Bearer"}`, "", false},
		{"200 with error", 200, `{"error":"invalid_grant"}`, "invalid_grant", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			r := &oauth.Refresher{TokenURLs: map[oauth.OAuthProvider]string{oauth.OAuthCodex: srv.URL}}
			_, err := r.Refresh(context.Background(), oauth.OAuthCodex, "rt-shapes")
			require.Error(t, err)
			var re *oauth.RefreshError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tc.status, re.Status)
			assert.Equal(t, tc.code, re.Code)
			assert.Equal(t, tc.revoked, errors.Is(err, oauth.ErrRevoked))
			assert.Equal(t, tc.revoked, re.Revoked())
			assert.Contains(t, err.Error(), fmt.Sprintf("status %d", tc.status))
			assert.NotContains(t, err.Error(), "rt-shapes")
		})
	}
}

func TestRefreshExpiryFromAnswer(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	jwt := func(exp int64) string {
		enc := base64.RawURLEncoding
		return enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." +
			enc.EncodeToString(fmt.Appendf(nil, `{"exp":%d}`, exp)) + ".sig"
	}
	cases := []struct {
		name string
		body string
		want time.Time
	}{
		{"expires_in", `{"access_token":"a","expires_in":3600}`, now.Add(time.Hour)},
		{"fractional expires_in", `{"access_token":"a","expires_in":1.5}`, now.Add(1500 * time.Millisecond)},
		{"jwt exp", `{"access_token":"` + jwt(now.Add(240*time.Hour).Unix()) + `"}`, now.Add(240 * time.Hour)},
		{"expires_in wins over jwt", `{"access_token":"` + jwt(now.Add(240*time.Hour).Unix()) + `","expires_in":60}`, now.Add(time.Minute)},
		{"unknown", `{"access_token":"opaque"}`, time.Time{}},
		{"not base64 jwt", `{"access_token":"a.%%%.c"}`, time.Time{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			r := &oauth.Refresher{
				TokenURLs: map[oauth.OAuthProvider]string{oauth.OAuthCodex: srv.URL},
				Now:       func() time.Time { return now },
			}
			tok, err := r.Refresh(context.Background(), oauth.OAuthCodex, "rt")
			require.NoError(t, err)
			assert.True(t, tc.want.Equal(tok.Expiry), "expiry %v, want %v", tok.Expiry, tc.want)
			assert.Equal(t, "rt", tok.RefreshToken)
		})
	}
}

// TestRefreshErrorsNeverCarryTokens makes the endpoint echo the refresh token
// everywhere it can and checks no error text repeats it.
func TestRefreshErrorsNeverCarryTokens(t *testing.T) {
	const secret = "rt-super-secret-value"
	bodies := []struct {
		status int
		body   string
	}{
		{400, `{"error":"invalid_grant","error_description":"token ` + secret + ` is revoked"}`},
		{401, `{"error":{"code":"refresh_token_reused","message":"` + secret + ` was used"}}`},
		{500, `{"error":"` + secret + `"}`},
		{502, secret},
		{200, `{"refresh_token":"` + secret + `"}`},
	}
	for i, b := range bodies {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			env := newOAuthEnv(t, mockoauth.Config{})
			env.mock.SetFault("*", mockoauth.Fault{Status: b.status, Body: b.body})
			ts := env.source(oauth.OAuthClaude, oauth.Token{
				AccessToken: "at-secret-access", RefreshToken: secret,
				Expiry: env.clk.Now().Add(-time.Minute),
			}, oauth.TokenSourceOptions{})
			_, err := ts.Access(context.Background())
			require.Error(t, err)
			for _, text := range []string{err.Error(), ts.Status().LastError, ts.Status().Reason, fmt.Sprint(ts.Revoked())} {
				assert.NotContains(t, text, secret)
				assert.NotContains(t, text, "at-secret-access")
			}
		})
	}

	t.Run("transport error", func(t *testing.T) {
		r := &oauth.Refresher{TokenURLs: map[oauth.OAuthProvider]string{oauth.OAuthGoogle: "http://127.0.0.1:1/token"}}
		_, err := r.Refresh(context.Background(), oauth.OAuthGoogle, secret)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), secret)
	})

	t.Run("formatting a token", func(t *testing.T) {
		tok := oauth.Token{
			AccessToken: "at-secret-access", RefreshToken: secret, IDToken: "id-secret",
			Expiry: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
			out := fmt.Sprintf(verb, tok)
			assert.NotContains(t, out, secret, verb)
			assert.NotContains(t, out, "at-secret-access", verb)
			assert.NotContains(t, out, "id-secret", verb)
			assert.Contains(t, out, "2030-01-01T00:00:00Z", verb)
		}
		out := fmt.Sprintf("%v", []oauth.Token{tok})
		assert.False(t, strings.Contains(out, secret) || strings.Contains(out, "at-secret-access"))
	})
}
