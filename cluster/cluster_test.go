package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
	"github.com/caddy-cliproxy/cliproxy/cluster"
	"github.com/caddy-cliproxy/cliproxy/internal/redistest"
	"github.com/caddy-cliproxy/cliproxy/outcome"
	"github.com/caddy-cliproxy/cliproxy/session"
)

// instance is one gateway process's state, shared through a Cluster.
type instance struct {
	health   *auth.Health
	bindings *session.Cache
	pool     *auth.Pool
	cluster  *cluster.Cluster
}

func newInstance(t testing.TB, url string, opts ...func(*cluster.Options)) *instance {
	t.Helper()
	in := &instance{health: auth.NewHealth(), bindings: session.NewCache(time.Hour, 0)}
	o := cluster.Options{URL: url, Pool: "test", Health: in.health, Bindings: in.bindings}
	for _, f := range opts {
		f(&o)
	}
	c, err := cluster.New(o)
	require.NoError(t, err)
	in.cluster = c
	t.Cleanup(func() { _ = c.Close(); in.bindings.Stop() })
	in.pool, err = auth.NewPoolWithHealth([]*auth.Credential{
		{Name: "a", Provider: auth.Claude, APIKey: "sk-a"},
		{Name: "b", Provider: auth.Claude, APIKey: "sk-b"},
	}, in.health, auth.Policy{})
	require.NoError(t, err)
	return in
}

func waitUp(t testing.TB, ins ...*instance) {
	t.Helper()
	for _, in := range ins {
		require.Eventually(t, in.cluster.Up, 5*time.Second, 10*time.Millisecond, "redis must be taken as up")
	}
}

func TestCooldownReachesTheOtherInstanceWithinASecond(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newInstance(t, srv.URL(0)), newInstance(t, srv.URL(0))
	waitUp(t, a, b)

	until := a.pool.RecordFailure(a.pool.Get("a"), "sonnet", auth.Outcome{Status: http.StatusTooManyRequests, Hint: auth.Hint{RetryAfter: time.Hour}})
	require.False(t, until.IsZero())
	require.Eventually(t, func() bool {
		ok, _ := b.pool.Available(b.pool.Get("a"), "sonnet")
		return !ok
	}, time.Second, 5*time.Millisecond, "a cooldown recorded on A must be honoured by B within 1 s")
	_, bUntil := b.pool.Available(b.pool.Get("a"), "sonnet")
	assert.WithinDuration(t, until, bUntil, time.Millisecond)
	ok, _ := b.pool.Available(b.pool.Get("b"), "sonnet")
	assert.True(t, ok, "another credential stays available")
	ok, _ = b.pool.Available(b.pool.Get("a"), "opus")
	assert.True(t, ok, "another model stays available")

	a.pool.RecordSuccess(a.pool.Get("a"), "sonnet")
	require.Eventually(t, func() bool {
		ok, _ := b.pool.Available(b.pool.Get("a"), "sonnet")
		return ok
	}, time.Second, 5*time.Millisecond, "a success on A must lift the cooldown on B")

	// an instance started later reads the states in Redis
	a.pool.RecordFailure(a.pool.Get("b"), "sonnet", auth.Outcome{Status: http.StatusServiceUnavailable})
	require.Eventually(t, func() bool { return srv.Do("DBSIZE") != "0" }, time.Second, 5*time.Millisecond)
	c := newInstance(t, srv.URL(0))
	waitUp(t, c)
	ok, _ = c.pool.Available(c.pool.Get("b"), "sonnet")
	assert.False(t, ok, "a new instance must take the cooldowns already in Redis")
}

func TestBindingsAreSharedAndFollowRebinds(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newInstance(t, srv.URL(0)), newInstance(t, srv.URL(0))
	waitUp(t, a, b)

	a.cluster.Bindings().Set("a", "s1", "s1-fallback")
	require.Eventually(t, func() bool {
		cred, ok := b.cluster.Bindings().GetAndRefresh("s1")
		return ok && cred == "a"
	}, time.Second, 5*time.Millisecond)
	ttl, err := strconv.Atoi(srv.Do("PTTL", "cliproxy:test:session:s1"))
	require.NoError(t, err)
	assert.InDelta(t, time.Hour.Milliseconds(), ttl, float64(time.Minute.Milliseconds()), "the binding lives its TTL in Redis")

	// B now serves s1 from its cache; a rebind on A must reach it
	b.cluster.Bindings().Set("b", "s1")
	require.Eventually(t, func() bool {
		cred, _ := a.bindings.Get("s1")
		return cred == "b"
	}, time.Second, 5*time.Millisecond, "a rebind on B must reach A's cache within 1 s")

	assert.False(t, a.cluster.Bindings().CompareAndDelete("s1", "a"), "s1 is bound to b now")
	assert.True(t, a.cluster.Bindings().CompareAndDelete("s1", "b"))
	require.Eventually(t, func() bool {
		_, ok := b.bindings.Get("s1")
		return !ok && srv.Do("EXISTS", "cliproxy:test:session:s1") == "0"
	}, time.Second, 5*time.Millisecond, "an unbind on A must reach B and Redis")
}

func TestRedisOutageDegradesAndResyncs(t *testing.T) {
	srv := redistest.Start(t)
	var ups []bool
	var mu sync.Mutex
	a, b := newInstance(t, srv.URL(0)), newInstance(t, srv.URL(0))
	a.cluster.OnUp(func(up bool) { mu.Lock(); ups = append(ups, up); mu.Unlock() })
	waitUp(t, a, b)

	srv.Stop()
	// requests go on: bindings and health answer locally, at once
	start := time.Now()
	for i := range 50 {
		k := "outage-" + strconv.Itoa(i)
		_, ok := a.cluster.Bindings().GetAndRefresh(k)
		assert.False(t, ok)
		a.cluster.Bindings().Set("a", k)
		cred, ok := a.cluster.Bindings().GetAndRefresh(k)
		assert.True(t, ok)
		assert.Equal(t, "a", cred)
	}
	assert.Less(t, time.Since(start), 3*time.Second, "a down Redis must not hold requests up")
	require.Eventually(t, func() bool { return !a.cluster.Up() && !b.cluster.Up() }, 3*time.Second, 10*time.Millisecond)
	a.pool.RecordFailure(a.pool.Get("a"), "sonnet", auth.Outcome{Status: http.StatusTooManyRequests, Hint: auth.Hint{RetryAfter: time.Hour}})
	ok, _ := a.pool.Available(a.pool.Get("a"), "sonnet")
	assert.False(t, ok, "the local state still works")

	srv.Restart()
	waitUp(t, a, b)
	require.Eventually(t, func() bool {
		ok, _ := b.pool.Available(b.pool.Get("a"), "sonnet")
		return !ok
	}, 3*time.Second, 10*time.Millisecond, "a cooldown recorded during the outage must reach B after it")
	require.Eventually(t, func() bool {
		cred, ok := b.cluster.Bindings().GetAndRefresh("outage-7")
		return ok && cred == "a"
	}, 3*time.Second, 10*time.Millisecond, "a binding made during the outage must reach B after it")
	mu.Lock()
	if len(ups) > 0 && !ups[0] {
		ups = ups[1:] // reported before the first subscription
	}
	assert.Equal(t, []bool{true, false, true}, ups, "the gauge follows Redis")
	mu.Unlock()
}

func TestCoordinateRefreshesOnceAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newInstance(t, srv.URL(0)), newInstance(t, srv.URL(0))
	waitUp(t, a, b)
	var adopted atomic.Value
	b.cluster.OnToken(func(name string, tok oauth.Token) { adopted.Store(name + " " + tok.AccessToken) })

	var refreshes atomic.Int32
	old := oauth.Token{AccessToken: "old", RefreshToken: "r0", Expiry: time.Now().Add(time.Minute)}
	refresh := func(ctx context.Context) (oauth.Token, error) {
		n := refreshes.Add(1)
		time.Sleep(200 * time.Millisecond) // the other instance arrives meanwhile
		return oauth.Token{AccessToken: "new-" + strconv.Itoa(int(n)), RefreshToken: "r1", Expiry: time.Now().Add(time.Hour)}, nil
	}
	var wg sync.WaitGroup
	got := make([]oauth.Token, 4)
	for i, in := range []*instance{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := in.cluster.Coordinate(context.Background(), "claude-x.json", old, refresh)
			assert.NoError(t, err)
			got[i] = tok
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 1, refreshes.Load(), "one refresh for every instance")
	for _, tok := range got {
		assert.Equal(t, "new-1", tok.AccessToken)
		assert.Equal(t, "r1", tok.RefreshToken)
	}
	// a later refresh with the stale token takes the stored one
	tok, err := b.cluster.Coordinate(context.Background(), "claude-x.json", old, refresh)
	require.NoError(t, err)
	assert.Equal(t, "new-1", tok.AccessToken)
	assert.EqualValues(t, 1, refreshes.Load())
	assert.Equal(t, "0", srv.Do("EXISTS", "cliproxy:test:oauth:lock:claude-x.json"), "the lock is released")

	// a refresh by A alone is announced to B
	_, err = a.cluster.Coordinate(context.Background(), "claude-y.json", old, refresh)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return adopted.Load() == "claude-y.json new-2" }, time.Second, 5*time.Millisecond)
}

func TestUsageEventsAreListedWithABoundAndPublished(t *testing.T) {
	srv := redistest.Start(t)
	a := newInstance(t, srv.URL(0), func(o *cluster.Options) { o.UsageRetention = 5 })
	waitUp(t, a)
	for i := range 8 {
		a.cluster.Request(&outcome.Request{Model: fmt.Sprintf("sonnet-%d", i), Attempts: 1})
	}
	require.Eventually(t, func() bool { return srv.Do("LLEN", "usage") == "5" }, time.Second, 5*time.Millisecond)
	var first map[string]any
	require.NoError(t, json.Unmarshal([]byte(srv.Do("LPOP", "usage")), &first))
	assert.Equal(t, "sonnet-3", first["model"], "the list keeps the newest events, drained oldest first")
}

func TestBadURLsAreRefusedWithoutTheirPassword(t *testing.T) {
	for _, u := range []string{"http://u:hunter2@h:1", "redis://u:hunter2@h:1/x", "redis://"} {
		err := cluster.ValidateURL(u)
		require.Error(t, err, u)
		assert.NotContains(t, err.Error(), "hunter2")
	}
	require.NoError(t, cluster.ValidateURL("rediss://user:pw@h:6380/3"))
}

func TestInstanceStartedWithoutRedisJoinsWhenItComes(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	a := newInstance(t, srv.URL(0))
	assert.False(t, a.cluster.Up())
	a.cluster.Bindings().Set("a", "early")
	cred, ok := a.cluster.Bindings().GetAndRefresh("early")
	require.True(t, ok, "the local state serves while Redis is away")
	assert.Equal(t, "a", cred)

	srv.Restart()
	waitUp(t, a)
	require.Eventually(t, func() bool { return srv.Do("GET", "cliproxy:test:session:early") == "a" }, time.Second, 5*time.Millisecond,
		"the binding made before Redis came is written when it comes")
}

func TestPairLookupFindsTurnOnesBindingInOneTrip(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newInstance(t, srv.URL(0)), newInstance(t, srv.URL(0))
	waitUp(t, a, b)
	a.cluster.Bindings().Set("a", "short")
	require.Eventually(t, func() bool { return srv.Do("GET", "cliproxy:test:session:short") == "a" }, time.Second, 5*time.Millisecond)
	b.bindings.Clear() // as if B had not heard of it
	cred, viaFallback, ok := b.cluster.Bindings().GetAndRefreshPair("full", "short")
	assert.True(t, ok)
	assert.True(t, viaFallback)
	assert.Equal(t, "a", cred)
	_, _, ok = b.cluster.Bindings().GetAndRefreshPair("nobody", "nothing")
	assert.False(t, ok)
}

func TestOperatorDropsReachEveryInstance(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newInstance(t, srv.URL(0)), newInstance(t, srv.URL(0))
	waitUp(t, a, b)
	a.cluster.Bindings().Set("a", "s1")
	a.cluster.Bindings().Set("a", "s2")
	a.cluster.Bindings().Set("b", "s3")
	require.Eventually(t, func() bool { return b.bindings.Len() == 3 }, time.Second, 5*time.Millisecond)

	assert.True(t, b.cluster.Bindings().Delete("s3"))
	assert.Equal(t, 2, b.cluster.Bindings().DeleteCredential("a"))
	require.Eventually(t, func() bool {
		return a.bindings.Len() == 0 && srv.Do("KEYS", "cliproxy:test:session:*") == ""
	}, time.Second, 5*time.Millisecond, "drops made on B must reach A and Redis")
}

// commandCalls is how many times Redis ran cmd since its last CONFIG
// RESETSTAT, from INFO commandstats.
func commandCalls(t *testing.T, srv *redistest.Server, cmd string) int {
	t.Helper()
	for _, line := range strings.Split(srv.Do("INFO", "commandstats"), "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_"+cmd+":calls="); ok {
			n, err := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			require.NoError(t, err)
			return n
		}
	}
	return 0
}

// The request path reads Redis only for a session this instance has not
// heard of, once; a session another instance bound is served from memory.
func TestHotPathMakesAtMostOneRoundTrip(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newInstance(t, srv.URL(0)), newInstance(t, srv.URL(0))
	waitUp(t, a, b)
	a.cluster.Bindings().Set("a", "known")
	require.Eventually(t, func() bool { _, ok := b.bindings.Get("known"); return ok }, time.Second, 5*time.Millisecond)
	require.Equal(t, "OK", srv.Do("CONFIG", "RESETSTAT"))

	for range 100 {
		cred, ok := b.cluster.Bindings().GetAndRefresh("known")
		require.True(t, ok)
		require.Equal(t, "a", cred)
		ok, _ = b.pool.Available(b.pool.Get("a"), "sonnet")
		require.True(t, ok)
	}
	assert.Zero(t, commandCalls(t, srv, "getex")+commandCalls(t, srv, "get"), "a known session and the health are read from memory")

	_, ok := b.cluster.Bindings().GetAndRefresh("unknown")
	assert.False(t, ok)
	_, _, ok = b.cluster.Bindings().GetAndRefreshPair("unknown-full", "unknown-short")
	assert.False(t, ok)
	assert.Equal(t, 3, commandCalls(t, srv, "getex"), "an unknown session costs one lookup per key, the pair in one round trip")
}

// An instance shutting down writes what it still had queued.
func TestCloseWritesWhatIsQueued(t *testing.T) {
	srv := redistest.Start(t)
	for i := range 20 {
		a := newInstance(t, srv.URL(0))
		waitUp(t, a)
		a.pool.RecordFailure(a.pool.Get("a"), "model-"+strconv.Itoa(i), auth.Outcome{Status: http.StatusServiceUnavailable})
		require.NoError(t, a.cluster.Close())
	}
	keys := srv.Do("KEYS", "cliproxy:test:health:*")
	assert.Len(t, strings.Split(keys, "\n"), 20, "every state recorded before Close is in Redis")
}

// A Redis that restarts empty gets every binding back from the instances'
// caches, so no conversation moves because of the restart.
func TestEmptyRedisGetsTheBindingsBack(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newInstance(t, srv.URL(0)), newInstance(t, srv.URL(0))
	waitUp(t, a, b)
	want := map[string]string{}
	for i := range 40 {
		k, cred := "restart-"+strconv.Itoa(i), []string{"a", "b"}[i%2]
		want[k] = cred
		if i%3 == 0 {
			b.cluster.Bindings().Set(cred, k)
		} else {
			a.cluster.Bindings().Set(cred, k)
		}
	}
	require.Eventually(t, func() bool { return a.bindings.Len() == 40 && b.bindings.Len() == 40 }, time.Second, 5*time.Millisecond)

	srv.Restart() // a crash and a start without persistence
	require.Equal(t, "0", srv.Do("DBSIZE"))
	require.Eventually(t, func() bool { return srv.Do("DBSIZE") == "40" }, 5*time.Second, 10*time.Millisecond,
		"the instances must write their bindings back to the empty Redis")
	for k, cred := range want {
		assert.Equal(t, cred, srv.Do("GET", "cliproxy:test:session:"+k), k)
		ttl, err := strconv.Atoi(srv.Do("PTTL", "cliproxy:test:session:"+k))
		require.NoError(t, err)
		assert.InDelta(t, time.Hour.Milliseconds(), ttl, float64(time.Minute.Milliseconds()), "%s keeps the life it had", k)
		for _, in := range []*instance{a, b} {
			got, ok := in.cluster.Bindings().GetAndRefresh(k)
			assert.True(t, ok, k)
			assert.Equal(t, cred, got, "%s keeps its credential", k)
		}
	}
	// an instance started now finds them in Redis
	c := newInstance(t, srv.URL(0))
	waitUp(t, c)
	got, ok := c.cluster.Bindings().GetAndRefresh("restart-7")
	assert.True(t, ok)
	assert.Equal(t, want["restart-7"], got)
}

// A session rebound during the outage keeps its new credential on every
// instance after it: the newer binding wins over the older one another
// instance still holds.
func TestNewerBindingWinsAfterAnOutage(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newInstance(t, srv.URL(0)), newInstance(t, srv.URL(0))
	waitUp(t, a, b)
	a.cluster.Bindings().Set("a", "moved")
	a.cluster.Bindings().Set("a", "stayed")
	require.Eventually(t, func() bool { return b.bindings.Len() == 2 }, time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond) // so the rebind below is measurably newer

	srv.Stop()
	require.Eventually(t, func() bool { return !a.cluster.Up() && !b.cluster.Up() }, 3*time.Second, 10*time.Millisecond)
	a.cluster.Bindings().Set("b", "moved") // B does not hear of it
	srv.Restart()
	waitUp(t, a, b)

	require.Eventually(t, func() bool {
		cred, _ := b.bindings.Get("moved")
		return srv.Do("GET", "cliproxy:test:session:moved") == "b" && cred == "b"
	}, 3*time.Second, 10*time.Millisecond, "A's rebind is newer than B's binding: it wins in Redis and on B")
	assert.Equal(t, "a", srv.Do("GET", "cliproxy:test:session:stayed"))
	cred, _ := b.bindings.Get("stayed")
	assert.Equal(t, "a", cred)
}

// An instance cut off from Redis while another rebinds a session takes
// the newer binding from Redis when it is back, instead of writing its
// own older one over it.
func TestCutOffInstanceTakesNewerBindingsFromRedis(t *testing.T) {
	srv := redistest.Start(t)
	link := newCuttableLink(t, srv.Addr())
	a, b := newInstance(t, "redis://"+link.addr+"/0"), newInstance(t, srv.URL(0))
	waitUp(t, a, b)
	b.cluster.Bindings().Set("a", "s1")
	b.cluster.Bindings().Set("a", "s2")
	require.Eventually(t, func() bool { return a.bindings.Len() == 2 }, time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)

	link.cut()
	require.Eventually(t, func() bool { return !a.cluster.Up() }, 3*time.Second, 10*time.Millisecond)
	b.cluster.Bindings().Set("b", "s1") // A does not hear of it
	time.Sleep(50 * time.Millisecond)
	link.restore()
	waitUp(t, a)

	require.Eventually(t, func() bool {
		cred, ok := a.bindings.Get("s1")
		return ok && cred == "b"
	}, 3*time.Second, 10*time.Millisecond, "A must take B's newer binding")
	assert.Equal(t, "b", srv.Do("GET", "cliproxy:test:session:s1"), "A's older binding must not replace B's in Redis")
	cred, ok := a.bindings.Get("s2")
	assert.True(t, ok, "a binding nobody changed stays in A's cache")
	assert.Equal(t, "a", cred)
}

// cuttableLink forwards TCP connections to a Redis until cut, so one
// instance can lose Redis while another keeps it.
type cuttableLink struct {
	addr  string
	to    string
	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

func newCuttableLink(t *testing.T, to string) *cuttableLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := &cuttableLink{addr: ln.Addr().String(), to: to, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { ln.Close(); l.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go l.serve(c)
		}
	}()
	return l
}

func (l *cuttableLink) serve(c net.Conn) {
	l.mu.Lock()
	if l.down {
		l.mu.Unlock()
		c.Close()
		return
	}
	up, err := net.Dial("tcp", l.to)
	if err != nil {
		l.mu.Unlock()
		c.Close()
		return
	}
	l.conns[c], l.conns[up] = struct{}{}, struct{}{}
	l.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); up.Close(); c.Close() }()
	_, _ = io.Copy(c, up)
	c.Close()
	up.Close()
}

// cut closes every forwarded connection and refuses new ones.
func (l *cuttableLink) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = true
	for c := range l.conns {
		c.Close()
	}
	clear(l.conns)
}

func (l *cuttableLink) restore() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = false
}

// Two instances binding the same sessions at the same moment end with the
// binding Redis holds, both of them: the announcements reach every
// instance, the writer too, in the order Redis took the writes.
func TestConcurrentBindsConvergeOnRedis(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newInstance(t, srv.URL(0)), newInstance(t, srv.URL(0))
	waitUp(t, a, b)
	const sessions = 200
	var wg sync.WaitGroup
	for _, in := range []*instance{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cred := "a"
			if in == b {
				cred = "b"
			}
			for i := range sessions {
				in.cluster.Bindings().Set(cred, "race-"+strconv.Itoa(i))
			}
		}()
	}
	wg.Wait()
	requireConverged(t, srv, sessions, a, b)
}

// After an outage in which both instances bound the same sessions, each
// differently, both end with the binding Redis holds.
func TestOutageBindsConvergeOnRedis(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newInstance(t, srv.URL(0)), newInstance(t, srv.URL(0))
	waitUp(t, a, b)
	srv.Stop()
	require.Eventually(t, func() bool { return !a.cluster.Up() && !b.cluster.Up() }, 3*time.Second, 10*time.Millisecond)
	const sessions = 200
	for i := range sessions {
		a.cluster.Bindings().Set("a", "race-"+strconv.Itoa(i))
		b.cluster.Bindings().Set("b", "race-"+strconv.Itoa(i))
	}
	srv.Restart()
	waitUp(t, a, b)
	requireConverged(t, srv, sessions, a, b)
}

// requireConverged waits until every instance's cache holds, for each of
// the sessions race-0 … race-<n-1>, the credential Redis holds.
func requireConverged(t *testing.T, srv *redistest.Server, n int, ins ...*instance) {
	t.Helper()
	diverged := func() []string {
		var out []string
		for i := range n {
			k := "race-" + strconv.Itoa(i)
			want := srv.Do("GET", "cliproxy:test:session:"+k)
			for j, in := range ins {
				if got, _ := in.bindings.Get(k); got != want {
					out = append(out, fmt.Sprintf("%s: instance %d has %q, redis %q", k, j, got, want))
				}
			}
		}
		return out
	}
	var last []string
	if !assert.Eventually(t, func() bool { last = diverged(); return len(last) == 0 }, 3*time.Second, 20*time.Millisecond) {
		t.Fatalf("%d bindings diverged, e.g. %v", len(last), last[:min(len(last), 5)])
	}
}
