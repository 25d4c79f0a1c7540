package integration

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
	"github.com/caddy-cliproxy/cliproxy/internal/redistest"
	"github.com/caddy-cliproxy/cliproxy/internal/testutil"
)

const respMgmtKey = "mgmt-key-telemetry-0123"

// respPool has two Claude credentials on the mock and a management key,
// with which collectors authenticate.
const respPool = `
		client_key ` + clientKey + ` alice
		max_attempts 2
		strategy fill-first
		management {
			key ` + respMgmtKey + `
		}
		credential resp-a {
			provider claude
			api_key ` + claudeKeyA + `
			base_url MOCK
		}
		credential resp-b {
			provider claude
			api_key ` + claudeKeyB + `
			base_url MOCK
			priority -1
		}
`

// respServer wraps the gateway's listener with the RESP wrapper.
const respServer = `listener_wrappers {
		cliproxy_resp
	}`

// collector is a go-redis client on the gateway's own port.
func collector(t *testing.T, password string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", gatewayPort), Password: password, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

func assertNoSecretInRecord(t *testing.T, s string) {
	t.Helper()
	for _, secret := range append(upstreamKeys, clientKey, respMgmtKey) {
		assert.NotContains(t, s, secret)
	}
}

// One port serves HTTP and RESP at once: a collector authenticates with
// the management key and pops the record of a request just served, in the
// seed's field names and without a secret.
func TestRESPAndHTTPOnOnePort(t *testing.T) {
	g := startGateway(t, gatewayOptions{Server: respServer, Handler: respPool})
	ctx := context.Background()

	err := collector(t, "").LPop(ctx, "usage").Err()
	require.Error(t, err)
	assert.Equal(t, "NOAUTH Authentication required.", err.Error())
	err = collector(t, "not-the-key").LPop(ctx, "usage").Err()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "WRONGPASS")
	err = collector(t, clientKey).LPop(ctx, "usage").Err()
	require.Error(t, err, "a client key is no management key")

	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	c := collector(t, respMgmtKey)
	rec, err := c.LPop(ctx, "usage").Result()
	require.NoError(t, err)
	r := gjson.Parse(rec)
	start, err := time.Parse(time.RFC3339, r.Get("timestamp").String())
	require.NoError(t, err, rec)
	assert.WithinDuration(t, time.Now(), start, time.Minute)
	assert.Equal(t, "claude", r.Get("provider").String(), rec)
	assert.Equal(t, "claude-sonnet-4-5", r.Get("model").String())
	assert.Equal(t, "/v1/messages", r.Get("endpoint").String())
	assert.Equal(t, "api_key", r.Get("auth_type").String())
	assert.Equal(t, "resp-a", r.Get("auth_index").String())
	assert.Equal(t, "alice", r.Get("client").String())
	assert.NotEmpty(t, r.Get("request_id").String())
	assert.False(t, r.Get("failed").Bool())
	assert.False(t, r.Get("fail").Exists())
	assert.True(t, r.Get("latency_ms").Exists())
	assert.True(t, r.Get("ttft_ms").Exists())
	in := lastWith(t, body, "message.usage").Get("message.usage.input_tokens").Int()
	out := lastWith(t, body, "usage.output_tokens").Get("usage.output_tokens").Int()
	require.Positive(t, in)
	assert.Equal(t, in, r.Get("tokens.input").Int())
	assert.Equal(t, out, r.Get("tokens.output").Int())
	for _, k := range []string{"reasoning", "cached", "cache_read", "cache_creation", "total"} {
		assert.True(t, r.Get("tokens."+k).Exists(), k)
	}
	assert.GreaterOrEqual(t, r.Get("tokens.total").Int(), in+out)
	assertNoSecretInRecord(t, rec)
	assert.ErrorIs(t, c.LPop(ctx, "usage").Err(), redis.Nil, "popped once")

	// HTTP goes on working beside a RESP connection held open
	res, body = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.Equal(t, "PONG", c.Ping(ctx).Val())

	// the HTTP twin pops the same queue, on the admin endpoint and the site
	res, body = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), strings.Replace(claudeBody, "claude-sonnet-4-5", "claude-opus-4-1", 1))
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	status, got, _ := g.adminAPI().call(http.MethodGet, "usage-queue?count=5", "")
	require.Equal(t, http.StatusOK, status, got.Raw)
	require.Len(t, got.Array(), 2, got.Raw)
	assert.Equal(t, "claude-sonnet-4-5", got.Array()[0].Get("model").String(), "oldest first")
	assert.Equal(t, "claude-opus-4-1", got.Array()[1].Get("model").String())
	assertNoSecretInRecord(t, got.Raw)
	g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	status, got, _ = g.siteAPI(hdr("Authorization", "Bearer "+respMgmtKey)).call(http.MethodGet, "usage-queue", "")
	require.Equal(t, http.StatusOK, status, got.Raw)
	assert.Len(t, got.Array(), 1)
	status, got, _ = g.adminAPI().call(http.MethodGet, "usage-queue?count=5", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "[]", strings.TrimSpace(got.Raw), "drained")
	status, _, _ = g.adminAPI().call(http.MethodGet, "usage-queue?count=0", "")
	assert.Equal(t, http.StatusBadRequest, status)
}

// The real redis-cli reads the queue as a collector script would.
func TestRESPWithRedisCLIThroughCaddy(t *testing.T) {
	cli := redistest.CLI(t)
	g := startGateway(t, gatewayOptions{Server: respServer, Handler: respPool})
	for range 3 {
		res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(cli, append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(gatewayPort), "--no-auth-warning"}, args...)...).CombinedOutput()
		require.NoError(t, err, string(out))
		return strings.TrimSpace(string(out))
	}
	assert.Equal(t, "NOAUTH Authentication required.", run("LPOP", "usage"))
	assert.Contains(t, run("-a", "wrong", "RPOP", "usage"), "WRONGPASS")
	first := run("-a", respMgmtKey, "RPOP", "usage")
	assert.Equal(t, "resp-a", gjson.Get(first, "auth_index").String(), first)
	rest := strings.Split(run("-a", respMgmtKey, "LPOP", "usage", "10"), "\n")
	require.Len(t, rest, 2)
	assert.LessOrEqual(t, gjson.Get(first, "timestamp").String(), gjson.Get(rest[0], "timestamp").String(), "RPOP popped the oldest")
	assert.Equal(t, "ERR unknown command 'KEYS'", run("-a", respMgmtKey, "KEYS", "*"))
}

// A collector that keeps guessing is locked out, and so is the address on
// the management API: it is one lockout.
func TestRESPSharesTheManagementLockout(t *testing.T) {
	g := startGateway(t, gatewayOptions{Server: respServer, Handler: respPool})
	ctx := context.Background()
	var last error
	for range 6 {
		last = collector(t, "guess").Ping(ctx).Err()
	}
	require.Error(t, last)
	assert.Contains(t, last.Error(), "too many failed attempts")
	err := collector(t, respMgmtKey).Ping(ctx).Err()
	require.Error(t, err, "locked out even with the right key")
	status, got, _ := g.siteAPI(hdr("Authorization", "Bearer "+respMgmtKey)).call(http.MethodGet, "credentials", "")
	assert.Equal(t, http.StatusForbidden, status, got.Raw)
	assert.Equal(t, "locked_out", got.Get("code").String())
}

// A subscriber sees the refresh notice, then live: an error event for the
// attempt that failed over and the usage record of the request.
func TestRESPSubscribeSeesALiveRequest(t *testing.T) {
	g := startGateway(t, gatewayOptions{Server: respServer, Handler: respPool})
	ctx := context.Background()
	ps := collector(t, respMgmtKey).Subscribe(ctx, "usage", "errors")
	defer ps.Close()
	msgs := ps.Channel()
	next := func() *redis.Message {
		t.Helper()
		select {
		case m := <-msgs:
			return m
		case <-time.After(10 * time.Second):
			t.Fatal("no message")
			return nil
		}
	}
	assert.Equal(t, `{"support_refresh":true}`, next().Payload)

	g.mock.SetFault(claudeKeyA, mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "120", Times: 1})
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)

	errEv := next()
	require.Equal(t, "errors", errEv.Channel, errEv.Payload)
	e := gjson.Parse(errEv.Payload)
	assert.Equal(t, "resp-a", e.Get("auth_index").String(), errEv.Payload)
	assert.Equal(t, "claude", e.Get("provider").String())
	assert.Equal(t, "claude-sonnet-4-5", e.Get("model").String())
	assert.EqualValues(t, 429, e.Get("status_code").Int())
	assert.True(t, e.Get("retryable").Bool())
	assert.Equal(t, "cooldown", e.Get("auth_status.status").String())
	assert.True(t, e.Get("auth_status.unavailable").Bool())
	back, err := time.Parse(time.RFC3339, e.Get("auth_status.next_retry_after").String())
	require.NoError(t, err, errEv.Payload)
	assert.WithinDuration(t, time.Now().Add(2*time.Minute), back, 10*time.Second)
	assertNoSecretInRecord(t, errEv.Payload)

	use := next()
	require.Equal(t, "usage", use.Channel, use.Payload)
	assert.Equal(t, "resp-b", gjson.Get(use.Payload, "auth_index").String(), use.Payload)
	assert.EqualValues(t, 2, gjson.Get(use.Payload, "attempts").Int())
	assertNoSecretInRecord(t, use.Payload)

	// a request the gateway answers itself is a failed record
	g.mock.SetFault("*", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "60", Times: 2})
	res, _ = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), `{"model":"claude-opus-4-1","max_tokens":8,"messages":[{"role":"user","content":"x"}]}`)
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	for {
		m := next()
		if m.Channel != "usage" {
			continue
		}
		assert.True(t, gjson.Get(m.Payload, "failed").Bool(), m.Payload)
		assert.EqualValues(t, 429, gjson.Get(m.Payload, "fail.status_code").Int())
		break
	}
}

// Records wait for the retention, then are dropped and counted.
func TestUsageQueueRetention(t *testing.T) {
	g := startGateway(t, gatewayOptions{Server: respServer, Handler: respPool + "\t\tusage_queue_retention 1s\n"})
	for range 2 {
		res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
	}
	s := g.scrape()
	assert.EqualValues(t, 2, s.value("caddy_cliproxy_usage_queue_records", "pool", g.pool))
	assert.Zero(t, s.value("caddy_cliproxy_usage_records_dropped_total", "pool", g.pool))
	time.Sleep(1200 * time.Millisecond)
	assert.ErrorIs(t, collector(t, respMgmtKey).LPop(context.Background(), "usage").Err(), redis.Nil, "expired")
	s = g.scrape()
	assert.EqualValues(t, 2, s.value("caddy_cliproxy_usage_records_dropped_total", "pool", g.pool))
	assert.Zero(t, s.value("caddy_cliproxy_usage_queue_records", "pool", g.pool))
}

// Every WebSocket turn is a record of its own.
func TestWebSocketTurnsMakeOneRecordEach(t *testing.T) {
	g := startGateway(t, gatewayOptions{Server: respServer, Handler: wsPool + `
		management {
			key ` + respMgmtKey + `
		}`})
	conn := g.mustDialWS(codexHeader("resp-ws-session"))
	for _, input := range []string{"first", "second"} {
		sendWS(t, conn, turnMsg("gpt-5-codex", input, ""))
		readTurn(t, conn)
	}
	// a turn's record is written once its last event has gone to the
	// client, so the second may come a moment after readTurn returns
	var recs []string
	var popErr error
	c := collector(t, respMgmtKey)
	require.Eventually(t, func() bool {
		got, err := c.LPopCount(context.Background(), "usage", 10).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			popErr = err
			return true
		}
		recs = append(recs, got...)
		return len(recs) >= 2
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, popErr)
	require.Len(t, recs, 2)
	id1, id2 := gjson.Get(recs[0], "request_id").String(), gjson.Get(recs[1], "request_id").String()
	assert.True(t, strings.HasSuffix(id1, "-1") && strings.HasSuffix(id2, "-2"), "%s %s", id1, id2)
	for _, r := range recs {
		assert.Equal(t, "/v1/responses", gjson.Get(r, "endpoint").String(), r)
		assert.Equal(t, "openai", gjson.Get(r, "provider").String())
		assert.Positive(t, gjson.Get(r, "tokens.output").Int(), r)
		assertNoSecretInRecord(t, r)
	}
}

// tlsConfig serves two TLS sites of one pool: RESP before tls on one port
// (plain RESP), after tls on the other (RESP over TLS; wrappers go after
// tls unless tls is named). The sites echo the scheme Caddy saw.
func tlsConfig(mockURL string, before, after int) string {
	return fmt.Sprintf(`{
	admin %s
	local_certs
	skip_install_trust
	auto_https disable_redirects
	servers :%d {
		listener_wrappers {
			cliproxy_resp
			tls
		}
	}
	servers :%d {
		listener_wrappers {
			cliproxy_resp
		}
	}
}
https://localhost:%d, https://localhost:%d {
	tls internal
	header X-Scheme {http.request.scheme}
	cliproxy {
		pool resp-tls
		client_key %s alice
		management {
			key %s
		}
		credential tls-a {
			provider claude
			api_key %s
			base_url %s
		}
	}
}
`, adminAddr, before, after, before, after, clientKey, respMgmtKey, claudeKeyA, mockURL)
}

// HTTP/2 over TLS and RESP share one port, before and after tls; a client
// that sends nothing holds nobody back.
func TestRESPWithTLSAndHTTP2OnOnePort(t *testing.T) {
	mock := mockupstream.New()
	srv := newMockServer(t, mock)
	before, after := testutil.Port(t), testutil.Port(t)
	tester := caddytest.NewTester(t)
	tester.InitServer(tlsConfig(srv, before, after), "caddyfile")
	ctx := context.Background()

	// far shorter than the 10 s a silent client may take to speak first
	h2 := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true,
	}}
	// the internal CA issues the sites' certificates in the background
	require.Eventually(t, func() bool {
		for _, port := range []int{before, after} {
			c, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{InsecureSkipVerify: true, ServerName: "localhost", NextProtos: []string{"h2"}})
			if err != nil {
				return false
			}
			c.Close()
		}
		return true
	}, 30*time.Second, 100*time.Millisecond)
	// silent clients on both ports, before the others connect
	for _, port := range []int{before, after} {
		silent, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		require.NoError(t, err)
		defer silent.Close()
	}

	for _, port := range []int{before, after} {
		req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("https://localhost:%d/v1/messages", port), strings.NewReader(claudeBody))
		require.NoError(t, err)
		req.Header = anthropicHeader()
		res, err := h2.Do(req)
		require.NoError(t, err, "port %d", port)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode, string(b))
		assert.Equal(t, 2, res.ProtoMajor, "HTTP/2 over TLS is untouched (port %d)", port)
		assert.Equal(t, "https", res.Header.Get("X-Scheme"))
	}

	// plain RESP before tls
	plain := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", before), Password: respMgmtKey, MaxRetries: -1})
	defer plain.Close()
	rec, err := plain.LPop(ctx, "usage").Result()
	require.NoError(t, err)
	assert.Equal(t, "tls-a", gjson.Get(rec, "auth_index").String(), rec)

	// RESP over TLS after tls (no ALPN, as Redis clients do)
	overTLS := redis.NewClient(&redis.Options{
		Addr: fmt.Sprintf("127.0.0.1:%d", after), Password: respMgmtKey, MaxRetries: -1,
		TLSConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"},
	})
	defer overTLS.Close()
	rec, err = overTLS.LPop(ctx, "usage").Result()
	require.NoError(t, err)
	assert.Equal(t, "tls-a", gjson.Get(rec, "auth_index").String(), rec)
	plainAfter := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", after), Password: respMgmtKey, MaxRetries: -1})
	defer plainAfter.Close()
	assert.Error(t, plainAfter.Ping(ctx).Err(), "after tls, plain RESP is not served")

	// an HTTP/1.1 TLS client without ALPN is peeked, and still reads as HTTPS
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", after), &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"})
	require.NoError(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "GET /nothing HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n\r\n", after)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, "https", res.Header.Get("X-Scheme"))

	// the real redis-cli over TLS (last: it skips the test where redis-cli
	// is missing outside CI)
	cli := redistest.CLI(t)
	out, err := exec.Command(cli, "-h", "127.0.0.1", "-p", strconv.Itoa(after), "--tls", "--insecure", "--sni", "localhost",
		"--no-auth-warning", "-a", respMgmtKey, "PING").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, "PONG", strings.TrimSpace(string(out)), "redis-cli over TLS")
}

func newMockServer(t *testing.T, mock *mockupstream.Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: mock}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + l.Addr().String()
}

// The wrapper serves one pool: named, or the only one.
func TestRESPListenerNeedsOnePool(t *testing.T) {
	twoPools := func(wrapper string) string {
		return fmt.Sprintf(`{
	admin %s
	http_port %d
	servers {
		listener_wrappers {
			%s
		}
	}
}
:%d {
	route /a/* {
		cliproxy {
			pool one
			client_key k1 a
		}
	}
	cliproxy {
		pool two
		client_key k2 b
	}
}
`, adminAddr, gatewayPort, wrapper, gatewayPort)
	}
	caddytest.AssertLoadError(t, twoPools("cliproxy_resp"), "caddyfile", "the cliproxy handlers use several pools (one, two); name one")
	caddytest.AssertLoadError(t, twoPools("cliproxy_resp three"), "caddyfile", `no cliproxy handler uses pool \"three\"`)
	caddytest.AssertLoadError(t, twoPools("cliproxy_resp one two"), "caddyfile", "wrong argument count")
}
