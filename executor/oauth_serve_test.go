package executor_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
	"github.com/caddy-cliproxy/cliproxy/executor"
	"github.com/caddy-cliproxy/cliproxy/internal/mockoauth"
	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// subscription is a Claude OAuth credential whose token comes from a real
// TokenSource refreshing against a mock token endpoint; it starts with the
// access token access, which has not expired.
func subscription(t *testing.T, name, access string) (*auth.Credential, *mockoauth.Server) {
	t.Helper()
	token := mockoauth.New(mockoauth.Config{Format: mockoauth.Claude})
	srv := httptest.NewServer(token)
	t.Cleanup(srv.Close)
	ref := &oauth.Refresher{
		Client:    srv.Client(),
		TokenURLs: map[oauth.OAuthProvider]string{oauth.OAuthClaude: srv.URL + "/claude/token"},
	}
	ts := oauth.NewTokenSource(oauth.OAuthClaude, oauth.Token{AccessToken: access, RefreshToken: "refresh-" + name}, ref, oauth.TokenSourceOptions{})
	// a priority above the API keys of the tests: it is tried first
	return &auth.Credential{Name: name, Provider: auth.Claude, OAuth: ts, Priority: 1}, token
}

// claudeCodeHeader is what Claude Code sends, which a subscription
// account serves.
func claudeCodeHeader() http.Header {
	h := anthropicHeader()
	h.Set("User-Agent", "claude-cli/2.1.330 (external, cli)")
	h.Set("X-App", "cli")
	return h
}

func TestServeRefreshesARejectedOAuthTokenAndRetriesTheSameCredential(t *testing.T) {
	sub, token := subscription(t, "sub", "access-revoked-early")
	h := newHarness(t, nil, sub, claude("spare"))
	h.mock.SetFault("access-revoked-early", mockupstream.Fault{Status: http.StatusUnauthorized})

	out := h.serve(http.MethodPost, "/v1/messages", claudeCodeHeader(), messages)
	require.NoError(t, out.err)
	require.Equal(t, http.StatusOK, out.Code, out.Body.String())

	assert.Equal(t, 1, token.Refreshes(), "the rejected token is refreshed once")
	fresh := token.AccessTokens()
	require.Len(t, fresh, 1)
	assert.Len(t, h.mock.RequestsFor("access-revoked-early"), 1)
	assert.Len(t, h.mock.RequestsFor(fresh[0]), 1, "the retry carries the new token")
	assert.Empty(t, h.mock.RequestsFor("key-spare"), "the retry stays on the same credential")
	assert.Equal(t, "sub", h.rec.last(t).Credential)
	ok, _ := h.pool.Available(sub, "claude-sonnet-4-5")
	assert.True(t, ok, "a credential that answered after the refresh is not blocked")
	assert.NotContains(t, out.Body.String(), fresh[0])
}

func TestServeBlocksAnOAuthCredentialStillRefusedAfterTheRefresh(t *testing.T) {
	sub, token := subscription(t, "sub", "access-a")
	h := newHarness(t, nil, sub, claude("spare"))
	h.mock.SetFault("access-a", mockupstream.Fault{Status: http.StatusUnauthorized})
	h.mock.SetFault("*", mockupstream.Fault{Status: http.StatusUnauthorized, Times: 1})

	out := h.serve(http.MethodPost, "/v1/messages", claudeCodeHeader(), messages)
	require.NoError(t, out.err)
	require.Equal(t, http.StatusOK, out.Code, "the next credential answers: %s", out.Body.String())
	assert.Equal(t, 1, token.Refreshes(), "one refresh, not one per 401")
	assert.Len(t, h.mock.RequestsFor("key-spare"), 1)
	assert.Equal(t, "spare", h.rec.last(t).Credential)
	ok, _ := h.pool.Available(sub, "claude-sonnet-4-5")
	assert.False(t, ok, "a credential refused with a fresh token is taken out of rotation")
}

func TestServeDoesNotPassAnUpstream401OnToTheClient(t *testing.T) {
	sub, token := subscription(t, "sub", "access-a")
	h := newHarness(t, nil, sub)
	h.mock.SetFault("*", mockupstream.Fault{Status: http.StatusUnauthorized})

	out := h.serve(http.MethodPost, "/v1/messages", claudeCodeHeader(), messages)
	require.NoError(t, out.err)
	assert.NotEqual(t, http.StatusUnauthorized, out.Code, "a 401 would read as the client's own key refused")
	assert.GreaterOrEqual(t, out.Code, 500, out.Body.String())
	assert.Equal(t, "error", gjson.Get(out.Body.String(), "type").String(), "an Anthropic-shaped error: %s", out.Body.String())
	assert.Equal(t, 1, token.Refreshes())
	for _, tok := range append(token.AccessTokens(), "access-a", "refresh-sub") {
		assert.NotContains(t, out.Body.String(), tok, "no upstream secret in the answer")
	}
}

func TestServeFailsOverWhenTheOAuthRefreshFails(t *testing.T) {
	sub, token := subscription(t, "sub", "access-a")
	token.SetFault("refresh-sub", mockoauth.Fault{Status: http.StatusInternalServerError})
	h := newHarness(t, nil, sub, claude("spare"))
	h.mock.SetFault("access-a", mockupstream.Fault{Status: http.StatusUnauthorized})

	out := h.serve(http.MethodPost, "/v1/messages", claudeCodeHeader(), messages)
	require.NoError(t, out.err)
	require.Equal(t, http.StatusOK, out.Code, out.Body.String())
	assert.Len(t, h.mock.RequestsFor("access-a"), 1, "no retry without a new token")
	assert.Len(t, h.mock.RequestsFor("key-spare"), 1)
}

func TestServeKeepsSubscriptionAccountsForTheirOwnClient(t *testing.T) {
	sub, _ := subscription(t, "sub", "access-a")
	h := newHarness(t, nil, sub)

	out := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.NoError(t, out.err)
	assert.Equal(t, http.StatusForbidden, out.Code, out.Body.String())
	assert.Equal(t, executor.CodeNoCredentialForClient, gjson.Get(out.Body.String(), "error.code").String(), out.Body.String())
	assert.Empty(t, h.mock.Requests(), "a foreign client's request never reaches the subscription account")

	out = h.serve(http.MethodPost, "/v1/messages", claudeCodeHeader(), messages)
	require.NoError(t, out.err)
	assert.Equal(t, http.StatusOK, out.Code, out.Body.String())
	assert.Len(t, h.mock.RequestsFor("access-a"), 1)
}

// A subscription's 400 is read before it reaches the client: the account
// refusing the client fails over to an API key, while the client's own
// mistake is told to it as it is.
func TestServeTellsASubscriptionsRefusalFromTheClientsOwn400(t *testing.T) {
	cases := []struct {
		name, message, served string
		status                int
	}{
		{"refused client", "This credential is only authorized for use with Claude Code and cannot be used for other API requests.", "spare", http.StatusOK},
		{"client mistake", "max_tokens: Field required", "sub", http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sub, _ := subscription(t, "sub", "access-a")
			h := newHarness(t, nil, sub, claude("spare"))
			h.mock.SetFault("access-a", mockupstream.Fault{
				Status: http.StatusBadRequest,
				Body:   `{"type":"error","error":{"type":"invalid_request_error","message":"` + tc.message + `"}}`,
			})

			out := h.serve(http.MethodPost, "/v1/messages", claudeCodeHeader(), messages)
			require.NoError(t, out.err)
			require.Equal(t, tc.status, out.Code, out.Body.String())
			assert.Equal(t, tc.served, h.rec.last(t).Credential)
			if tc.served == "sub" {
				assert.Contains(t, out.Body.String(), tc.message, "the client's own mistake is told to it")
				assert.Empty(t, h.mock.RequestsFor("key-spare"), "the client's fault is not failed over")
			} else {
				assert.Len(t, h.mock.RequestsFor("key-spare"), 1, "the API key answers instead")
			}
		})
	}
}

// A pool opened to every client lets an SDK use the subscription account;
// an account's own setting narrows it again.
func TestServeOpensSubscriptionAccountsToEveryClientWhenConfigured(t *testing.T) {
	sub, _ := subscription(t, "sub", "access-a")
	strict, _ := subscription(t, "strict", "access-strict")
	strict.OAuthClients = auth.OAuthClientsOfficial
	h := newHarness(t, func(o *executor.Options) { o.OAuthClients = auth.OAuthClientsAny }, sub, strict)

	out := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.NoError(t, out.err)
	require.Equal(t, http.StatusOK, out.Code, out.Body.String())
	assert.Len(t, h.mock.RequestsFor("access-a"), 1)

	h.mock.SetFault("access-a", mockupstream.Fault{Status: http.StatusServiceUnavailable})
	out = h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.NoError(t, out.err)
	assert.GreaterOrEqual(t, out.Code, 500, out.Body.String())
	assert.Empty(t, h.mock.RequestsFor("access-strict"), "the account kept to its own client is not failed over to")
}

// The executor's max_attempts bounds how many credentials one request
// spends, however many could serve it.
func TestServeTriesNoMoreCredentialsThanMaxAttempts(t *testing.T) {
	h := newHarness(t, func(o *executor.Options) { o.MaxAttempts = 2 }, claude("a"), claude("b"), claude("c"))
	h.mock.SetFault("*", mockupstream.Fault{Status: http.StatusServiceUnavailable})

	out := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.NoError(t, out.err)
	assert.GreaterOrEqual(t, out.Code, 500, out.Body.String())
	assert.Len(t, h.mock.Requests(), 2)
	ok, _ := h.pool.Available(h.pool.Get("c"), "claude-sonnet-4-5")
	assert.True(t, ok, "the credential never tried is not blamed")
}

// An account whose refresh token was revoked cannot get a token: the
// request goes to the next credential and the account is taken out.
func TestServeFailsOverAnOAuthAccountWhoseRefreshTokenWasRevoked(t *testing.T) {
	token := mockoauth.New(mockoauth.Config{Format: mockoauth.Claude})
	srv := httptest.NewServer(token)
	t.Cleanup(srv.Close)
	token.SetFault("refresh-gone", mockoauth.Fault{Status: http.StatusBadRequest, Error: "invalid_grant", Description: "refresh token revoked"})
	ref := &oauth.Refresher{Client: srv.Client(), TokenURLs: map[oauth.OAuthProvider]string{oauth.OAuthClaude: srv.URL + "/claude/token"}}
	expired := oauth.Token{AccessToken: "access-old", RefreshToken: "refresh-gone", Expiry: time.Now().Add(-time.Hour)}
	gone := &auth.Credential{
		Name: "gone", Provider: auth.Claude, Priority: 1,
		OAuth: oauth.NewTokenSource(oauth.OAuthClaude, expired, ref, oauth.TokenSourceOptions{}),
	}
	h := newHarness(t, nil, gone, claude("spare"))

	out := h.serve(http.MethodPost, "/v1/messages", claudeCodeHeader(), messages)
	require.NoError(t, out.err)
	require.Equal(t, http.StatusOK, out.Code, out.Body.String())
	assert.Empty(t, h.mock.RequestsFor("access-old"), "an expired token is not sent")
	assert.Len(t, h.mock.RequestsFor("key-spare"), 1)
	assert.NotContains(t, out.Body.String(), "refresh-gone")
	reason, _ := h.pool.BlockedBy(gone, "claude-sonnet-4-5")
	assert.Equal(t, auth.BlockDisabled, reason, "the revoked account is disabled, not cooled for a while")
}
