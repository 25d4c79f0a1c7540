package cliproxy

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth/authfile"
	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
	"github.com/caddy-cliproxy/cliproxy/internal/mockoauth"
	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
	"github.com/caddy-cliproxy/cliproxy/internal/testutil"
)

// loginTestFlags parses args (flags first, as the standard library wants)
// with the command's own flag set, and reads them the way caddycmd.Flags
// does.
type loginTestFlags struct{ fs *flag.FlagSet }

func newLoginTestFlags(t *testing.T, args ...string) loginTestFlags {
	t.Helper()
	fs := newCliproxyFlags()
	fs.SetOutput(io.Discard)
	require.NoError(t, fs.Parse(args))
	return loginTestFlags{fs}
}

func (f loginTestFlags) String(name string) string { return f.fs.Lookup(name).Value.String() }
func (f loginTestFlags) Bool(name string) bool {
	v, _ := strconv.ParseBool(f.String(name))
	return v
}
func (f loginTestFlags) Args() []string { return f.fs.Args() }

// loginPrintedURL waits for the sign-in URL the command prints.
func loginPrintedURL(t *testing.T, out interface{ String() string }) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(out.String(), "\n") {
			if u, ok := strings.CutPrefix(line, "  http"); ok {
				return "http" + strings.TrimSpace(u)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no URL printed; output so far:\n%s", out.String())
	return ""
}

// loginTestMock starts a mock authorization server for p, registered for
// the official client and redirect URI, signing in email/account.
func loginTestMock(t *testing.T, p oauth.OAuthProvider, email, account string) (*mockoauth.AuthServer, *httptest.Server) {
	t.Helper()
	defaults, err := oauth.NewLoginFlow(p, oauth.LoginOverrides{})
	require.NoError(t, err)
	cfg := mockoauth.AuthConfig{
		ClientID:     defaults.ClientID,
		ClientSecret: defaults.ClientSecret,
		RedirectURIs: []string{defaults.RedirectURI},
		Email:        email,
		AccountID:    account,
	}
	switch p {
	case oauth.OAuthClaude:
		cfg.Format = mockoauth.Claude
	case oauth.OAuthCodex:
		cfg.Format = mockoauth.Codex
	case oauth.OAuthGoogle:
		cfg.Format = mockoauth.Google
	}
	m := mockoauth.NewAuthServer(cfg)
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return m, srv
}

// loginBrowse is the browser: it follows the sign-in URL and its redirect
// to the command's callback listener, and returns the last page.
func loginBrowse(authURL string) (int, string, error) {
	resp, err := http.Get(authURL)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// loginCheckFile checks the written credential file and returns it.
func loginCheckFile(t *testing.T, dir, name, output string, m *mockoauth.AuthServer) *authfile.AuthFile {
	t.Helper()
	path := filepath.Join(dir, name)
	info, err := os.Stat(path)
	require.NoError(t, err, "output:\n%s", output)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	dinfo, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), dinfo.Mode().Perm())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	f, err := authfile.ParseAuthFile(name, raw)
	require.NoError(t, err)

	secrets := m.Secrets()
	require.NotEmpty(t, secrets)
	assert.Contains(t, secrets, f.AccessToken)
	assert.Contains(t, secrets, f.RefreshToken)
	assert.False(t, f.Expired.IsZero())
	assert.False(t, f.LastRefresh.IsZero())
	for _, s := range secrets {
		assert.NotContains(t, output, s, "the output shows no code or token")
	}
	assert.Contains(t, output, "Wrote "+path)
	return f
}

func TestCliproxyCommandIsRegistered(t *testing.T) {
	cmd, ok := caddycmd.Commands()["cliproxy"]
	require.True(t, ok)
	assert.Equal(t, "cliproxy", cmd.Name)
	assert.NotNil(t, cmd.Func)
	assert.True(t, strings.HasPrefix(cmd.Usage, "login <claude|codex|gemini> [--auth-dir <dir>]"), cmd.Usage)
	assert.NotEmpty(t, cmd.Short)
	for _, name := range []string{"auth-dir", "no-browser", "listen", "project", "authorize-url", "token-url", "userinfo-url", "code-assist-url"} {
		assert.NotNil(t, cmd.Flags.Lookup(name), name)
		assert.Contains(t, cmd.Usage, "--"+name)
	}
	assert.Equal(t, "~/.cli-proxy-api", cmd.Flags.Lookup("auth-dir").DefValue)
}

func TestLoginCommandCodex(t *testing.T) {
	m, srv := loginTestMock(t, oauth.OAuthCodex, "alice@example.com", "acct-alice")
	dir := filepath.Join(t.TempDir(), "auths")
	out := &testutil.SyncBuffer{}
	fl := newLoginTestFlags(t, "--auth-dir", dir, "--no-browser", "--listen", "127.0.0.1:0",
		"--authorize-url", srv.URL+"/oauth/authorize", "--token-url", srv.URL+"/oauth/token", "login", "codex")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	opened := false
	go func() {
		// Empty stdin: the command keeps waiting for the browser.
		done <- runCliproxy(ctx, fl, strings.NewReader(""), out, func(string) error { opened = true; return nil })
	}()

	authURL := loginPrintedURL(t, out)
	assert.True(t, strings.HasPrefix(authURL, srv.URL+"/oauth/authorize?"), authURL)
	status, page, err := loginBrowse(authURL)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, page, "You can close this tab")
	require.NoError(t, <-done, out.String())
	assert.False(t, opened, "--no-browser")

	f := loginCheckFile(t, dir, "codex-alice@example.com.json", out.String(), m)
	assert.Equal(t, authfile.FileTypeCodex, f.Type)
	assert.Equal(t, "alice@example.com", f.Email)
	assert.Equal(t, "acct-alice", f.AccountID)
	assert.NotEmpty(t, f.IDToken)
	assert.Contains(t, out.String(), "Signed in as alice@example.com.")

	x := m.Exchanges()
	require.Len(t, x, 1)
	assert.Regexp(t, `^http://localhost:\d+/auth/callback$`, x[0].RedirectURI)
	assert.NotEqual(t, "http://localhost:1455/auth/callback", x[0].RedirectURI, "the port --listen bound")
}

func TestLoginCommandGemini(t *testing.T) {
	m, srv := loginTestMock(t, oauth.OAuthGoogle, "carol@example.com", "")
	dir := filepath.Join(t.TempDir(), "auths")
	out := &testutil.SyncBuffer{}
	fl := newLoginTestFlags(t, "--auth-dir", dir, "--project", "proj-1, proj-2",
		"--authorize-url", srv.URL+"/o/oauth2/v2/auth", "--token-url", srv.URL+"/token",
		"--userinfo-url", srv.URL+"/userinfo", "login", "gemini")

	// The "browser" opened by the command follows the URL, and the mock
	// redirects it to the command's listener on its default free port.
	browsed := make(chan string, 1)
	open := func(u string) error {
		go func() {
			_, page, err := loginBrowse(u)
			if err != nil {
				page = err.Error()
			}
			browsed <- page
		}()
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, runCliproxy(ctx, fl, strings.NewReader(""), out, open), out.String())
	assert.Contains(t, <-browsed, "You can close this tab")

	f := loginCheckFile(t, dir, "gemini-cli-carol@example.com.json", out.String(), m)
	assert.Equal(t, authfile.FileTypeGeminiCLI, f.Type)
	assert.Equal(t, "carol@example.com", f.Email)
	assert.Equal(t, []string{"proj-1", "proj-2"}, f.ProjectIDs)
	assert.Empty(t, f.AccountID)

	x := m.Exchanges()
	require.Len(t, x, 1)
	assert.NotEmpty(t, x[0].ClientSecret)
	assert.Regexp(t, `^http://localhost:\d+/oauth2callback$`, x[0].RedirectURI)

	// Signing in again updates the same file and keeps the operator's
	// settings.
	path := filepath.Join(dir, f.Name)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, bytes.Replace(raw, []byte(`"type"`), []byte(`"priority": 3, "type"`), 1), 0o600))
	out2 := &testutil.SyncBuffer{}
	fl = newLoginTestFlags(t, "--auth-dir", dir, "--project", "proj-3", "--no-browser",
		"--authorize-url", srv.URL+"/o/oauth2/v2/auth", "--token-url", srv.URL+"/token", "login", "gemini")
	done := make(chan error, 1)
	go func() { done <- runCliproxy(ctx, fl, strings.NewReader(""), out2, nil) }()
	_, _, err = loginBrowse(loginPrintedURL(t, out2))
	require.NoError(t, err)
	require.NoError(t, <-done, out2.String())
	assert.Contains(t, out2.String(), "Updated "+path)
	raw, err = os.ReadFile(path)
	require.NoError(t, err)
	g, err := authfile.ParseAuthFile(f.Name, raw)
	require.NoError(t, err)
	assert.Equal(t, 3, g.Priority)
	assert.Equal(t, []string{"proj-3"}, g.ProjectIDs)
	assert.NotEqual(t, f.AccessToken, g.AccessToken)
}

// startTypedLogin runs the command of fl with a terminal the test types
// into (typed), within 30 s; done gets what the command returned.
func startTypedLogin(t *testing.T, fl loginTestFlags) (out *testutil.SyncBuffer, typed *io.PipeWriter, done chan error) {
	t.Helper()
	stdin, typed := io.Pipe()
	t.Cleanup(func() { typed.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	out, done = &testutil.SyncBuffer{}, make(chan error, 1)
	go func() { done <- runCliproxy(ctx, fl, stdin, out, nil) }()
	return out, typed, done
}

func TestLoginCommandClaude(t *testing.T) {
	m, srv := loginTestMock(t, oauth.OAuthClaude, "bob@example.com", "")
	dir := filepath.Join(t.TempDir(), "auths")
	fl := newLoginTestFlags(t, "--auth-dir", dir, "--no-browser",
		"--authorize-url", srv.URL+"/oauth/authorize", "--token-url", srv.URL+"/v1/oauth/token", "login", "claude")
	out, typed, done := startTypedLogin(t, fl)

	authURL := loginPrintedURL(t, out)
	assert.Contains(t, out.String(), "paste the code the page shows (code#state)")
	// The browser: Claude's page shows code#state instead of redirecting.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(authURL)
	require.NoError(t, err)
	shown, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(shown))
	code, state, ok := strings.Cut(string(shown), "#")
	require.True(t, ok, string(shown))

	// A stray line and a stale code are refused, and the command asks again.
	_, err = io.WriteString(typed, "\nsorry what?\n"+code+"#stale-state\n")
	require.NoError(t, err)
	_, err = io.WriteString(typed, "  "+code+"#"+state+"  \n")
	require.NoError(t, err)
	require.NoError(t, <-done, out.String())
	assert.Equal(t, 2, strings.Count(out.String(), "Paste it again"), out.String())
	assert.Contains(t, out.String(), "not this sign-in's")

	f := loginCheckFile(t, dir, "claude-bob@example.com.json", out.String(), m)
	assert.Equal(t, authfile.FileTypeClaude, f.Type)
	assert.Equal(t, "bob@example.com", f.Email)
	assert.Empty(t, f.AccountID)
	assert.Empty(t, f.IDToken)
	require.Len(t, m.Exchanges(), 1, "the refused lines never reached the token endpoint")
	assert.Equal(t, oauth.ClaudeTokenUserAgent, m.Exchanges()[0].UserAgent, "the exchange speaks as Claude Code")
	assert.Equal(t, "https://platform.claude.com/oauth/code/callback", m.Exchanges()[0].RedirectURI)
}

// TestLoginCommandGeminiFindsProject: without --project, the sign-in asks
// Gemini Code Assist for the account's project as the Gemini CLI does
// (loadCodeAssist, onboardUser, the pending operation polled until done),
// and the file ends with the project Google manages for a free-tier
// account.
func TestLoginCommandGeminiFindsProject(t *testing.T) {
	m, srv := loginTestMock(t, oauth.OAuthGoogle, "gail@example.com", "")
	ca := mockupstream.New()
	ca.SetCodeAssistAccount(mockupstream.CodeAssistAccount{Project: "gentle-fern-4k1x", PendingPolls: 1})
	caSrv := httptest.NewServer(ca)
	t.Cleanup(caSrv.Close)
	dir := filepath.Join(t.TempDir(), "auths")
	out := &testutil.SyncBuffer{}
	fl := newLoginTestFlags(t, "--auth-dir", dir, "--no-browser",
		"--authorize-url", srv.URL+"/o/oauth2/v2/auth", "--token-url", srv.URL+"/token",
		"--userinfo-url", srv.URL+"/userinfo", "--code-assist-url", caSrv.URL, "login", "gemini")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runCliproxy(ctx, fl, strings.NewReader(""), out, nil) }()
	_, _, err := loginBrowse(loginPrintedURL(t, out))
	require.NoError(t, err)
	require.NoError(t, <-done, out.String())

	f := loginCheckFile(t, dir, "gemini-cli-gail@example.com.json", out.String(), m)
	assert.Equal(t, []string{"gentle-fern-4k1x"}, f.ProjectIDs)
	assert.Contains(t, out.String(), "Code Assist project: gentle-fern-4k1x")
	var calls []string
	for _, r := range ca.Requests() {
		calls = append(calls, r.Method+" "+r.Path)
		assert.Equal(t, "Bearer "+f.AccessToken, r.Header.Get("Authorization"))
	}
	assert.Equal(t, []string{
		"POST /v1internal:loadCodeAssist", "POST /v1internal:onboardUser",
		"GET /v1internal/operations/onboard-1", "GET /v1internal/operations/onboard-1",
	}, calls)

	// an account whose tier needs a project of its own: told to name it,
	// and nothing is written
	ca.SetCodeAssistAccount(mockupstream.CodeAssistAccount{Tier: "standard-tier"})
	dir2 := filepath.Join(t.TempDir(), "auths")
	out2 := &testutil.SyncBuffer{}
	fl = newLoginTestFlags(t, "--auth-dir", dir2, "--no-browser",
		"--authorize-url", srv.URL+"/o/oauth2/v2/auth", "--token-url", srv.URL+"/token",
		"--userinfo-url", srv.URL+"/userinfo", "--code-assist-url", caSrv.URL, "login", "gemini")
	go func() { done <- runCliproxy(ctx, fl, strings.NewReader(""), out2, nil) }()
	_, _, err = loginBrowse(loginPrintedURL(t, out2))
	require.NoError(t, err)
	err = <-done
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--project")
	entries, err := os.ReadDir(dir2)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestLoginCommandPastedCallback(t *testing.T) {
	// --listen none: the URL the browser ended on is pasted.
	m, srv := loginTestMock(t, oauth.OAuthCodex, "dan@example.com", "acct-dan")
	dir := filepath.Join(t.TempDir(), "auths")
	fl := newLoginTestFlags(t, "--auth-dir", dir, "--no-browser", "--listen", "none",
		"--authorize-url", srv.URL+"/oauth/authorize", "--token-url", srv.URL+"/oauth/token", "login", "codex")
	out, typed, done := startTypedLogin(t, fl)

	authURL := loginPrintedURL(t, out)
	assert.Contains(t, out.String(), "paste the URL the browser ends on")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	landing := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(landing, "http://localhost:1455/auth/callback?"), landing)
	_, err = io.WriteString(typed, landing+"\n")
	require.NoError(t, err)
	require.NoError(t, <-done, out.String())
	f := loginCheckFile(t, dir, "codex-dan@example.com.json", out.String(), m)
	assert.Equal(t, "acct-dan", f.AccountID)
}

func TestLoginCommandErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run := func(stdin io.Reader, args ...string) (string, error) {
		out := &testutil.SyncBuffer{}
		err := runCliproxy(ctx, newLoginTestFlags(t, args...), stdin, out, nil)
		return out.String(), err
	}
	dir := filepath.Join(t.TempDir(), "auths")
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{nil, "missing action"},
		{[]string{"logout"}, `unknown action "logout"`},
		{[]string{"login"}, "usage: caddy cliproxy login"},
		{[]string{"login", "codex", "extra"}, "usage: caddy cliproxy login"},
		{[]string{"login", "mistral"}, `unknown provider "mistral"`},
		{[]string{"--auth-dir", dir, "--code-assist-url", "http://127.0.0.1:9", "login", "codex"}, "--code-assist-url only applies to gemini"},
		{[]string{"--auth-dir", dir, "--code-assist-url", "ftp://x", "login", "gemini"}, "--code-assist-url: invalid base_url"},
		{[]string{"--auth-dir", dir, "--project", "p", "login", "codex"}, "--project only applies to gemini"},
		{[]string{"--auth-dir", dir, "--listen", "127.0.0.1:0", "login", "claude"}, "--listen does not apply"},
		{[]string{"--auth-dir", dir, "--token-url", "ftp://x", "login", "codex"}, "want an absolute http or https URL"},
		{[]string{"--auth-dir", " ", "login", "codex"}, "--auth-dir is empty"},
	} {
		_, err := run(strings.NewReader(""), tc.args...)
		require.Error(t, err, tc.args)
		assert.Contains(t, err.Error(), tc.msg, tc.args)
	}
	_, err := os.Stat(dir)
	assert.True(t, os.IsNotExist(err), "usage errors create nothing")

	// Claude with nothing pasted.
	_, err = run(strings.NewReader(""), "--auth-dir", dir, "--no-browser", "login", "claude")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no code was entered")

	// The user declines: the refusal is reported and nothing is written.
	m, srv := loginTestMock(t, oauth.OAuthCodex, "", "")
	m.SetDeny("access_denied")
	out := &testutil.SyncBuffer{}
	stdin, typed := io.Pipe()
	defer typed.Close()
	done := make(chan error, 1)
	go func() {
		done <- runCliproxy(ctx, newLoginTestFlags(t, "--auth-dir", dir, "--no-browser", "--listen", "127.0.0.1:0",
			"--authorize-url", srv.URL+"/authorize", "--token-url", srv.URL+"/token", "login", "codex"), stdin, out, nil)
	}()
	_, page, err := loginBrowse(loginPrintedURL(t, out))
	require.NoError(t, err)
	assert.Contains(t, page, "access_denied")
	err = <-done
	var refused *oauth.AuthorizationError
	require.ErrorAs(t, err, &refused)
	assert.Equal(t, "access_denied", refused.Code)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
	assert.Empty(t, m.Exchanges())

	// Interrupted while waiting.
	ictx, icancel := context.WithCancel(ctx)
	go func() {
		time.Sleep(50 * time.Millisecond)
		icancel()
	}()
	stdin2, typed2 := io.Pipe()
	defer typed2.Close()
	err = runCliproxy(ictx, newLoginTestFlags(t, "--auth-dir", dir, "--no-browser", "--listen", "127.0.0.1:0", "login", "codex"),
		stdin2, io.Discard, nil)
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "sign-in interrupted")
}

// TestLoginCommandInCaddyBinary builds caddy with the module and signs a
// Codex account in through the real command line (cobra's flag parsing,
// flags after the provider), against the mock.
func TestLoginCommandInCaddyBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ./cmd/caddy")
	}
	if _, err := exec.LookPath("go"); err != nil {
		// in CI a missing toolchain must not pass silently
		if os.Getenv("CI") == "true" {
			t.Fatal("no go tool on PATH")
		}
		t.Skip("no go tool on PATH")
	}
	bin, err := testutil.BuildCaddy(t.TempDir())
	require.NoError(t, err)

	help, err := exec.Command(bin, "help", "cliproxy").CombinedOutput()
	require.NoError(t, err, string(help))
	assert.Contains(t, string(help), "caddy cliproxy login <claude|codex|gemini>")
	assert.Contains(t, string(help), "--auth-dir")

	m, srv := loginTestMock(t, oauth.OAuthCodex, "eve@example.com", "acct-eve")
	dir := filepath.Join(t.TempDir(), "auths")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "cliproxy", "login", "codex", "--no-browser", "--listen", "127.0.0.1:0",
		"--auth-dir", dir, "--authorize-url", srv.URL+"/oauth/authorize", "--token-url", srv.URL+"/oauth/token")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	defer stdin.Close()
	require.NoError(t, cmd.Start())

	out := &testutil.SyncBuffer{}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			_, _ = out.Write([]byte(sc.Text() + "\n"))
		}
	}()
	status, _, err := loginBrowse(loginPrintedURL(t, out))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	<-copied
	require.NoError(t, cmd.Wait(), "stdout:\n%s\nstderr:\n%s", out.String(), stderr.String())

	f := loginCheckFile(t, dir, "codex-eve@example.com.json", out.String(), m)
	assert.Equal(t, "acct-eve", f.AccountID)
	for _, s := range m.Secrets() {
		assert.NotContains(t, stderr.String(), s)
	}

	bad, err := exec.Command(bin, "cliproxy", "login", "nope").CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(bad), "unknown provider")
}
