package cliproxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// The site mount judges the client by the connection's peer address (or
// Caddy's client IP, which trusted_proxies set): a test on loopback cannot
// connect from elsewhere, so requests with crafted peers go through the
// handler's ServeHTTP.
func TestSiteManagementRefusesRemotePeers(t *testing.T) {
	st, err := loadPoolState("unit-mgmt-remote", time.Hour)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = pools.Delete("unit-mgmt-remote") })
	m := &ManagementConfig{Key: "mgmt-unit-key"}
	guard, err := m.guard(caddy.NewReplacer(), st.Lockout)
	require.NoError(t, err)
	h := &Handler{Management: m, guard: guard, state: st}
	nextCalled := false
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		nextCalled = true
		return nil
	})

	serve := func(path, peer, clientIP string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = peer
		req.Header.Set("Authorization", "Bearer mgmt-unit-key")
		if clientIP != "" {
			vars := map[string]any{caddyhttp.ClientIPVarKey: clientIP}
			req = req.WithContext(context.WithValue(req.Context(), caddyhttp.VarsCtxKey, vars))
		}
		rec := httptest.NewRecorder()
		require.NoError(t, h.ServeHTTP(rec, req, next))
		return rec
	}
	for _, tc := range []struct {
		peer, clientIP string
		status         int
		code           string
	}{
		{"203.0.113.5:4711", "", http.StatusForbidden, "remote_refused"},
		{"[2001:db8::5]:4711", "", http.StatusForbidden, "remote_refused"},
		{"10.0.0.7:4711", "", http.StatusForbidden, "remote_refused"},
		{"not an address", "", http.StatusForbidden, "remote_refused"},
		{"127.0.0.1:4711", "203.0.113.5", http.StatusForbidden, "remote_refused"}, // behind a trusted proxy
		{"127.0.0.1:4711", "", http.StatusOK, ""},
		{"[::1]:4711", "", http.StatusOK, ""},
		// a client IP that differs from the peer is the left-most
		// X-Forwarded-For entry, which the client wrote: not local
		{"203.0.113.5:4711", "127.0.0.1", http.StatusForbidden, "remote_refused"},
		{"127.0.0.1:4711", "::1", http.StatusForbidden, "remote_refused"},
	} {
		rec := serve("/v0/management/usage", tc.peer, tc.clientIP)
		assert.Equal(t, tc.status, rec.Code, "peer %s client %s: %s", tc.peer, tc.clientIP, rec.Body)
		assert.Equal(t, tc.code, gjson.Get(rec.Body.String(), "code").String())
	}
	// with trusted_proxies_strict the client IP is Caddy's right-most
	// untrusted one and is believed: loopback behind a loopback proxy is local
	strict := func(peer, clientIP string) int {
		req := httptest.NewRequest(http.MethodGet, "/v0/management/usage", nil)
		req.RemoteAddr = peer
		req.Header.Set("Authorization", "Bearer mgmt-unit-key")
		ctx := context.WithValue(req.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: clientIP})
		ctx = context.WithValue(ctx, caddyhttp.ServerCtxKey, &caddyhttp.Server{TrustedProxiesStrict: 1})
		rec := httptest.NewRecorder()
		require.NoError(t, h.ServeHTTP(rec, req.WithContext(ctx), next))
		return rec.Code
	}
	assert.Equal(t, http.StatusOK, strict("127.0.0.1:4711", "::1"))
	assert.Equal(t, http.StatusForbidden, strict("127.0.0.1:4711", "203.0.113.5"))
	assert.Equal(t, http.StatusForbidden, strict("203.0.113.9:4711", "127.0.0.1"), "a remote proxy cannot vouch for loopback")

	// the refusals locked nobody out: they are not failures
	assert.Equal(t, http.StatusOK, serve("/v0/management/strategy", "127.0.0.1:1", "").Code)

	m.AllowRemote = true
	h.guard, err = m.guard(caddy.NewReplacer(), st.Lockout)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, serve("/v0/management/usage", "203.0.113.5:4711", "").Code)

	assert.False(t, nextCalled)
	serve("/v0/managementx", "127.0.0.1:4711", "")
	assert.True(t, nextCalled, "a path beside the mount point is not the API's")
}

func TestManagementConfigNeedsASecret(t *testing.T) {
	t.Setenv(ManagementPasswordEnv, "")
	_, err := (&ManagementConfig{}).guard(caddy.NewReplacer(), nil)
	assert.ErrorContains(t, err, "management needs a key, or a password in CLIPROXY_MANAGEMENT_PASSWORD")
	_, err = (&ManagementConfig{Key: "{env.CLIPROXY_UNSET_FOR_TEST}"}).guard(caddy.NewReplacer(), nil)
	assert.ErrorContains(t, err, "management key is empty")
	t.Setenv(ManagementPasswordEnv, "pw")
	g, err := (&ManagementConfig{}).guard(caddy.NewReplacer(), nil)
	assert.NoError(t, err)
	assert.NotNil(t, g)
	assert.ErrorContains(t, (&ManagementConfig{Path: "v0"}).validate(), "must start with /")
	assert.ErrorContains(t, (&ManagementConfig{Key: "a", KeySHA256: "b"}).validate(), "exclusive")
	assert.ErrorContains(t, (&ManagementConfig{KeySHA256: "b"}).validate(), "64 hex digits")
}
