package integration

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// requestLogs returns the request log files in dir, oldest first, parsed.
func requestLogs(t *testing.T, dir string) []gjson.Result {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") { // not a file being written
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out []gjson.Result
	for _, n := range names {
		raw, err := os.ReadFile(filepath.Join(dir, n))
		if errors.Is(err, fs.ErrNotExist) {
			continue // the file cap removed it since the listing
		}
		require.NoError(t, err)
		require.True(t, gjson.ValidBytes(raw), "%s: %s", n, raw)
		out = append(out, gjson.ParseBytes(raw))
	}
	return out
}

// In the default errors mode, a request that succeeds (even after a
// failover) leaves no file; one that fails leaves one file with what was
// asked, the attempts and the error's body, and no secret anywhere.
func TestRequestLogKeepsFailuresWithoutSecrets(t *testing.T) {
	dir := t.TempDir()
	g := startGateway(t, gatewayOptions{Handler: poolConfig + "\t\tstrategy fill-first\n\t\trequest_log_dir " + dir + "\n"})

	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	g.mock.SetFault(claudeKeyA, mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1", Times: 1})
	res, body = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Empty(t, requestLogs(t, dir), "a request that succeeded was logged")

	// both credentials fail; the upstream's error echoes its key, as some do
	echo := `{"type":"error","error":{"type":"api_error","message":"internal error for key ` + claudeKeyB + `"}}`
	g.mock.SetFault("*", mockupstream.Fault{Status: http.StatusInternalServerError, Body: echo})
	header := anthropicHeader()
	header.Set("Cookie", "gw_session=cookie-secret")
	header.Set("X-Trace", "trace-1")
	// another model: claude-a still rests from the failover for this one
	opusBody := strings.Replace(claudeBody, "claude-sonnet-4-5", "claude-opus-4-1", 1)
	res, body = g.do(http.MethodPost, "/v1/messages?beta=true", header, opusBody)
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, body)

	var logs []gjson.Result
	require.Eventually(t, func() bool { logs = requestLogs(t, dir); return len(logs) == 1 }, 5*time.Second, 10*time.Millisecond)
	l := logs[0]
	assert.Equal(t, "POST", l.Get("method").String())
	assert.Equal(t, "/v1/messages", l.Get("path").String())
	assert.Equal(t, "beta=true", l.Get("query").String())
	assert.Equal(t, "alice", l.Get("client").String())
	assert.Equal(t, "claude-opus-4-1", l.Get("model").String())
	assert.Equal(t, int64(503), l.Get("status").Int())
	assert.Contains(t, l.Get("error").String(), "auth_unavailable")
	assert.Positive(t, l.Get("latency_ms").Float())
	assert.Equal(t, "REDACTED", l.Get("request_headers.X-Api-Key.0").String())
	assert.Equal(t, "REDACTED", l.Get("request_headers.Cookie.0").String())
	assert.Equal(t, "trace-1", l.Get("request_headers.X-Trace.0").String())
	assert.JSONEq(t, opusBody, l.Get("request_body.json").Raw)
	attempts := l.Get("attempts").Array()
	require.Len(t, attempts, 2)
	names := []string{attempts[0].Get("credential").String(), attempts[1].Get("credential").String()}
	assert.ElementsMatch(t, []string{"claude-a", "claude-b"}, names)
	for _, a := range attempts {
		assert.Equal(t, int64(500), a.Get("status").Int())
		assert.Equal(t, "claude", a.Get("provider").String())
		assert.Positive(t, a.Get("duration_ms").Float())
		// what the client was spared is in the log, without the key
		assert.Equal(t, "internal error for key REDACTED", a.Get("body.json.error.message").String(), a.Raw)
	}
	assert.Equal(t, "application/json", l.Get("response_headers.Content-Type.0").String())
	assert.False(t, l.Get("response_body").Exists(), "the gateway's own answer is in error")

	// a Gemini key in the query, and the gateway's own refusal
	g.mock.ClearFaults()
	g.mock.SetFault("*", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "30"})
	res, body = g.do(http.MethodPost, "/v1beta/models/gemini-2.5-pro:generateContent?key="+clientKey, hdr("Content-Type", "application/json"), `{"contents":[{"parts":[{"text":"hi"}]}]}`)
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, body)
	res, body = g.do(http.MethodPost, "/v1beta/models/gemini-2.5-pro:generateContent?key="+clientKey, hdr("Content-Type", "application/json"), `{"contents":[{"parts":[{"text":"hi"}]}]}`)
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, body)
	require.Eventually(t, func() bool { logs = requestLogs(t, dir); return len(logs) == 3 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, "key=REDACTED", logs[1].Get("query").String())
	assert.Len(t, logs[1].Get("attempts").Array(), 2, "both gemini credentials were tried")
	assert.Empty(t, logs[2].Get("attempts").Array(), "every credential was cooling")
	assert.Contains(t, logs[2].Get("error").String(), "model_cooldown")

	// the client's own fault goes to it as the upstream sent it: the log
	// keeps the body the client got, and the request's
	g.mock.SetFault(openAIKey, mockupstream.Fault{Status: http.StatusBadRequest})
	res, body = g.do(http.MethodPost, "/v1/chat/completions", bearer(), `{"model":"gpt-5","messages":[{"role":"user","content":"bad"}]}`)
	require.Equal(t, http.StatusBadRequest, res.StatusCode, body)
	require.Eventually(t, func() bool { logs = requestLogs(t, dir); return len(logs) == 4 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, int64(400), logs[3].Get("status").Int())
	assert.Equal(t, "bad", logs[3].Get("request_body.json.messages.0.content").String())
	assert.JSONEq(t, body, logs[3].Get("response_body.json").Raw)
	assert.Equal(t, int64(400), logs[3].Get("attempts.0.status").Int())

	assertNoSecretInDir(t, dir)
}

// assertNoSecretInDir reads every file of dir for a client or upstream
// secret.
func assertNoSecretInDir(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		// the file cap may remove an old file since the listing
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), e.Name())
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		for _, secret := range append(upstreamKeys, clientKey, "cookie-secret") {
			assert.NotContains(t, string(raw), secret, e.Name())
		}
	}
}

// request_log all logs successes too, without their response body; the
// file cap holds; off writes nothing.
func TestRequestLogModesAndCaps(t *testing.T) {
	dir := t.TempDir()
	g := startGateway(t, gatewayOptions{Handler: poolConfig + "\t\trequest_log all\n\t\trequest_log_max_files 3\n\t\trequest_log_dir " + dir + "\n"})
	res, body := g.do(http.MethodPost, "/v1/chat/completions", bearer(), `{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	var logs []gjson.Result
	require.Eventually(t, func() bool { logs = requestLogs(t, dir); return len(logs) == 1 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, int64(200), logs[0].Get("status").Int())
	assert.Equal(t, "openai-a", logs[0].Get("attempts.0.credential").String())
	assert.Equal(t, int64(200), logs[0].Get("attempts.0.status").Int())
	assert.Positive(t, logs[0].Get("first_byte_ms").Float())
	assert.False(t, logs[0].Get("response_body").Exists(), "a success's body was captured")
	assert.True(t, logs[0].Get("request_body").Exists())

	for range 4 {
		res, body = g.do(http.MethodPost, "/v1/chat/completions", bearer(), `{"model":"gpt-5","messages":[{"role":"user","content":"again"}]}`)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
	}
	require.Eventually(t, func() bool {
		logs = requestLogs(t, dir)
		return len(logs) == 3 && strings.Contains(logs[2].Get("request_body.json.messages.0.content").String(), "again")
	}, 5*time.Second, 10*time.Millisecond)
	for _, l := range logs {
		assert.Equal(t, "again", l.Get("request_body.json.messages.0.content").String(), "the oldest file was not the one deleted")
	}
	assertNoSecretInDir(t, dir)

	off := t.TempDir()
	g.reload(gatewayOptions{Handler: poolConfig + "\t\trequest_log off\n\t\trequest_log_dir " + off + "\n"})
	g.mock.SetFault("*", mockupstream.Fault{Status: http.StatusInternalServerError})
	events := len(g.usageEvents())
	res, body = g.do(http.MethodPost, "/v1/chat/completions", bearer(), `{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, body)
	// the usage event is logged after the request log would be written
	require.Eventually(t, func() bool { return len(g.usageEvents()) > events }, 5*time.Second, 10*time.Millisecond)
	assert.Empty(t, requestLogs(t, off))
	assert.Len(t, requestLogs(t, dir), 3, "request_log off wrote into the old directory")
}

// A stream the upstream resets after its answer began cannot fail over;
// the client sees it end badly, and the gateway records the request as
// failed: a usage event of status 502 and a request log file that says the
// answer broke off.
func TestBrokenStreamIsRecordedAsFailed(t *testing.T) {
	dir := t.TempDir()
	g := startGateway(t, gatewayOptions{Handler: poolConfig + "\t\tstrategy fill-first\n\t\trequest_log_dir " + dir + "\n"})
	g.mock.SetFault(claudeKeyA, mockupstream.Fault{ResetAfter: 2, EventDelay: 10 * time.Millisecond})
	g.brokenStream()

	var events []gjson.Result
	require.Eventually(t, func() bool { events = g.usageEvents(); return len(events) == 1 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, int64(http.StatusBadGateway), events[0].Get("status").Int(), events[0].Raw)
	assert.Equal(t, "claude-a", events[0].Get("credential").String())

	var logs []gjson.Result
	require.Eventually(t, func() bool { logs = requestLogs(t, dir); return len(logs) == 1 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, int64(http.StatusBadGateway), logs[0].Get("status").Int(), logs[0].Raw)
	assert.Contains(t, logs[0].Get("error").String(), "stream_broke_off")
	assert.Equal(t, "claude-a", logs[0].Get("attempts.0.credential").String())
	assert.Equal(t, int64(200), logs[0].Get("attempts.0.status").Int())
	assertNoSecretInDir(t, dir)
}
