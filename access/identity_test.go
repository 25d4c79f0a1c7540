package access

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIdentitiesResolve(t *testing.T) {
	ids, err := NewIdentities([]string{"{http.auth.user.id}", "{http.request.header.X-Member}", "team-{http.vars.team}"}, caddy.NewReplacer())
	require.NoError(t, err)
	assert.Equal(t, []string{"X-Member"}, ids.headers)

	tests := []struct {
		name   string
		header string            // X-Member
		vars   map[string]string // replacer values set by earlier handlers
		want   string
	}{
		{"nothing set", "", nil, ""},
		{"auth user", "", map[string]string{"http.auth.user.id": "alice"}, "alice"},
		{"auth user wins over the header", "bob", map[string]string{"http.auth.user.id": "alice"}, "alice"},
		{"empty auth user falls through to the header", "bob", map[string]string{"http.auth.user.id": ""}, "bob"},
		{"header only", "bob", nil, "bob"},
		{"space around the header is trimmed", "  bob ", nil, "bob"},
		{"only spaces is no identity", "   ", nil, ""},
		{"prefix with its placeholder set", "", map[string]string{"http.vars.team": "red"}, "team-red"},
		{"prefix without its placeholder is no identity", "", map[string]string{"http.vars.team": ""}, ""},
		{"too long", strings.Repeat("a", maxIdentityLen+1), nil, ""},
		{"longest allowed", strings.Repeat("a", maxIdentityLen), nil, strings.Repeat("a", maxIdentityLen)},
		{"control character", "", map[string]string{"http.auth.user.id": "al\x00ice"}, ""},
		{"unicode name", "", map[string]string{"http.auth.user.id": "zoë"}, "zoë"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/messages", nil)
			if tt.header != "" {
				r.Header.Set("X-Member", tt.header)
			}
			repl := caddyhttp.NewTestReplacer(r)
			for k, v := range tt.vars {
				repl.Set(k, v)
			}
			assert.Equal(t, tt.want, ids.Resolve(repl))
		})
	}
	assert.Empty(t, ids.Resolve(nil))
}

func TestIdentitiesRefuseWhatResolvesWithoutARequest(t *testing.T) {
	for _, bad := range []string{"alice", "{env.HOME}", "{env.CLIPROXY_SURELY_UNSET}", "{system.hostname}", "{env.USER}-{system.os}", ""} {
		_, err := NewIdentities([]string{bad}, caddy.NewReplacer())
		require.Error(t, err, "%q", bad)
		assert.Contains(t, err.Error(), "would admit everyone")
	}
	for _, good := range []string{"{http.auth.user.id}", "{http.request.header.X-Member}", "{env.TEAM}-{http.auth.user.id}"} {
		_, err := NewIdentities([]string{good}, caddy.NewReplacer())
		assert.NoError(t, err, "%q", good)
	}
}

func TestIdentitiesStripTheHeadersTheyRead(t *testing.T) {
	ids, err := NewIdentities([]string{"{http.request.header.X-Member}", "{http.request.header.x-team}/{http.auth.user.id}"}, caddy.NewReplacer())
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodPost, "/v1/messages", nil)
	r.Header.Set("X-Member", "bob")
	r.Header.Set("X-Team", "red")
	r.Header.Set("Anthropic-Version", "2023-06-01")
	ids.Strip(r)
	assert.Empty(t, r.Header.Values("X-Member"))
	assert.Empty(t, r.Header.Values("X-Team"))
	assert.Equal(t, "2023-06-01", r.Header.Get("Anthropic-Version"))
}
