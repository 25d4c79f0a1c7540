package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/internal/caddyproc"
	"github.com/caddy-cliproxy/cliproxy/internal/mockoauth"
	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
	"github.com/caddy-cliproxy/cliproxy/internal/redistest"
	"github.com/caddy-cliproxy/cliproxy/internal/testutil"
)

// These tests run two Caddy processes built from ./cmd/caddy, each on its
// own ports, sharing one real redis-server, in front of one mock upstream.
// Each test has its own of all of them, so they run in parallel: most of
// their time is spent waiting for processes.

const (
	clientKey  = "cluster-test-key"
	claudeBody = `{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hello cluster"}]}`
)

var caddyBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if caddyBin.dir != "" {
		os.RemoveAll(caddyBin.dir)
	}
	os.Exit(code)
}

// buildCaddy builds ./cmd/caddy once per test binary.
func buildCaddy(t *testing.T) string {
	t.Helper()
	caddyBin.once.Do(func() {
		caddyBin.dir, caddyBin.err = os.MkdirTemp("", "cliproxy-caddy-")
		if caddyBin.err != nil {
			return
		}
		caddyBin.path, caddyBin.err = testutil.BuildCaddy(caddyBin.dir)
	})
	require.NoError(t, caddyBin.err)
	return caddyBin.path
}

// caddyProc is one Caddy instance of the cluster.
type caddyProc struct {
	*caddyproc.Proc
	port, admin int
	log         string
}

// output is what the instance logged.
func (p *caddyProc) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// startCaddy runs an instance whose cliproxy block is handler.
func startCaddy(t *testing.T, handler string) *caddyProc {
	t.Helper()
	return startCaddyWith(t, "", handler)
}

// startCaddyWith is startCaddy with global options.
func startCaddyWith(t *testing.T, global, handler string) *caddyProc {
	t.Helper()
	home := t.TempDir()
	p := &caddyProc{log: filepath.Join(home, "caddy.log")}
	proc, err := caddyproc.Start(context.Background(), caddyproc.Config{
		Bin: buildCaddy(t), Dir: home, Name: "cluster", Log: p.log,
		Caddyfile: func(site, admin string) string {
			return fmt.Sprintf(`{
	admin %s
	auto_https off
	persist_config off
	storage file_system %s
%s
}
http://%s {
	cliproxy {
		client_key %s alice
%s
	}
}
`, admin, filepath.Join(home, "storage"), global, site, clientKey, handler)
		},
	})
	if err != nil {
		t.Fatalf("caddy did not start: %v\n%s", err, p.output())
	}
	t.Cleanup(proc.Stop)
	p.Proc, p.port, p.admin = proc, portOf(t, proc.Site), portOf(t, proc.Admin)
	return p
}

// portOf is the port of a base URL.
func portOf(t *testing.T, base string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	n, err := strconv.Atoi(port)
	require.NoError(t, err)
	return n
}

// send posts a Claude request, with a session ID when session is not "".
func (p *caddyProc) send(t *testing.T, session string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/v1/messages", p.port), strings.NewReader(claudeBody))
	require.NoError(t, err)
	req.Header.Set("X-Api-Key", clientKey)
	req.Header.Set("Anthropic-Version", "2023-06-01")
	req.Header.Set("Content-Type", "application/json")
	if session != "" {
		req.Header.Set("X-Session-ID", session)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// metric returns the value of the sample whose line starts with name, or
// "" when the admin endpoint has none.
func (p *caddyProc) metric(name string) string {
	res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", p.admin))
	if err != nil {
		return ""
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strings.TrimPrefix(line, name+" ")
		}
	}
	return ""
}

// apiKeyPool is a cliproxy block with credentials a and b at the mock.
func apiKeyPool(redisURL, mockURL, extra string) string {
	return fmt.Sprintf(`		pool shared
		state %s
		max_attempts 2
		credential a {
			provider claude
			api_key sk-cluster-a
			base_url %s
		}
		credential b {
			provider claude
			api_key sk-cluster-b
			base_url %s
		}
%s`, redisURL, mockURL, mockURL, extra)
}

func startMock(t *testing.T) (*mockupstream.Server, string) {
	t.Helper()
	mock := mockupstream.New()
	srv := httptest.NewServer(mock)
	t.Cleanup(srv.Close)
	return mock, srv.URL
}

func keysSince(mock *mockupstream.Server, n int) []string {
	var out []string
	for _, r := range mock.Requests()[n:] {
		out = append(out, r.Key)
	}
	return out
}

func TestInstancesShareACooldown(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	mock, mockURL := startMock(t)
	cfg := apiKeyPool(rs.URL(0), mockURL, "\t\tstrategy fill-first\n")
	a, b := startCaddy(t, cfg), startCaddy(t, cfg)

	// fill-first sends everything to a; a 429 with an hour's hint cools it
	mock.SetFault("sk-cluster-a", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "3600", Times: 1})
	status, body := a.send(t, "")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, []string{"sk-cluster-a", "sk-cluster-b"}, keysSince(mock, 0), "A fails over from a to b")

	time.Sleep(time.Second) // the change must be honoured within 1 s
	n := len(mock.Requests())
	for range 5 {
		status, body := b.send(t, "")
		require.Equal(t, http.StatusOK, status, body)
	}
	assert.Equal(t, []string{"sk-cluster-b", "sk-cluster-b", "sk-cluster-b", "sk-cluster-b", "sk-cluster-b"}, keysSince(mock, n),
		"B must honour the cooldown A recorded: a is never tried")
}

func TestInstancesShareSessionBindings(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	mock, mockURL := startMock(t)
	cfg := apiKeyPool(rs.URL(0), mockURL, "\t\tsession_affinity on\n")
	a, b := startCaddy(t, cfg), startCaddy(t, cfg)

	homes := map[string]bool{}
	for i := range 4 {
		session := "conversation-" + strconv.Itoa(i)
		n := len(mock.Requests())
		status, body := a.send(t, session)
		require.Equal(t, http.StatusOK, status, body)
		home := keysSince(mock, n)
		require.Len(t, home, 1)
		homes[home[0]] = true
		time.Sleep(time.Second) // the binding is honoured by B within 1 s
		for range 3 {
			status, body := b.send(t, session)
			require.Equal(t, http.StatusOK, status, body)
		}
		assert.Equal(t, []string{home[0], home[0], home[0], home[0]}, keysSince(mock, n),
			"session %s, bound through A, must be served by the same credential through B", session)
	}
	assert.Len(t, homes, 2, "round robin placed the sessions on both credentials, so B's answers are not its own choice")
}

func TestInstancesRefreshAnExpiringTokenOnce(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	mock, mockURL := startMock(t)
	token := mockoauth.New(mockoauth.Config{DetectReuse: true})
	ts := httptest.NewServer(token)
	t.Cleanup(ts.Close)

	// each instance has its own copy of the account's file, as two
	// machines would
	file := map[string]any{
		"type": "claude", "email": "alice@example.com",
		"access_token": "sk-ant-oat01-expiring", "refresh_token": "sk-ant-ort01-first",
		"expired":  time.Now().Add(time.Minute).UTC().Format(time.RFC3339),
		"base_url": mockURL,
		// the test's requests are not Claude Code's; this is about the
		// refresh, not about which client an account serves
		"oauth_clients": "any",
	}
	raw, err := json.Marshal(file)
	require.NoError(t, err)
	var dirs []string
	var procs []*caddyProc
	for range 2 {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "claude-alice.json"), raw, 0o600))
		dirs = append(dirs, dir)
		procs = append(procs, startCaddy(t, fmt.Sprintf(`		pool shared
		state %s
		auth_dir %s
		oauth_token_url claude %s/v1/oauth/token
`, rs.URL(0), dir, ts.URL)))
	}
	for _, p := range procs {
		status, body := p.send(t, "")
		require.Equal(t, http.StatusOK, status, "%s\n%s", body, p.output())
	}
	for i, dir := range dirs {
		require.Eventually(t, func() bool {
			b, err := os.ReadFile(filepath.Join(dir, "claude-alice.json"))
			return err == nil && gjson.GetBytes(b, "access_token").String() == "mock-access-1" &&
				gjson.GetBytes(b, "refresh_token").String() == "mock-refresh-1"
		}, 5*time.Second, 20*time.Millisecond, "instance %d's auth file must hold the refreshed token", i)
	}
	time.Sleep(500 * time.Millisecond)
	assert.Equal(t, 1, token.Refreshes(), "the expiring token must be refreshed exactly once for both instances")
	for _, r := range mock.Requests() {
		assert.Equal(t, "mock-access-1", r.Key, "both instances use the refreshed token")
	}
}

func TestInstancesServeThroughARedisOutage(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	_, mockURL := startMock(t)
	cfg := apiKeyPool(rs.URL(0), mockURL, "\t\tsession_affinity on\n")
	a, b := startCaddy(t, cfg), startCaddy(t, cfg)
	require.Eventually(t, func() bool { return a.metric(`caddy_cliproxy_redis_up{pool="shared"}`) == "1" }, 5*time.Second, 20*time.Millisecond)

	const total = 200
	var done, failed atomic.Int32
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				p := a
				if i%2 == 1 {
					p = b
				}
				status, body := p.send(t, "load-"+strconv.Itoa(i%20))
				if status != http.StatusOK {
					failed.Add(1)
					t.Errorf("request %d failed with %d: %s", i, status, body)
				}
				done.Add(1)
			}
		}()
	}
	killed := false
	for i := range total {
		if i == total/3 {
			rs.Stop() // a crash, in the middle of the load
			killed = true
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	require.True(t, killed)
	assert.EqualValues(t, total, done.Load())
	assert.Zero(t, failed.Load(), "no request may fail because Redis is down")

	for _, p := range []*caddyProc{a, b} {
		require.Eventually(t, func() bool { return p.metric(`caddy_cliproxy_redis_up{pool="shared"}`) == "0" }, 5*time.Second, 20*time.Millisecond)
		// one warning per outage; on a machine busy enough to time out a
		// call to Redis, an outage of its own (ended by a notice) may come
		// before the real one
		out := p.output()
		assert.Equal(t, strings.Count(out, "redis state reachable again")+1, strings.Count(out, "redis state unreachable"), "one warning per outage")
	}
	rs.Restart()
	for _, p := range []*caddyProc{a, b} {
		require.Eventually(t, func() bool { return p.metric(`caddy_cliproxy_redis_up{pool="shared"}`) == "1" }, 5*time.Second, 20*time.Millisecond,
			"the instances must find Redis again")
	}
	status, body := a.send(t, "after")
	require.Equal(t, http.StatusOK, status, body)
}

// A Redis that restarts empty, without persistence, loses no conversation:
// the instances write their bindings back, and every session goes on with
// its credential through either instance.
func TestInstancesKeepSessionsWhenRedisRestartsEmpty(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	mock, mockURL := startMock(t)
	cfg := apiKeyPool(rs.URL(0), mockURL, `		session_affinity on
		credential c {
			provider claude
			api_key sk-cluster-c
			base_url `+mockURL+`
		}
`)
	a, b := startCaddy(t, cfg), startCaddy(t, cfg)
	require.Eventually(t, func() bool { return a.metric(`caddy_cliproxy_redis_up{pool="shared"}`) == "1" }, 5*time.Second, 20*time.Millisecond)

	const sessions = 12
	home := map[string]string{}
	for i := range sessions {
		session := "restart-" + strconv.Itoa(i)
		p := []*caddyProc{a, b}[i%2]
		n := len(mock.Requests())
		status, body := p.send(t, session)
		require.Equal(t, http.StatusOK, status, body)
		keys := keysSince(mock, n)
		require.Len(t, keys, 1)
		home[session] = keys[0]
	}
	bound := func() int {
		out := rs.Do("KEYS", "cliproxy:shared:session:*")
		if out == "" {
			return 0
		}
		return len(strings.Split(out, "\n"))
	}
	require.Eventually(t, func() bool { return bound() == sessions }, 2*time.Second, 10*time.Millisecond)
	time.Sleep(time.Second) // both instances have heard of every binding

	rs.Restart() // a crash and a start without persistence
	require.Zero(t, bound())
	require.Eventually(t, func() bool { return bound() == sessions }, 5*time.Second, 20*time.Millisecond,
		"the instances must write their bindings back to the empty Redis")

	moved := 0
	for i := sessions - 1; i >= 0; i-- { // another order than the binding's, so rotation cannot hide a rebind
		session := "restart-" + strconv.Itoa(i)
		for _, p := range []*caddyProc{b, a} {
			n := len(mock.Requests())
			status, body := p.send(t, session)
			require.Equal(t, http.StatusOK, status, body)
			if keysSince(mock, n)[0] != home[session] {
				moved++
			}
		}
	}
	assert.Zero(t, moved, "no conversation may change credential because Redis restarted")
}

func TestInstancesEventsCanBeDrained(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	mock, mockURL := startMock(t)
	cfg := apiKeyPool(rs.URL(0), mockURL, "\t\tstrategy fill-first\n")
	a, b := startCaddy(t, cfg), startCaddy(t, cfg)
	errs := rs.Subscribe("errors")
	usage := rs.Subscribe("usage")

	mock.SetFault("sk-cluster-a", mockupstream.Fault{Status: http.StatusInternalServerError, Times: 1})
	for _, p := range []*caddyProc{a, b} {
		status, body := p.send(t, "")
		require.Equal(t, http.StatusOK, status, body)
		time.Sleep(time.Second) // B honours the cooldown of a within 1 s
	}
	require.Eventually(t, func() bool { return rs.Do("LLEN", "usage") == "2" }, 2*time.Second, 10*time.Millisecond)
	for range 2 {
		ev := rs.Do("LPOP", "usage")
		assert.Equal(t, "alice", gjson.Get(ev, "client").String(), ev)
		assert.Equal(t, "claude-sonnet-4-5", gjson.Get(ev, "model").String())
		assert.Equal(t, "b", gjson.Get(ev, "auth_index").String())
		assert.EqualValues(t, 200, gjson.Get(ev, "status").Int())
		assert.NotContains(t, ev, "sk-cluster", "no secret in an event")
		assert.NotContains(t, ev, clientKey)
	}
	assert.Equal(t, "(nil)", rs.Do("LPOP", "usage"), "drained")
	select {
	case ev := <-errs:
		assert.Equal(t, "a", gjson.Get(ev, "auth_index").String(), ev)
		assert.EqualValues(t, 500, gjson.Get(ev, "status_code").Int())
		assert.NotContains(t, ev, "sk-cluster")
	case <-time.After(2 * time.Second):
		t.Fatal("no event on the errors channel")
	}
	select {
	case ev := <-usage:
		assert.Equal(t, "alice", gjson.Get(ev, "client").String(), ev)
	case <-time.After(2 * time.Second):
		t.Fatal("no event on the usage channel")
	}
}

func TestInstancesTakeThePasswordFromTheEnvironment(t *testing.T) {
	// not parallel: its caddy inherits the test's environment
	const password = "s3cret-redis-pw"
	rs := redistest.StartWith(t, "--requirepass", password)
	_, mockURL := startMock(t)
	t.Setenv("CLIPROXY_TEST_REDIS_PASSWORD", password)
	url := fmt.Sprintf("redis://:{env.CLIPROXY_TEST_REDIS_PASSWORD}@%s/3", rs.Addr())
	a := startCaddy(t, apiKeyPool(url, mockURL, "\t\tsession_affinity on\n"))
	require.Eventually(t, func() bool { return a.metric(`caddy_cliproxy_redis_up{pool="shared"}`) == "1" }, 5*time.Second, 20*time.Millisecond,
		"the instance must log in with the password from its environment\n%s", a.output())
	status, body := a.send(t, "with-password")
	require.Equal(t, http.StatusOK, status, body)
	require.Eventually(t, func() bool {
		return strings.Contains(rs.DoIn(3, password, "KEYS", "cliproxy:shared:session:*"), "with-password")
	}, time.Second, 10*time.Millisecond, "the binding lands in database 3")
	assert.Equal(t, "", rs.DoIn(0, password, "KEYS", "cliproxy:*"), "nothing in database 0")
	assert.NotContains(t, a.output(), password, "the password never reaches a log")
	res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/config/", a.admin))
	require.NoError(t, err)
	cfg, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.NotContains(t, string(cfg), password, "the password stays out of the config")
}

func TestInstanceStartsAndServesWithoutRedis(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	rs.Stop() // nothing listens on its port now
	_, mockURL := startMock(t)
	a := startCaddy(t, apiKeyPool(rs.URL(0), mockURL, "\t\tsession_affinity on\n"))
	for i := range 5 {
		status, body := a.send(t, "no-redis-"+strconv.Itoa(i))
		require.Equal(t, http.StatusOK, status, body)
	}
	assert.Equal(t, "0", a.metric(`caddy_cliproxy_redis_up{pool="shared"}`))
	assert.Equal(t, 1, strings.Count(a.output(), "redis state unreachable"), "one warning")

	rs.Restart()
	require.Eventually(t, func() bool { return a.metric(`caddy_cliproxy_redis_up{pool="shared"}`) == "1" }, 5*time.Second, 20*time.Millisecond,
		"the instance joins when Redis comes")
	require.Eventually(t, func() bool {
		return strings.Contains(rs.Do("KEYS", "cliproxy:shared:session:*"), "no-redis-3")
	}, 2*time.Second, 20*time.Millisecond, "the bindings made without Redis are written when it comes")
}

// With the RESP wrapper on both instances, a collector that pops from
// either (as behind a load balancer) gets every record once: the queue is
// the shared Redis list.
func TestInstancesShareOneUsageQueueOverRESP(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	_, mockURL := startMock(t)
	const key = "cluster-mgmt-key"
	global := "\tservers {\n\t\tlistener_wrappers {\n\t\t\tcliproxy_resp\n\t\t}\n\t}"
	cfg := apiKeyPool(rs.URL(0), mockURL, "\t\tmanagement {\n\t\t\tkey "+key+"\n\t\t}\n")
	a, b := startCaddyWith(t, global, cfg), startCaddyWith(t, global, cfg)
	const n = 10
	for i := range n {
		p := a
		if i%2 == 1 {
			p = b
		}
		status, body := p.send(t, "")
		require.Equal(t, http.StatusOK, status, body)
	}
	ctx := context.Background()
	var collectors []*redis.Client
	for _, p := range []*caddyProc{a, b} {
		c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", p.port), Password: key, MaxRetries: -1})
		t.Cleanup(func() { c.Close() })
		collectors = append(collectors, c)
	}
	// the instances write in the background: wait for the list to fill
	require.Eventually(t, func() bool { return rs.Do("LLEN", "usage") == strconv.Itoa(n) }, 5*time.Second, 10*time.Millisecond)
	seen := map[string]int{}
	for i := 0; ; i++ {
		rec, err := collectors[i%2].LPop(ctx, "usage").Result()
		if errors.Is(err, redis.Nil) {
			break
		}
		require.NoError(t, err)
		assert.Equal(t, "alice", gjson.Get(rec, "client").String(), rec)
		assert.NotContains(t, rec, "sk-cluster")
		seen[gjson.Get(rec, "request_id").String()]++
	}
	assert.Len(t, seen, n, "every record popped")
	for id, times := range seen {
		assert.Equal(t, 1, times, "record %s popped once", id)
	}
	// RPOP with a count on the other instance sees the same empty list
	assert.ErrorIs(t, collectors[1].RPopCount(ctx, "usage", 5).Err(), redis.Nil)
}
