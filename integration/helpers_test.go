package integration

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
	"github.com/caddy-cliproxy/cliproxy/internal/testutil"
)

// gatewayPort is where the in-process Caddy of these tests listens, and
// adminAddr its admin endpoint: free ports taken in TestMain, so two suites
// can run on one machine at once.
var (
	gatewayPort int
	adminAddr   string
	adminURL    string
)

func TestMain(m *testing.M) {
	admin, err := testutil.FreePort()
	if err == nil {
		gatewayPort, err = testutil.FreePort()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "taking free ports:", err)
		os.Exit(1)
	}
	caddytest.Default.AdminPort = admin
	adminAddr = fmt.Sprintf("localhost:%d", admin)
	adminURL = "http://" + adminAddr
	os.Exit(m.Run())
}

// gateway is an in-process Caddy running cliproxy in front of a mock.
type gateway struct {
	t       testing.TB
	tester  *caddytest.Tester
	mock    *mockupstream.Server
	mockURL string
	logFile string
	pool    string
	// reqLogDir is where request logs go unless the test sets its own
	// request_log_dir; every file there is checked for secrets.
	reqLogDir string
}

// pools counts the gateways started, to name their pool states.
var pools int

// gatewayOptions shape the Caddyfile of a test gateway.
type gatewayOptions struct {
	// Server is put in the global servers block (e.g. timeouts).
	Server string
	// Handler is the body of the cliproxy block; "MOCK" is replaced by the
	// mock's base URL.
	Handler string
	// Admin is the body of the admin option's block (e.g. origins).
	Admin string
}

// startGateway starts a mock upstream and Caddy with cliproxy configured
// by opts, logging at debug level to a file the test can read.
func startGateway(t testing.TB, opts gatewayOptions) *gateway {
	t.Helper()
	mock := mockupstream.New()
	srv := httptest.NewServer(mock)
	t.Cleanup(srv.Close)
	// every gateway gets a pool state of its own: state is kept across
	// config loads by pool name, and tests must not inherit each other's
	// cooldowns and bindings
	pools++
	g := &gateway{
		t: t, mock: mock, mockURL: srv.URL, logFile: filepath.Join(t.TempDir(), "caddy.log"),
		pool: fmt.Sprintf("test-%d", pools), reqLogDir: t.TempDir(),
	}
	// whatever a test made fail, no secret may be in its request logs
	t.Cleanup(func() { assertNoSecretInDir(t, g.reqLogDir) })
	g.tester = caddytest.NewTester(t)
	g.tester.Client.Timeout = time.Minute // streams in these tests outlast caddytest's 5 s
	g.load(opts)
	return g
}

// reload loads a new configuration into the running Caddy.
func (g *gateway) reload(opts gatewayOptions) {
	g.t.Helper()
	g.load(opts)
}

func (g *gateway) load(opts gatewayOptions) {
	t := g.t
	t.Helper()
	logFile := g.logFile
	handler := "\t\tpool " + g.pool + "\n"
	if !strings.Contains(opts.Handler, "request_log_dir") {
		handler += "\t\trequest_log_dir " + g.reqLogDir + "\n"
	}
	handler += strings.ReplaceAll(opts.Handler, "MOCK", g.mockURL)
	admin := adminAddr
	if opts.Admin != "" {
		admin += " {\n" + opts.Admin + "\n}"
	}
	servers := ""
	if opts.Server != "" {
		servers = "servers {\n" + opts.Server + "\n}"
	}
	cfg := fmt.Sprintf(`{
	admin %s
	http_port %d
	log {
		output file %s
		format json
		level DEBUG
	}
	%s
}
:%d {
	log {
		output file %s
		format json
	}
	cliproxy {
%s
	}
}
`, admin, gatewayPort, logFile, servers, gatewayPort, logFile, handler)
	g.tester.InitServer(cfg, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
}

// url is the gateway URL of path.
func (g *gateway) url(path string) string {
	return fmt.Sprintf("http://localhost:%d%s", gatewayPort, path)
}

// do sends a request to the gateway and returns the response with its body
// read.
func (g *gateway) do(method, path string, header http.Header, body string) (*http.Response, string) {
	g.t.Helper()
	req, err := http.NewRequest(method, g.url(path), strings.NewReader(body))
	if err != nil {
		g.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := g.tester.Client.Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		g.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return res, string(out)
}

// logs returns everything Caddy logged so far.
func (g *gateway) logs() string {
	g.t.Helper()
	out, err := os.ReadFile(g.logFile)
	if err != nil {
		g.t.Fatalf("reading caddy log: %v", err)
	}
	return string(out)
}

// hdr builds a header from name/value pairs.
func hdr(pairs ...string) http.Header {
	h := make(http.Header)
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Add(pairs[i], pairs[i+1])
	}
	return h
}

// sseEvent is one server-sent event.
type sseEvent struct {
	Event string
	Data  string
}

// parseSSE splits an SSE stream into events.
func parseSSE(t *testing.T, stream string) []sseEvent {
	t.Helper()
	var events []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(strings.NewReader(stream))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case line == "":
			if cur.Event != "" || cur.Data != "" {
				events = append(events, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "event:"):
			cur.Event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			if cur.Data != "" {
				cur.Data += "\n"
			}
			cur.Data += strings.TrimSpace(strings.TrimPrefix(line, "data:"))
		}
	}
	if cur.Event != "" || cur.Data != "" {
		events = append(events, cur)
	}
	return events
}

// containsAny reports which of needles occur in haystack.
func containsAny(haystack []byte, needles ...string) []string {
	var found []string
	for _, n := range needles {
		if bytes.Contains(haystack, []byte(n)) {
			found = append(found, n)
		}
	}
	return found
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func readAll(res *http.Response) ([]byte, error) {
	defer res.Body.Close()
	return io.ReadAll(res.Body)
}

// anthropicStreamText joins the text deltas of an Anthropic SSE stream.
func anthropicStreamText(t *testing.T, stream string) string {
	t.Helper()
	var text strings.Builder
	for _, ev := range parseSSE(t, stream) {
		if ev.Event == "content_block_delta" {
			text.WriteString(gjson.Get(ev.Data, "delta.text").String())
		}
	}
	return text.String()
}

// useH2C switches the test client to HTTP/2 without TLS, the protocol on
// which a stalled stream is reset by a timer rather than a failed write.
func (g *gateway) useH2C() {
	tr := caddytest.CreateTestingTransport()
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true)
	g.tester.Client.Transport = tr
}

func base64url(b []byte) string { return base64.URLEncoding.EncodeToString(b) }
