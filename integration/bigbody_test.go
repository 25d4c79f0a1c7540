package integration

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
	"github.com/caddy-cliproxy/cliproxy/internal/spooltest"
)

// gate stands in front of a mock upstream and tells the test when a
// request arrives upstream, before its body is read; it can answer the
// next requests 429 at once, unread, and hold a request after its body was
// read until the test lets it go.
type gate struct {
	mock    *mockupstream.Server
	arrived chan string   // the upstream key of each request as it arrives
	early   atomic.Int32  // requests still to answer 429 unread
	holding atomic.Bool   // hold each request once it has its body
	held    chan struct{} // receives when a held request has its body
	release chan struct{} // closed to let held requests go
}

func newGate(t *testing.T) (*gate, string) {
	g := &gate{mock: mockupstream.New(), arrived: make(chan string, 16), held: make(chan struct{}, 16), release: make(chan struct{})}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv.URL
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.arrived <- mockupstream.KeyOf(r)
	if g.early.Add(-1) >= 0 {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"type":"error","error":{"type":"rate_limit_error","message":"rate limited"}}`)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if g.holding.Load() {
		g.held <- struct{}{}
		<-g.release
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	g.mock.ServeHTTP(w, r)
}

// bigBodyConfig has two Claude credentials behind the gate, session
// affinity on, and a memory budget so small that every body is spooled.
func bigBodyConfig(upstream, spoolDir string) string {
	return `
		client_key ` + clientKey + ` alice
		session_affinity on
		body_memory 1KiB
		body_spool_dir ` + spoolDir + `
		credential claude-a {
			provider claude
			api_key ` + claudeKeyA + `
			base_url ` + upstream + `
		}
		credential claude-b {
			provider claude
			api_key ` + claudeKeyB + `
			base_url ` + upstream + `
		}
`
}

// startBigBodyGateway starts a gateway of bigBodyConfig, with extra
// subdirectives, and returns its gate and spool directory.
func startBigBodyGateway(t *testing.T, extra string) (*gate, *gateway, string) {
	up, upURL := newGate(t)
	spool := t.TempDir()
	return up, startGateway(t, gatewayOptions{Handler: bigBodyConfig(upURL, spool) + extra}), spool
}

// bigBody is a Claude Code request of about size bytes, model first.
func bigBody(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[`)
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"role":"user","content":"turn %d \"quoted\" %s"}`, i, strings.Repeat("lorem ipsum ", 150))
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

const ccSession = "0f6d7a3e-4c1b-4d0e-9a6b-7e2f1c3d5a9b"

// sessionHeader is Claude Code's request header, naming its session.
func sessionHeader() http.Header {
	h := claudeCodeHeader()
	h.Set("X-Claude-Code-Session-Id", ccSession)
	return h
}

// slowClient sends a request whose body it writes when the test says.
type slowClient struct {
	pw  *io.PipeWriter
	res chan *http.Response
	err chan error
}

func startSlowClient(t *testing.T, g *gateway, header http.Header, declared int) *slowClient {
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, g.url("/v1/messages"), pr)
	require.NoError(t, err)
	req.Header = header
	req.ContentLength = int64(declared)
	c := &slowClient{pw: pw, res: make(chan *http.Response, 1), err: make(chan error, 1)}
	go func() {
		res, err := g.tester.Client.Do(req)
		if err != nil {
			c.err <- err
			return
		}
		c.res <- res
	}()
	t.Cleanup(func() { _ = pw.Close() })
	return c
}

func (c *slowClient) response(t *testing.T) (*http.Response, string) {
	t.Helper()
	select {
	case res := <-c.res:
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res, string(body)
	case err := <-c.err:
		t.Fatalf("request failed: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no response")
	}
	return nil, ""
}

// arrivedWithin reports the upstream key of the next request to arrive
// upstream within d, "" if none did.
func (g *gate) arrivedWithin(d time.Duration) string {
	select {
	case key := <-g.arrived:
		return key
	case <-time.After(d):
		return ""
	}
}

// spoolFiles lists the spool files in dir.
func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := spooltest.Files(dir)
	require.NoError(t, err)
	return files
}

// noSpoolFileLeft waits for dir to hold no spool file.
func noSpoolFileLeft(t *testing.T, dir string) {
	t.Helper()
	assert.Eventually(t, func() bool { return len(spoolFiles(t, dir)) == 0 }, 10*time.Second, 20*time.Millisecond, "a spool file outlived its request")
}

// answeredFromOneUpstreamRequest checks that the client got 200 and that
// the mock saw one request, with body byte for byte, and returns it.
func answeredFromOneUpstreamRequest(t *testing.T, c *slowClient, up *gate, body []byte) mockupstream.Recorded {
	t.Helper()
	res, out := c.response(t)
	require.Equal(t, http.StatusOK, res.StatusCode, out)
	reqs := up.mock.Requests()
	require.Len(t, reqs, 1)
	assert.True(t, bytes.Equal(body, reqs[0].Body), "the upstream got %d bytes that are not the body of %d", len(reqs[0].Body), len(body))
	return reqs[0]
}

// The first attempt reaches the upstream while the client is still
// uploading (the start named the model, the session is in Claude Code's
// header); without the session header, with affinity on, the body is read
// whole first.
func TestUpstreamGetsTheRequestWhileTheClientUploads(t *testing.T) {
	up, g, spool := startBigBodyGateway(t, "")
	body := bigBody(1 << 20)
	start, rest := body[:32<<10], body[32<<10:]

	t.Run("session in the header", func(t *testing.T) {
		header := sessionHeader()
		c := startSlowClient(t, g, header, len(body))
		_, err := c.pw.Write(start)
		require.NoError(t, err)
		require.NotEmpty(t, up.arrivedWithin(10*time.Second), "the upstream saw nothing before the client's last chunk")
		_, err = c.pw.Write(rest)
		require.NoError(t, err)
		require.NoError(t, c.pw.Close())
		answeredFromOneUpstreamRequest(t, c, up, body)
		noSpoolFileLeft(t, spool)
	})

	t.Run("session in the body", func(t *testing.T) {
		up.mock.Reset()
		c := startSlowClient(t, g, anthropicHeader(), len(body))
		_, err := c.pw.Write(start)
		require.NoError(t, err)
		assert.Empty(t, up.arrivedWithin(500*time.Millisecond), "the request went upstream before the body that names its session arrived")
		_, err = c.pw.Write(rest)
		require.NoError(t, err)
		require.NoError(t, c.pw.Close())
		answeredFromOneUpstreamRequest(t, c, up, body)
		require.NotEmpty(t, up.arrivedWithin(time.Second))
		noSpoolFileLeft(t, spool)
	})
}

// A spooled body whose first attempt the upstream refused before reading
// it (while the client was still uploading) is replayed byte for byte to
// the next credential, once the rest has arrived.
func TestSpooledBodyFailsOverByteIdentical(t *testing.T) {
	up, g, spool := startBigBodyGateway(t, "")
	body := bigBody(1 << 20)
	up.early.Store(1)

	header := sessionHeader()
	c := startSlowClient(t, g, header, len(body))
	_, err := c.pw.Write(body[:64<<10])
	require.NoError(t, err)
	first := up.arrivedWithin(10 * time.Second)
	require.NotEmpty(t, first, "the first attempt did not start while the client uploaded")
	assert.Len(t, spoolFiles(t, spool), 1, "a body over body_memory is not spooled")
	_, err = c.pw.Write(body[64<<10:])
	require.NoError(t, err)
	require.NoError(t, c.pw.Close())

	// the refused attempt never reached the mock: its one request is the replay
	replay := answeredFromOneUpstreamRequest(t, c, up, body)
	second := up.arrivedWithin(time.Second)
	assert.NotEqual(t, first, second, "the replay went to the credential that refused")
	assert.Equal(t, second, replay.Key)
	noSpoolFileLeft(t, spool)
}

// A spool file is private (0600), holds the body, and is gone when the
// request ends; a client that goes away mid-upload leaves none either.
func TestSpoolFileIsPrivateAndGoesWithItsRequest(t *testing.T) {
	up, g, spool := startBigBodyGateway(t, "")
	body := bigBody(1 << 20)

	t.Run("answered", func(t *testing.T) {
		up.holding.Store(true)
		defer up.holding.Store(false)
		done := make(chan string, 1)
		go func() {
			res, out := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), string(body))
			done <- fmt.Sprint(res.StatusCode, " ", out[:min(len(out), 200)])
		}()
		select {
		case <-up.held:
		case <-time.After(10 * time.Second):
			t.Fatal("the request did not reach the upstream")
		}
		files := spoolFiles(t, spool)
		require.Len(t, files, 1)
		fi, err := os.Stat(files[0])
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
		assert.Equal(t, int64(len(body)), fi.Size())
		close(up.release)
		assert.True(t, strings.HasPrefix(<-done, "200 "))
		noSpoolFileLeft(t, spool)
	})

	t.Run("client gone mid-upload", func(t *testing.T) {
		conn, err := net.Dial("tcp", fmt.Sprintf("localhost:%d", gatewayPort))
		require.NoError(t, err)
		_, err = fmt.Fprintf(conn, "POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nX-Api-Key: %s\r\n"+
			"Anthropic-Version: 2023-06-01\r\nContent-Type: application/json\r\nX-Claude-Code-Session-Id: %s\r\n"+
			"Content-Length: %d\r\n\r\n", clientKey, ccSession, len(body))
		require.NoError(t, err)
		_, err = conn.Write(body[:200<<10])
		require.NoError(t, err)
		require.NotEmpty(t, up.arrivedWithin(10*time.Second))
		require.Eventually(t, func() bool { return len(spoolFiles(t, spool)) == 1 }, 5*time.Second, 10*time.Millisecond, "the body being uploaded is not spooled")
		require.NoError(t, conn.Close())
		noSpoolFileLeft(t, spool)
	})
}

// The request log shows a spooled body, here one that failed over after
// the client finished uploading it.
func TestSpooledBodyIsRequestLogged(t *testing.T) {
	up, g, spool := startBigBodyGateway(t, "\t\trequest_log all\n\t\trequest_log_max_body 4KiB\n")
	body := bigBody(300 << 10)
	up.early.Store(1)
	header := sessionHeader()
	res, out := g.do(http.MethodPost, "/v1/messages", header, string(body))
	require.Equal(t, http.StatusOK, res.StatusCode, out)

	var logs []gjson.Result
	require.Eventually(t, func() bool { logs = requestLogs(t, g.reqLogDir); return len(logs) == 1 }, 5*time.Second, 10*time.Millisecond)
	l := logs[0]
	assert.Equal(t, int64(len(body)), l.Get("request_body.size").Int())
	assert.True(t, l.Get("request_body.truncated").Bool())
	assert.True(t, strings.HasPrefix(string(body), l.Get("request_body.text").String()), "the logged body is not the start of the body sent")
	assert.Len(t, l.Get("request_body.text").String(), 4<<10)
	assert.Len(t, l.Get("attempts").Array(), 2)
	noSpoolFileLeft(t, spool)
}

// The upstream of an attempt that gets its body as it arrives answers only
// once it has the body: first_event_timeout and stream_header_timeout
// count from the last byte sent, not from the start of a slow upload, and
// the stream-header bound holds for such an attempt too.
func TestAttemptClockStartsWhenTheUploadEnds(t *testing.T) {
	body := bigBody(1 << 20)

	t.Run("slow upload", func(t *testing.T) {
		// the bounds leave the upstream seconds to answer once it has the
		// body, as two suites on two cores need; the upload outlasts them
		up, g, _ := startBigBodyGateway(t, "\t\tfirst_event_timeout 4s\n\t\tstream_header_timeout 4s\n")
		c := startSlowClient(t, g, sessionHeader(), len(body))
		for off := 0; off < len(body); off += 64 << 10 {
			_, err := c.pw.Write(body[off:min(off+64<<10, len(body))])
			require.NoError(t, err)
			time.Sleep(400 * time.Millisecond) // the upload takes over 6 s
		}
		require.NoError(t, c.pw.Close())
		answeredFromOneUpstreamRequest(t, c, up, body)
		assert.Len(t, up.arrived, 1, "the first attempt was given up during the upload and the body replayed")
	})

	t.Run("no headers after the upload", func(t *testing.T) {
		up, g, _ := startBigBodyGateway(t, "\t\tfirst_event_timeout 6s\n\t\tstream_header_timeout 300ms\n")
		up.holding.Store(true)
		// the held answers go once the test is over, pass or fail, so the
		// upstream can close
		t.Cleanup(func() { close(up.release) })
		c := startSlowClient(t, g, sessionHeader(), len(body))
		_, err := c.pw.Write(body)
		require.NoError(t, err)
		require.NoError(t, c.pw.Close())
		start := time.Now()
		// both credentials hold their answers: each attempt is given up at
		// the stream-header bound once it has sent the body (one may be
		// given up before the upstream read it all, on a loaded machine)
		res, out := c.response(t)
		assert.Less(t, time.Since(start), 4*time.Second, "an attempt waited for first_event_timeout, not stream_header_timeout")
		assert.NotEmpty(t, up.held, "no attempt reached the upstream with its body")
		assert.GreaterOrEqual(t, res.StatusCode, 500, out)
	})
}
