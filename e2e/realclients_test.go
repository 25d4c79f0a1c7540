//go:build unix

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
	"github.com/caddy-cliproxy/cliproxy/internal/testutil"
)

// clientKey is the team member's key for the gateway. It must never reach
// an upstream.
const clientKey = "sk-client-e2e-alice-5c1f0a9d"

// cliTimeout bounds one run of a CLI.
const cliTimeout = 120 * time.Second

// buildDir holds the caddy built for this test binary; TestMain removes it.
var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cliproxy-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// repoRoot is the directory holding the module's go.mod.
var repoRoot = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if gomod := strings.TrimSpace(string(out)); err == nil && gomod != "" && gomod != os.DevNull {
		return filepath.Dir(gomod), nil
	}
	// go test runs in the package directory, e2e/.
	dir, err := filepath.Abs("..")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return "", fmt.Errorf("cannot find the repository root: %w", err)
	}
	return dir, nil
})

// caddyBinary builds the project's caddy once per test binary.
var caddyBinary = sync.OnceValues(func() (string, error) {
	return testutil.BuildCaddy(buildDir)
})

// notInstalled skips the test, or fails it when running in CI, where a
// missing client must not pass silently.
func notInstalled(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + "; run scripts/install-clients.sh"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// skipShort skips a real-client test in -short mode: each takes seconds
// per CLI run.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the real CLIs; skipped with -short")
	}
}

// clientBinary returns the path of an installed, pinned CLI.
func clientBinary(t *testing.T, name string) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(root, ".cache", "clients")
	bin := filepath.Join(cache, "node_modules", ".bin", name)
	if _, err := os.Stat(bin); err != nil {
		notInstalled(t, "%s is not installed in %s", name, filepath.Dir(bin))
	}
	// The install script copies the lock file into the cache; a different
	// one means the pinned versions changed since the last install.
	want, err := os.ReadFile(filepath.Join(root, "e2e", "clients", "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	if have, err := os.ReadFile(filepath.Join(cache, "package-lock.json")); err != nil || !bytes.Equal(have, want) {
		notInstalled(t, "the clients in %s do not match e2e/clients/package-lock.json", cache)
	}
	if _, err := exec.LookPath("node"); err != nil {
		notInstalled(t, "node is not in PATH")
	}
	return bin
}

// credential is one upstream credential of the gateway under test.
type credential struct {
	name, provider, apiKey string
}

// gatewayConfig holds the optional settings of the cliproxy block; the
// zero value is the handler's defaults.
type gatewayConfig struct {
	// sessionAffinity adds `session_affinity on`: a conversation stays on
	// the credential that served its first request.
	sessionAffinity bool
	// authDir is set by startCaddy when there are Codex credentials: they
	// are ChatGPT accounts, written there as auth files.
	authDir string
}

// gateway is a running caddy with the cliproxy handler in front of a mock
// upstream.
type gateway struct {
	url  string // http://127.0.0.1:port
	mock *mockupstream.Server
	log  *testutil.SyncBuffer // caddy's stdout and stderr
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	return testutil.Port(t)
}

// caddyfile renders the gateway's configuration. Requests the cliproxy
// handler passes on reach the respond directive, so a path the gateway does
// not serve shows up as a 404 in the access log instead of an empty 200.
func caddyfile(port int, mockURL string, cfg gatewayConfig, creds []credential) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{
	admin off
	persist_config off
	auto_https off
}
:%d {
	bind 127.0.0.1
	log {
		output stderr
		format filter {
			request>headers delete
			request>uri query {
				delete key
			}
			wrap json
		}
	}
	route {
		cliproxy {
			client_key %s alice
`, port, clientKey)
	if cfg.sessionAffinity {
		b.WriteString("\t\t\tsession_affinity on\n")
	}
	if cfg.authDir != "" {
		fmt.Fprintf(&b, "\t\t\tauth_dir %s\n", cfg.authDir)
	}
	for _, c := range creds {
		if isAccount(c) {
			continue
		}
		fmt.Fprintf(&b, `			credential %s {
				provider %s
				api_key %s
				base_url %s
			}
`, c.name, c.provider, c.apiKey, mockURL)
	}
	b.WriteString(`		}
		respond "e2e: not served by cliproxy" 404
	}
}
`)
	return b.String()
}

// startGateway starts a mock upstream and the built caddy in front of it,
// with the handler's default settings, and stops both when the test ends.
func startGateway(t *testing.T, creds ...credential) *gateway {
	t.Helper()
	return startGatewayWith(t, gatewayConfig{}, creds...)
}

// startGatewayWith is startGateway with the settings of cfg.
func startGatewayWith(t *testing.T, cfg gatewayConfig, creds ...credential) *gateway {
	t.Helper()
	bin, err := caddyBinary()
	if err != nil {
		t.Fatal(err)
	}
	mock := mockupstream.New()
	upstream := httptest.NewServer(mock)
	t.Cleanup(upstream.Close)

	// The port is free when picked but may be taken before caddy binds
	// it; try again with another one then.
	for attempt := 1; ; attempt++ {
		gw, err := startCaddy(t, bin, upstream.URL, cfg, creds)
		if err == nil {
			gw.mock = mock
			return gw
		}
		if attempt == 3 || !errors.Is(err, errAddrInUse) {
			t.Fatal(err)
		}
		t.Logf("retrying with another port: %v", err)
	}
}

var errAddrInUse = errors.New("caddy could not bind its port")

// startCaddy runs the built caddy on a free loopback port and waits until
// it serves. The process is killed when the test ends; its output goes to
// the test log if the test failed.
func startCaddy(t *testing.T, bin, upstreamURL string, cfg gatewayConfig, creds []credential) (*gateway, error) {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	if err := writeAccounts(filepath.Join(dir, "auth"), upstreamURL, creds); err != nil {
		return nil, err
	}
	if slices.ContainsFunc(creds, isAccount) {
		cfg.authDir = filepath.Join(dir, "auth")
	}
	config := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(config, []byte(caddyfile(port, upstreamURL, cfg, creds)), 0o600); err != nil {
		return nil, err
	}

	gw := &gateway{url: "http://127.0.0.1:" + strconv.Itoa(port), log: new(testutil.SyncBuffer)}
	cmd := exec.Command(bin, "run", "--config", config, "--adapter", "caddyfile")
	cmd.Dir = dir
	// Keep caddy's data and config folders out of the real HOME.
	cmd.Env = []string{
		"HOME=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"),
		"PATH=" + os.Getenv("PATH"),
	}
	cmd.Stdout, cmd.Stderr = gw.log, gw.log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var waitErr error
	exited := make(chan struct{})
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("caddy output (%s):\n%s", gw.url, gw.log)
		}
	})

	// Ready: caddy says it serves the config and the port answers.
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			out := gw.log.String()
			if strings.Contains(out, "address already in use") {
				return nil, fmt.Errorf("%w %d: %v", errAddrInUse, port, waitErr)
			}
			return nil, fmt.Errorf("caddy exited before serving: %v\n%s", waitErr, out)
		default:
		}
		if strings.Contains(gw.log.String(), "serving initial configuration") {
			conn, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				conn.Close()
				return gw, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("caddy not serving on %s after 30s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// isAccount reports whether c is a subscription (OAuth) account, written
// as an auth file, rather than an API key of the Caddyfile.
func isAccount(c credential) bool {
	return c.provider == "codex" || c.provider == "claude-oauth" || c.provider == "gemini-cli"
}

// writeAccounts writes each subscription credential as an account file of
// an auth directory: a ChatGPT account (codex), a Claude account
// (claude-oauth) or a Google account with a Code Assist project
// (gemini-cli). Its apiKey is the access token, valid for hours, so no
// refresh is due during a test.
func writeAccounts(dir, upstreamURL string, creds []credential) error {
	for _, c := range creds {
		if !isAccount(c) {
			continue
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		file := map[string]any{
			"type": c.provider, "email": c.name + "@example.com",
			"access_token": c.apiKey, "refresh_token": c.apiKey + "-refresh",
			"expired":  time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339),
			"base_url": upstreamURL,
		}
		switch c.provider {
		case "codex":
			file["account_id"] = "acct-" + c.name
			file["base_url"] = upstreamURL + "/backend-api/codex"
		case "claude-oauth":
			file["type"] = "claude"
		case "gemini-cli":
			file["project_id"] = "e2e-project-" + c.name
		}
		raw, err := json.Marshal(file)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, c.name+".json"), raw, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// answered lists the requests caddy answered with status, in order, read
// from its access log.
func (gw *gateway) answered(status int) []string {
	var out []string
	gw.eachAccess(func(e accessEntry) {
		if e.Status == status {
			out = append(out, e.Request.Method+" "+e.Request.URI)
		}
	})
	return out
}

// accessEntry is the part of an access log line the tests read.
type accessEntry struct {
	Msg     string `json:"msg"`
	Status  int    `json:"status"`
	Request struct {
		Method string `json:"method"`
		URI    string `json:"uri"`
	} `json:"request"`
	Size int `json:"size"`
}

// eachAccess calls fn with every access log entry caddy wrote so far.
func (gw *gateway) eachAccess(fn func(accessEntry)) {
	sc := bufio.NewScanner(strings.NewReader(gw.log.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var entry accessEntry
		if json.Unmarshal(sc.Bytes(), &entry) == nil && entry.Msg == "handled request" {
			fn(entry)
		}
	}
}

// passedOn lists the requests the gateway did not serve (answered by the
// fallback respond directive), read from caddy's access log.
func (gw *gateway) passedOn() []string {
	var out []string
	gw.eachAccess(func(e accessEntry) {
		if e.Status == http.StatusNotFound && e.Size == len("e2e: not served by cliproxy") {
			out = append(out, e.Request.Method+" "+e.Request.URI)
		}
	})
	return out
}

// egressRecorder stands in as the HTTP(S) proxy of a CLI run: it refuses
// every connection and remembers where the CLI tried to go, so the runs stay
// offline and the log shows any traffic that bypassed the gateway.
type egressRecorder struct {
	srv   *httptest.Server
	mu    sync.Mutex
	hosts []string
}

func newEgressRecorder(t *testing.T) *egressRecorder {
	t.Helper()
	e := new(egressRecorder)
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Host
		if r.Method != http.MethodConnect {
			target = r.Method + " " + r.URL.String()
		}
		e.mu.Lock()
		e.hosts = append(e.hosts, target)
		e.mu.Unlock()
		http.Error(w, "e2e: no network outside the gateway", http.StatusForbidden)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *egressRecorder) attempts() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.hosts)
}

// cliEnv is the whole environment of a CLI run: nothing is inherited but
// PATH (Gemini CLI runs on node), so a developer's own keys, base URLs and
// settings cannot leak into the test.
func cliEnv(home string, egress *egressRecorder, extra ...string) []string {
	tmp := filepath.Join(home, "tmp")
	_ = os.MkdirAll(tmp, 0o700)
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"USER=e2e",
		"TMPDIR=" + tmp,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		"LANG=C.UTF-8",
		"TERM=dumb",
		"NO_COLOR=1",
		"HTTP_PROXY=" + egress.srv.URL,
		"HTTPS_PROXY=" + egress.srv.URL,
		"http_proxy=" + egress.srv.URL,
		"https_proxy=" + egress.srv.URL,
		"NO_PROXY=127.0.0.1,localhost",
		"no_proxy=127.0.0.1,localhost",
	}
	return append(env, extra...)
}

// cliRun is the outcome of one CLI run.
type cliRun struct {
	stdout, stderr string
	elapsed        time.Duration
	err            error
}

// runCLI runs bin in dir with exactly env, without a terminal, and kills its
// whole process group when it ends or runs out of time.
func runCLI(t *testing.T, bin, dir string, env []string, args ...string) cliRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if cmd.Process != nil {
		// Children the CLI left behind share its process group.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if ctx.Err() != nil && t.Context().Err() == nil {
		err = fmt.Errorf("timed out after %v: %w", cliTimeout, err)
	}
	return cliRun{stdout: stdout.String(), stderr: stderr.String(), elapsed: elapsed, err: err}
}

// requireSuccess fails the test unless run exited 0 and printed want.
func requireSuccess(t *testing.T, name string, run cliRun, want string) {
	t.Helper()
	if run.err != nil {
		t.Fatalf("%s failed after %v: %v\nstdout:\n%s\nstderr:\n%s", name, run.elapsed.Round(time.Millisecond), run.err, run.stdout, run.stderr)
	}
	if !strings.Contains(run.stdout, want) {
		t.Fatalf("%s stdout does not contain the mock's reply %q\nstdout:\n%s\nstderr:\n%s", name, want, run.stdout, run.stderr)
	}
}

// notableHeaders are logged with their values; other headers by name only.
var notableHeaders = []string{
	"User-Agent", "Anthropic-Version", "Anthropic-Beta", "X-App", "X-Claude-Code-Session-Id",
	"X-Goog-Api-Client", "Content-Type", "Content-Encoding", "Accept", "Accept-Encoding",
}

// describe summarises a recorded upstream request for the test log; the key
// appears only as its credential name.
func describe(r mockupstream.Recorded, names map[string]string) string {
	var b strings.Builder
	target := r.Path
	if r.RawQuery != "" {
		target += "?" + r.RawQuery
	}
	who := names[r.Key]
	if who == "" {
		who = "unknown key " + mockupstream.Fingerprint(r.Key)
	}
	fmt.Fprintf(&b, "%s %s model=%s stream=%t body=%dB (decoded %dB) credential=%s",
		r.Method, target, r.Model, r.Stream, len(r.Body), len(r.DecodedBody), who)
	var other []string
	for name := range r.Header {
		if slices.Contains(notableHeaders, name) {
			continue
		}
		other = append(other, name)
	}
	slices.Sort(other)
	for _, name := range notableHeaders {
		if v := r.Header.Values(name); len(v) > 0 {
			fmt.Fprintf(&b, "\n    %s: %s", name, strings.Join(v, ", "))
		}
	}
	fmt.Fprintf(&b, "\n    other headers: %s", strings.Join(other, ", "))
	return b.String()
}

// checkUpstream verifies that every request the mock saw carried one of the
// gateway's upstream keys and that the client key appears nowhere in it. It
// returns the set of upstream keys that were used.
func checkUpstream(t *testing.T, reqs []mockupstream.Recorded, creds []credential) map[string]int {
	t.Helper()
	names := map[string]string{}
	for _, c := range creds {
		names[c.apiKey] = c.name
	}
	used := map[string]int{}
	for i, r := range reqs {
		t.Logf("upstream request %d: %s", i+1, describe(r, names))
		if _, ok := names[r.Key]; !ok {
			if r.Key == clientKey {
				t.Errorf("upstream request %d (%s %s) carried the client key", i+1, r.Method, r.Path)
			} else {
				t.Errorf("upstream request %d (%s %s) carried key %s, not a gateway credential", i+1, r.Method, r.Path, mockupstream.Fingerprint(r.Key))
			}
		}
		used[r.Key]++
		for name, values := range r.Header {
			for _, v := range values {
				if strings.Contains(v, clientKey) {
					t.Errorf("upstream request %d: header %s contains the client key", i+1, name)
				}
			}
		}
		if strings.Contains(r.RawQuery, clientKey) {
			t.Errorf("upstream request %d: query contains the client key", i+1)
		}
		if bytes.Contains(r.Body, []byte(clientKey)) || bytes.Contains(r.DecodedBody, []byte(clientKey)) {
			t.Errorf("upstream request %d: body contains the client key", i+1)
		}
	}
	return used
}

// checkAll ends a test: every request the mock saw is checked
// (checkUpstream), every credential must have served one when everyOne is
// set, and the requests the gateway passed on and the connections the
// egress recorder refused are logged.
func checkAll(t *testing.T, gw *gateway, creds []credential, egress *egressRecorder, everyOne bool) {
	t.Helper()
	used := checkUpstream(t, gw.mock.Requests(), creds)
	if everyOne {
		requireBothUsed(t, used, creds)
	}
	if p := gw.passedOn(); len(p) > 0 {
		t.Logf("requests the gateway did not serve (answered 404 by the fallback): %s", strings.Join(p, "; "))
	}
	logEgress(t, egress)
}

// logEgress reports connections a CLI tried to open outside the gateway;
// the recorder refused them.
func logEgress(t *testing.T, e *egressRecorder) {
	t.Helper()
	if a := e.attempts(); len(a) > 0 {
		t.Logf("connections refused by the egress recorder (traffic outside the gateway): %s", strings.Join(a, "; "))
	} else {
		t.Logf("no connection attempts outside the gateway")
	}
}

func count(reqs []mockupstream.Recorded, keep func(mockupstream.Recorded) bool) int {
	n := 0
	for _, r := range reqs {
		if keep(r) {
			n++
		}
	}
	return n
}

// claudeEnv is the environment of a Claude Code run against gw with the
// client key key.
func claudeEnv(gw *gateway, home, key string, egress *egressRecorder, extra ...string) []string {
	return cliEnv(home, egress, append([]string{
		"ANTHROPIC_BASE_URL=" + gw.url,
		"ANTHROPIC_API_KEY=" + key,
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		"DISABLE_TELEMETRY=1",
		"DISABLE_ERROR_REPORTING=1",
		"DISABLE_AUTOUPDATER=1",
	}, extra...)...)
}

// newHome makes a throw-away HOME with an empty project folder to run a CLI
// in, and returns both.
func newHome(t *testing.T) (home, work string) {
	t.Helper()
	home = t.TempDir()
	work = filepath.Join(home, "project")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	return home, work
}

// runAndCheck runs a CLI, requires exit 0 and want in its output, logs the
// timing, and returns the upstream requests the run caused.
func runAndCheck(t *testing.T, gw *gateway, name, want, bin, dir string, env []string, args ...string) []mockupstream.Recorded {
	t.Helper()
	before := len(gw.mock.Requests())
	run := runCLI(t, bin, dir, env, args...)
	requireSuccess(t, name, run, want)
	reqs := gw.mock.Requests()[before:]
	t.Logf("%s: exit 0 in %v, %d upstream request(s), stdout %q",
		name, run.elapsed.Round(time.Millisecond), len(reqs), strings.TrimSpace(run.stdout))
	return reqs
}

// requireBothUsed fails unless every credential served at least one request.
func requireBothUsed(t *testing.T, used map[string]int, creds []credential) {
	t.Helper()
	for _, c := range creds {
		if used[c.apiKey] == 0 {
			t.Errorf("credential %s was never used; round robin over the runs should use every credential", c.name)
		}
	}
}

// TestClaudeCode runs `claude -p` twice, each time with a fresh HOME, then
// continues the second conversation with `claude -p --continue`, through a
// gateway holding two Claude credentials.
func TestClaudeCode(t *testing.T) {
	skipShort(t)
	t.Parallel()
	bin := clientBinary(t, "claude")
	creds := []credential{
		{"claude-a", "claude", "sk-ant-e2e-upstream-aaaa"},
		{"claude-b", "claude", "sk-ant-e2e-upstream-bbbb"},
	}
	gw := startGateway(t, creds...)
	const reply = "Hello from the e2e mock, via cliproxy: claude-7c2e91"
	gw.mock.SetReply("*", reply)
	egress := newEgressRecorder(t)

	isMessages := func(r mockupstream.Recorded) bool {
		return r.Method == http.MethodPost && r.Path == "/v1/messages"
	}
	var last []mockupstream.Recorded
	// the slowest answered run, which says how busy the machine is
	var slowest time.Duration
	timed := func(run func()) {
		start := time.Now()
		run()
		slowest = max(slowest, time.Since(start))
	}
	for i := 1; i <= 2; i++ {
		home, work := newHome(t)
		env := claudeEnv(gw, home, clientKey, egress)
		name := fmt.Sprintf("claude run %d", i)
		timed(func() { last = runAndCheck(t, gw, name, reply, bin, work, env, "-p", "say hi") })
		if n := count(last, isMessages); n < 1 {
			t.Fatalf("%s: mock saw no POST /v1/messages", name)
		}
		if i == 2 {
			// Second turn of run 2's conversation: same HOME and folder.
			var turn []mockupstream.Recorded
			timed(func() {
				turn = runAndCheck(t, gw, "claude run 2, turn 2 (--continue)", reply, bin, work, env,
					"-p", "--continue", "say hi again")
			})
			checkContinued(t, last, turn)
		}
	}

	// A key the gateway does not know is refused before any upstream is
	// called. Claude Code retries a 401 with backoff for minutes, printing
	// nothing, unless the answer says x-should-retry: false; the run has
	// its default retries, as a member's would.
	home, work := newHome(t)
	before := len(gw.answered(http.StatusUnauthorized))
	refused := requireRefused(t, gw, "claude with a wrong client key", bin, work,
		claudeEnv(gw, home, wrongKey, egress), "-p", "say hi")
	// on a machine so busy that an answered run takes longer, the bound is
	// that run's time: a retry loop takes minutes
	if within := max(refusedWithin, slowest); refused.elapsed > within {
		t.Errorf("claude with a wrong client key took %v to fail, want under %v: it retried the gateway's 401",
			refused.elapsed.Round(time.Millisecond), within.Round(time.Millisecond))
	}
	if tries := gw.answered(http.StatusUnauthorized)[before:]; len(tries) != 1 {
		t.Errorf("claude sent %d requests with the wrong key (%s), want 1: it retried the gateway's 401",
			len(tries), strings.Join(tries, "; "))
	}

	checkAll(t, gw, creds, egress, true)
}

// TestClaudeCodeSessionAffinity proves session affinity with real Claude
// Code runs through a gateway with `session_affinity on` and three Claude
// credentials: `claude -p` and then `claude -p --continue` in the same HOME
// and folder are one session and land on the same credential; a second
// `claude -p` in a fresh HOME is a new session, which round robin places on
// another credential.
func TestClaudeCodeSessionAffinity(t *testing.T) {
	skipShort(t)
	t.Parallel()
	bin := clientBinary(t, "claude")
	creds := []credential{
		{"claude-a", "claude", "sk-ant-e2e-upstream-aff-aaaa"},
		{"claude-b", "claude", "sk-ant-e2e-upstream-aff-bbbb"},
		{"claude-c", "claude", "sk-ant-e2e-upstream-aff-cccc"},
	}
	names := map[string]string{}
	for _, c := range creds {
		names[c.apiKey] = c.name
	}
	gw := startGatewayWith(t, gatewayConfig{sessionAffinity: true}, creds...)
	const reply = "Hello from the e2e mock, via cliproxy: claude-affinity-3d81f0"
	gw.mock.SetReply("*", reply)
	egress := newEgressRecorder(t)

	// Run A: a new conversation in HOME1.
	home1, work1 := newHome(t)
	env1 := claudeEnv(gw, home1, clientKey, egress)
	runA := runAndCheck(t, gw, "claude run A", reply, bin, work1, env1, "-p", "say hi")
	a := mainTurn(t, "run A", runA, "")

	// Run B: the same conversation continued, same HOME and folder.
	runB := runAndCheck(t, gw, "claude run B (--continue)", reply, bin, work1, env1,
		"-p", "--continue", "say hi again")
	b := mainTurn(t, "run B", runB, a.model)
	if b.session != a.session {
		t.Errorf("run B (--continue): X-Claude-Code-Session-Id %q, want run A's %q", b.session, a.session)
	}
	if b.key != a.key {
		t.Errorf("run B (--continue) was served by %s, want run A's %s: session affinity should keep the conversation on its credential",
			names[b.key], names[a.key])
	}
	if b.messages < 3 {
		t.Errorf("run B (--continue): %d messages in the body, want run A's user and assistant messages plus the new one", b.messages)
	}

	// Run C: a second conversation in a fresh HOME2.
	home2, work2 := newHome(t)
	runC := runAndCheck(t, gw, "claude run C (new HOME)", reply, bin, work2,
		claudeEnv(gw, home2, clientKey, egress), "-p", "say hi")
	c := mainTurn(t, "run C", runC, a.model)
	if c.session == a.session {
		t.Errorf("run C: X-Claude-Code-Session-Id %q is run A's; a fresh HOME should start a new session", c.session)
	}
	if c.key == a.key {
		t.Errorf("run C (a new session) was served by %s like run A; round robin should place it on another credential", names[c.key])
	}
	t.Logf("model %s: session %s (runs A, B) on %s; session %s (run C) on %s",
		a.model, a.session, names[a.key], c.session, names[c.key])

	checkAll(t, gw, creds, egress, false)
}

// claudeTurn is what one Claude Code run sent for its main model.
type claudeTurn struct {
	model, session, key string
	messages            int // in the last request's body
}

// mainTurn finds the requests of one Claude Code run for its main model:
// the model of the run's last POST /v1/messages, or model if not "". Claude
// Code may send other requests (a title or a quota check with a small
// model); the gateway binds sessions per model, so only these count. It
// requires them to carry one X-Claude-Code-Session-Id and to have been
// served by one upstream key, and returns those and the message count of
// the last one.
func mainTurn(t *testing.T, name string, reqs []mockupstream.Recorded, model string) claudeTurn {
	t.Helper()
	var main []mockupstream.Recorded
	if model == "" {
		for _, r := range slices.Backward(reqs) {
			if r.Method == http.MethodPost && r.Path == "/v1/messages" {
				model = r.Model
				break
			}
		}
	}
	for _, r := range reqs {
		if r.Method == http.MethodPost && r.Path == "/v1/messages" && r.Model == model {
			main = append(main, r)
		}
	}
	if len(main) == 0 {
		t.Fatalf("%s: no POST /v1/messages for model %q reached the mock", name, model)
	}
	last := main[len(main)-1]
	turn := claudeTurn{model: model, session: last.Header.Get("X-Claude-Code-Session-Id"), key: last.Key}
	if turn.session == "" {
		t.Fatalf("%s: POST /v1/messages for %s carried no X-Claude-Code-Session-Id", name, model)
	}
	for i, r := range main {
		if s := r.Header.Get("X-Claude-Code-Session-Id"); s != turn.session {
			t.Errorf("%s: request %d for %s has session %q, the last one %q", name, i+1, model, s, turn.session)
		}
		if r.Key != turn.key {
			t.Errorf("%s: requests for %s of one session were served by different upstream keys", name, model)
		}
	}
	var body struct {
		Messages []json.RawMessage `json:"messages"`
		Metadata struct {
			UserID string `json:"user_id"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(last.DecodedBody, &body); err != nil {
		t.Fatalf("%s: body of POST /v1/messages is not JSON: %v", name, err)
	}
	turn.messages = len(body.Messages)
	if !strings.Contains(body.Metadata.UserID, turn.session) {
		t.Logf("%s: metadata.user_id %q does not name session %s", name, body.Metadata.UserID, turn.session)
	}
	t.Logf("%s: %d request(s) for %s of %d POST /v1/messages, session %s, %d message(s) in the last",
		name, len(main), model, count(reqs, func(r mockupstream.Recorded) bool {
			return r.Method == http.MethodPost && r.Path == "/v1/messages"
		}), turn.session, turn.messages)
	return turn
}

// wrongKey is a client key the gateway does not know.
const wrongKey = "sk-client-e2e-mallory-0e4b77"

// refusedWithin bounds how long a CLI given a wrong client key may take to
// give up, unless an answered run took longer: a member must see the
// error, not a silent retry loop.
const refusedWithin = 15 * time.Second

// requireRefused runs a CLI with a wrong client key and requires that it
// fails, reports the 401, and that no request reached the upstream.
func requireRefused(t *testing.T, gw *gateway, name, bin, dir string, env []string, args ...string) cliRun {
	t.Helper()
	before := len(gw.mock.Requests())
	run := runCLI(t, bin, dir, env, args...)
	if run.err == nil {
		t.Errorf("%s: exit 0, want a failure\nstdout:\n%s", name, run.stdout)
	}
	if out := run.stdout + run.stderr; !strings.Contains(out, "401") {
		t.Errorf("%s: output does not mention the 401\nstdout:\n%s\nstderr:\n%s", name, run.stdout, run.stderr)
	}
	if n := len(gw.mock.Requests()) - before; n != 0 {
		t.Errorf("%s: %d request(s) reached the upstream, want none", name, n)
	}
	t.Logf("%s: %v in %v, nothing reached the upstream", name, run.err, run.elapsed.Round(time.Millisecond))
	return run
}

// checkContinued verifies that the --continue turn reached the upstream as
// the same Claude Code session (header X-Claude-Code-Session-Id, which the
// gateway's session affinity keys on) and with the first turn's exchange in
// its messages.
func checkContinued(t *testing.T, first, second []mockupstream.Recorded) {
	t.Helper()
	sessionOf := func(reqs []mockupstream.Recorded) (string, mockupstream.Recorded) {
		for _, r := range reqs {
			if r.Method == http.MethodPost && r.Path == "/v1/messages" {
				return r.Header.Get("X-Claude-Code-Session-Id"), r
			}
		}
		return "", mockupstream.Recorded{}
	}
	s1, _ := sessionOf(first)
	s2, r2 := sessionOf(second)
	if s2 == "" {
		t.Fatalf("--continue turn: no POST /v1/messages with X-Claude-Code-Session-Id reached the mock")
	}
	if s1 != s2 {
		t.Errorf("--continue turn: X-Claude-Code-Session-Id %q, want the first turn's %q", s2, s1)
	}
	var body struct {
		Messages []struct {
			Role string `json:"role"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(r2.DecodedBody, &body); err != nil {
		t.Fatalf("--continue turn: body is not JSON: %v", err)
	}
	if len(body.Messages) < 3 {
		t.Errorf("--continue turn: %d messages in the body, want the first turn's user and assistant messages plus the new one", len(body.Messages))
	}
}

// geminiSettings is the throw-away HOME's ~/.gemini/settings.json: API-key
// auth, and no update checks or usage statistics.
const geminiSettings = `{
  "security": {"auth": {"selectedType": "gemini-api-key"}},
  "general": {"enableAutoUpdate": false, "enableAutoUpdateNotification": false},
  "privacy": {"usageStatisticsEnabled": false},
  "telemetry": {"enabled": false}
}
`

// geminiEnv prepares home for a Gemini CLI run against gw with the client
// key key and returns the run's environment.
func geminiEnv(t *testing.T, gw *gateway, home, key string, egress *egressRecorder) []string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(home, ".gemini"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".gemini", "settings.json"), []byte(geminiSettings), 0o600); err != nil {
		t.Fatal(err)
	}
	return cliEnv(home, egress,
		"GEMINI_API_KEY="+key,
		"GOOGLE_GEMINI_BASE_URL="+gw.url,
		"GEMINI_CLI_TRUST_WORKSPACE=true",
		// no machine-wide settings from /etc
		"GEMINI_CLI_SYSTEM_SETTINGS_PATH="+filepath.Join(home, "system-settings.json"),
	)
}

// geminiCreds are the Gemini API keys of TestGeminiCLI's gateways.
var geminiCreds = []credential{
	{"gem-a", "gemini", "AIza-e2e-upstream-aaaa"},
	{"gem-b", "gemini", "AIza-e2e-upstream-bbbb"},
}

// isGeminiStream is a streamed generation the mock got.
func isGeminiStream(r mockupstream.Recorded) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.Path, ":streamGenerateContent")
}

// TestGeminiCLI runs `gemini -p` twice with its default (auto) model, each
// time with a fresh HOME, through a gateway holding two Gemini credentials.
func TestGeminiCLI(t *testing.T) {
	skipShort(t)
	t.Parallel()
	bin := clientBinary(t, "gemini")
	creds := geminiCreds
	gw := startGateway(t, creds...)
	egress := newEgressRecorder(t)

	// With the auto model, Gemini CLI first asks a flash-lite model to
	// classify the prompt (generateContent in JSON mode); the mock answers
	// that with JSON shaped by the request's schema, then streams the reply.
	const marker = "Hello from the e2e mock, via cliproxy: gemini-4b8d27"
	gw.mock.SetReply("*", marker)
	for i := 1; i <= 2; i++ {
		home, work := newHome(t)
		name := fmt.Sprintf("gemini run %d", i)
		reqs := runAndCheck(t, gw, name, marker, bin, work, geminiEnv(t, gw, home, clientKey, egress), "-p", "say hi")
		if n := count(reqs, isGeminiStream); n < 1 {
			t.Fatalf("%s: mock saw no POST …:streamGenerateContent", name)
		}
	}

	checkAll(t, gw, creds, egress, true)
}

// TestGeminiCLIWithAModel runs `gemini --model gemini-2.5-flash -p`
// through a gateway holding two Gemini credentials, then the same with a
// client key the gateway does not know. It is TestGeminiCLI's second half,
// a test of its own so that the two run at once.
func TestGeminiCLIWithAModel(t *testing.T) {
	skipShort(t)
	t.Parallel()
	bin := clientBinary(t, "gemini")
	creds := geminiCreds
	gw := startGateway(t, creds...)
	egress := newEgressRecorder(t)

	// With an explicit model there is no classification: one plain-text
	// answer, printed as is.
	const plain = "Hello from the e2e mock, via cliproxy: gemini-plain-90e3f5"
	gw.mock.SetReply("*", plain)
	home, work := newHome(t)
	reqs := runAndCheck(t, gw, "gemini run 3 (--model gemini-2.5-flash)", plain, bin, work,
		geminiEnv(t, gw, home, clientKey, egress), "--model", "gemini-2.5-flash", "-p", "say hi")
	if n := count(reqs, isGeminiStream); n < 1 {
		t.Fatalf("gemini run 3: mock saw no POST …:streamGenerateContent")
	}

	// A key the gateway does not know is refused before any upstream is
	// called.
	home, work = newHome(t)
	requireRefused(t, gw, "gemini with a wrong client key", bin, work,
		geminiEnv(t, gw, home, wrongKey, egress), "--model", "gemini-2.5-flash", "-p", "say hi")

	checkAll(t, gw, creds, egress, false)
}

// TestClaudeCodeSurvivesRateLimitedCredential: one of two credentials
// answers every request with 429; Claude Code still gets its answer on
// every run, the client never sees the 429, and after the first failure
// the cooling credential is no longer called.
func TestClaudeCodeSurvivesRateLimitedCredential(t *testing.T) {
	skipShort(t)
	t.Parallel()
	bin := clientBinary(t, "claude")
	creds := []credential{
		{"claude-limited", "claude", "sk-ant-e2e-upstream-limited"},
		{"claude-ok", "claude", "sk-ant-e2e-upstream-ok"},
	}
	gw := startGateway(t, creds...)
	const reply = "Hello from the e2e mock, despite a 429: claude-4291"
	gw.mock.SetReply("*", reply)
	gw.mock.SetFault(creds[0].apiKey, mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "600"})
	egress := newEgressRecorder(t)

	for i := 1; i <= 3; i++ {
		home, work := newHome(t)
		// no retries of Claude Code's own: the answer must come from the
		// gateway's failover, not from the client trying again
		runAndCheck(t, gw, fmt.Sprintf("claude run %d", i), reply, bin, work,
			claudeEnv(gw, home, clientKey, egress, "CLAUDE_CODE_MAX_RETRIES=0"), "-p", "say hi")
	}
	used := checkUpstream(t, gw.mock.Requests(), creds)
	if used[creds[0].apiKey] != 1 {
		t.Errorf("the rate-limited credential was called %d times; once, then it cools for the hinted 600 s", used[creds[0].apiKey])
	}
	if used[creds[1].apiKey] < 3 {
		t.Errorf("the healthy credential served %d requests, want every run", used[creds[1].apiKey])
	}
	logEgress(t, egress)
}

// codexConfig is the throw-away HOME's ~/.codex/config.toml: the gateway
// as the model provider, over WebSocket or HTTP only.
const codexConfig = `model = "gpt-5.5"
model_provider = "gateway"

[model_providers.gateway]
name = "gateway"
base_url = "%s/v1"
wire_api = "responses"
env_key = "GATEWAY_KEY"
supports_websockets = %t
`

// codexEnv prepares home for a Codex CLI run against gw with the client
// key key and returns the run's environment.
func codexEnv(t *testing.T, gw *gateway, home, key string, websockets bool, egress *egressRecorder) []string {
	t.Helper()
	dir := filepath.Join(home, ".codex")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(fmt.Sprintf(codexConfig, gw.url, websockets)), 0o600); err != nil {
		t.Fatal(err)
	}
	return cliEnv(home, egress, "GATEWAY_KEY="+key, "CODEX_HOME="+dir)
}

// isWSTurn is a response.create the mock got over a WebSocket.
func isWSTurn(r mockupstream.Recorded) bool {
	return r.Provider == "openai-responses-ws" && r.Method == "WS"
}

// isHTTPTurn is a POST …/responses the mock got.
func isHTTPTurn(r mockupstream.Recorded) bool {
	return r.Provider == "openai-responses" && r.Method == http.MethodPost
}

// codexCreds are the ChatGPT accounts of TestCodexCLI's gateways.
var codexCreds = []credential{
	{"codex-a", "codex", "codex-e2e-access-aaaa"},
	{"codex-b", "codex", "codex-e2e-access-bbbb"},
}

// TestCodexCLI runs `codex exec` through a gateway holding two Codex
// (ChatGPT) accounts: over the WebSocket mode, twice, each time in a fresh
// HOME; then with the first account answering every turn with a
// rate-limit error (TestCodexCLIOverHTTP goes on without WebSockets).
func TestCodexCLI(t *testing.T) {
	skipShort(t)
	t.Parallel()
	bin := clientBinary(t, "codex")
	creds := codexCreds
	names := map[string]string{}
	for _, c := range creds {
		names[c.apiKey] = c.name
	}
	gw := startGateway(t, creds...)
	egress := newEgressRecorder(t)

	const reply = "Hello from the e2e mock, via cliproxy: codex-ws-51c7"
	gw.mock.SetReply("*", reply)
	for i := 1; i <= 2; i++ {
		home, work := newHome(t)
		name := fmt.Sprintf("codex run %d (websocket)", i)
		reqs := runAndCheck(t, gw, name, reply, bin, work, codexEnv(t, gw, home, clientKey, true, egress),
			"exec", "--skip-git-repo-check", "say hi")
		if n := count(reqs, isWSTurn); n < 1 {
			t.Fatalf("%s: no response.create reached the mock over a WebSocket", name)
		}
		if n := count(reqs, isHTTPTurn); n > 0 {
			t.Errorf("%s: %d turn(s) fell back to HTTP", name, n)
		}
		for _, r := range reqs {
			if r.Provider == "openai-responses-ws" && r.Method == http.MethodGet {
				if r.Path != "/backend-api/codex/responses" || r.Header.Get("Chatgpt-Account-Id") != "acct-"+names[r.Key] {
					t.Errorf("%s: handshake to %s with account %q by %s", name, r.Path, r.Header.Get("Chatgpt-Account-Id"), names[r.Key])
				}
			}
		}
	}

	// codex-a refuses every turn; the gateway replays each on codex-b
	const limited = "Hello from the e2e mock, despite a rate limit: codex-ws-429b"
	gw.mock.SetReply("*", limited)
	gw.mock.SetFault(creds[0].apiKey, mockupstream.Fault{WSError: "rate_limit_exceeded"})
	refused := 0
	for i := 1; i <= 2; i++ {
		home, work := newHome(t)
		name := fmt.Sprintf("codex run %d (codex-a rate-limited)", i)
		reqs := runAndCheck(t, gw, name, limited, bin, work, codexEnv(t, gw, home, clientKey, true, egress),
			"exec", "--skip-git-repo-check", "say hi")
		served := 0
		for _, r := range reqs {
			switch {
			case isWSTurn(r) && r.Key == creds[1].apiKey:
				served++
			case isWSTurn(r):
				refused++
			}
		}
		if served == 0 {
			t.Errorf("%s: codex-b served no turn", name)
		}
	}

	if refused == 0 {
		t.Errorf("the rate-limited codex-a was never offered a turn: nothing was failed over")
	}

	checkAll(t, gw, creds, egress, true)
}

// TestCodexCLIOverHTTP runs `codex exec` with supports_websockets = false
// through a gateway holding two Codex (ChatGPT) accounts, then with a client
// key the gateway does not know. It is TestCodexCLI's last part, a test of
// its own so that the two run at once.
func TestCodexCLIOverHTTP(t *testing.T) {
	skipShort(t)
	t.Parallel()
	bin := clientBinary(t, "codex")
	creds := codexCreds
	gw := startGateway(t, creds...)
	egress := newEgressRecorder(t)

	// without WebSockets Codex posts its turns; the HTTP path serves them
	const plain = "Hello from the e2e mock, via cliproxy: codex-http-7d20"
	gw.mock.SetReply("*", plain)
	home, work := newHome(t)
	reqs := runAndCheck(t, gw, "codex run (supports_websockets = false)", plain, bin, work,
		codexEnv(t, gw, home, clientKey, false, egress), "exec", "--skip-git-repo-check", "say hi")
	if n := count(reqs, isHTTPTurn); n < 1 {
		t.Fatalf("codex over HTTP: no POST …/responses reached the mock")
	}
	if n := count(reqs, func(r mockupstream.Recorded) bool { return r.Provider == "openai-responses-ws" }); n > 0 {
		t.Errorf("codex over HTTP: %d WebSocket message(s) reached the mock", n)
	}

	// a key the gateway does not know is refused before any upstream is
	// called
	home, work = newHome(t)
	requireRefused(t, gw, "codex with a wrong client key", bin, work,
		codexEnv(t, gw, home, wrongKey, true, egress), "exec", "--skip-git-repo-check", "say hi")

	checkAll(t, gw, creds, egress, false)
}

// TestSubscriptionAccountsServeTheirOwnCLI: a Claude subscription account
// (which the mock, like the real API, refuses to anything but Claude Code)
// serves the real Claude Code, and a Gemini Code Assist account the real
// Gemini CLI, by the headers these CLIs send, untouched; an SDK request
// finds no credential it may use and gets no_credential_for_client.
func TestSubscriptionAccountsServeTheirOwnCLI(t *testing.T) {
	skipShort(t)
	t.Parallel()
	claude := clientBinary(t, "claude")
	gemini := clientBinary(t, "gemini")
	creds := []credential{
		{"claude-sub", "claude-oauth", "sk-ant-oat01-e2e-subscription"},
		{"gem-sub", "gemini-cli", "ya29.e2e-subscription"},
	}
	gw := startGateway(t, creds...)
	gw.mock.SetSubscription(creds[0].apiKey, mockupstream.SubscriptionClaude)
	const reply = "Hello from the e2e mock, on a subscription account: sub-51c3"
	gw.mock.SetReply("*", reply)
	egress := newEgressRecorder(t)

	home, work := newHome(t)
	reqs := runAndCheck(t, gw, "claude on a Claude subscription", reply, claude, work,
		claudeEnv(gw, home, clientKey, egress, "CLAUDE_CODE_MAX_RETRIES=0"), "-p", "say hi")
	if n := count(reqs, func(r mockupstream.Recorded) bool { return r.Key == creds[0].apiKey && r.Path == "/v1/messages" }); n < 1 {
		t.Fatalf("Claude Code was not served by the subscription account")
	}
	home, work = newHome(t)
	reqs = runAndCheck(t, gw, "gemini on a Code Assist account", reply, gemini, work,
		geminiEnv(t, gw, home, clientKey, egress), "--model", "gemini-2.5-flash", "-p", "say hi")
	if n := count(reqs, func(r mockupstream.Recorded) bool { return r.Provider == "code-assist" && r.Key == creds[1].apiKey }); n < 1 {
		t.Fatalf("Gemini CLI was not served by the Code Assist account")
	}

	before := len(gw.mock.Requests())
	req, err := http.NewRequest(http.MethodPost, gw.url+"/v1/messages",
		strings.NewReader(`{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Api-Key", clientKey)
	req.Header.Set("Anthropic-Version", "2023-06-01")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Anthropic/JS 0.71.0")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusForbidden || body.Error.Code != "no_credential_for_client" {
		t.Errorf("an SDK request on a gateway of subscription accounts: %d %q, want 403 no_credential_for_client", res.StatusCode, body.Error.Code)
	}
	if len(gw.mock.Requests()) != before {
		t.Errorf("the SDK request went upstream")
	}
	checkUpstream(t, gw.mock.Requests(), creds)
	logEgress(t, egress)
}
