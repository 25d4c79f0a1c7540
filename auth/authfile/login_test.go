package authfile_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/auth/authfile"
	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
)

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
	store, err := authfile.NewFileStore(t.TempDir())
	require.NoError(t, err)
	for ident, want := range cases {
		name := authfile.LoginFileName("codex", ident)
		assert.Equal(t, want, name, ident)
		assert.NotContains(t, name, "..")
		assert.NotContains(t, name, "/")
		_, err := store.Save(context.Background(), &authfile.AuthFile{Name: name, Type: "codex"})
		assert.NoError(t, err, "the store accepts %q", name)
	}
	long := authfile.LoginFileName("claude", strings.Repeat("a", 500)+"@example.com")
	assert.LessOrEqual(t, len(long), 200)
}

func TestLoginAuthFile(t *testing.T) {
	now := time.Date(2030, 5, 1, 12, 0, 0, 500, time.UTC)
	tok := oauth.Token{AccessToken: "at", RefreshToken: "rt", IDToken: "idt", Expiry: now.Add(time.Hour)}
	info := oauth.LoginInfo{Email: "alice@example.com", AccountID: "acct-1"}
	flow := func(p oauth.OAuthProvider) *oauth.LoginFlow {
		f, err := oauth.NewLoginFlow(p, oauth.LoginOverrides{Now: func() time.Time { return now }})
		require.NoError(t, err)
		return f
	}

	c := authfile.FromLogin(flow(oauth.OAuthCodex), tok, info, nil)
	assert.Equal(t, "codex-alice@example.com.json", c.Name)
	assert.Equal(t, authfile.FileTypeCodex, c.Type)
	assert.Equal(t, "alice@example.com", c.Email)
	assert.Equal(t, "acct-1", c.AccountID)
	assert.Equal(t, [3]string{"at", "rt", "idt"}, [3]string{c.AccessToken, c.RefreshToken, c.IDToken})
	assert.Equal(t, now.Add(time.Hour).Truncate(time.Second), c.Expired)
	assert.Equal(t, now.Truncate(time.Second), c.LastRefresh)

	a := authfile.FromLogin(flow(oauth.OAuthClaude), tok, info, nil)
	assert.Equal(t, "claude-alice@example.com.json", a.Name)
	assert.Empty(t, a.AccountID, "account_id is Codex's")

	g := authfile.FromLogin(flow(oauth.OAuthGoogle), tok, oauth.LoginInfo{}, []string{" proj-a", "", "proj-b "})
	assert.Equal(t, authfile.FileTypeGeminiCLI, g.Type)
	assert.Equal(t, []string{"proj-a", "proj-b"}, g.ProjectIDs)
	assert.Equal(t, "gemini-cli-proj-a.json", g.Name, "without an e-mail address the file is named by project")

	n := authfile.FromLogin(flow(oauth.OAuthCodex), tok, oauth.LoginInfo{AccountID: "acct-9"}, nil)
	assert.Equal(t, "codex-acct-9.json", n.Name)
}

func TestSaveLogin(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "auths")
	store, err := authfile.NewFileStore(dir)
	require.NoError(t, err)
	now := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	f, err := oauth.NewLoginFlow(oauth.OAuthGoogle, oauth.LoginOverrides{Now: func() time.Time { return now }})
	require.NoError(t, err)

	first := authfile.FromLogin(f, oauth.Token{AccessToken: "at-1", RefreshToken: "rt-1", Expiry: now.Add(time.Hour)},
		oauth.LoginInfo{Email: "e@example.com"}, []string{"p1", "p2"})
	created, err := authfile.SaveLogin(ctx, store, first)
	require.NoError(t, err)
	assert.True(t, created)
	path := filepath.Join(dir, "gemini-cli-e@example.com.json")
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	parsed, err := authfile.ParseAuthFile(filepath.Base(path), raw)
	require.NoError(t, err)
	assert.Equal(t, authfile.FileTypeGeminiCLI, parsed.Type)
	assert.Equal(t, "gemini-cli", gjson.GetBytes(raw, "type").String())
	assert.Equal(t, "p1,p2", gjson.GetBytes(raw, "project_id").String(), "CLIProxyAPI's comma-separated form")
	assert.Equal(t, "2030-05-01T13:00:00Z", gjson.GetBytes(raw, "expired").String())
	assert.Equal(t, "2030-05-01T12:00:00Z", gjson.GetBytes(raw, "last_refresh").String())

	// The operator adds settings; signing in again keeps them.
	edited := strings.Replace(string(raw), `"type"`, `"priority": 7, "proxy_url": "socks5://proxy:1080", "type"`, 1)
	require.NoError(t, os.WriteFile(path, []byte(edited), 0o600))
	second := authfile.FromLogin(f, oauth.Token{AccessToken: "at-2", RefreshToken: "rt-2", Expiry: now.Add(2 * time.Hour)},
		oauth.LoginInfo{Email: "e@example.com"}, nil)
	created, err = authfile.SaveLogin(ctx, store, second)
	require.NoError(t, err)
	assert.False(t, created)
	raw, err = os.ReadFile(path)
	require.NoError(t, err)
	parsed, err = authfile.ParseAuthFile(filepath.Base(path), raw)
	require.NoError(t, err)
	assert.Equal(t, "at-2", parsed.AccessToken)
	assert.Equal(t, "rt-2", parsed.RefreshToken)
	assert.Equal(t, 7, parsed.Priority)
	assert.Equal(t, "socks5://proxy:1080", parsed.ProxyURL)
	assert.Equal(t, []string{"p1", "p2"}, parsed.ProjectIDs, "kept when the new sign-in names none")

	// A file of that name holding an API key is left alone.
	keyFile := filepath.Join(dir, "claude-k@example.com.json")
	require.NoError(t, os.WriteFile(keyFile, []byte(`{"type":"claude","api_key":"sk-ant-api-x"}`), 0o600))
	cf, err := oauth.NewLoginFlow(oauth.OAuthClaude, oauth.LoginOverrides{})
	require.NoError(t, err)
	_, err = authfile.SaveLogin(ctx, store, authfile.FromLogin(cf, oauth.Token{AccessToken: "at"}, oauth.LoginInfo{Email: "k@example.com"}, nil))
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
