package selector_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/selector"
)

// mapBindings is a Bindings without expiry, with alias groups.
type mapBindings struct {
	mu sync.Mutex
	m  map[string]string
}

func newMapBindings() *mapBindings { return &mapBindings{m: map[string]string{}} }

func (b *mapBindings) GetAndRefresh(key string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[key]
	return v, ok
}

func (b *mapBindings) Set(cred string, keys ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range keys {
		b.m[k] = cred
	}
}

func (b *mapBindings) CompareAndDelete(key, cred string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m[key] != cred {
		return false
	}
	delete(b.m, key)
	return true
}

// world is a pool for affinity tests: credentials, their blocks, a clock.
type world struct {
	creds   []*auth.Credential
	blocked map[string]time.Time // name → blocked until
	now     time.Time
}

func newWorld(creds ...*auth.Credential) *world {
	return &world{creds: creds, blocked: map[string]time.Time{}, now: time.Unix(1_800_000_000, 0)}
}

func (w *world) available() []*auth.Credential {
	var out []*auth.Credential
	for _, c := range w.creds {
		if until, ok := w.blocked[c.Name]; !ok || !w.now.Before(until) {
			out = append(out, c)
		}
	}
	return out
}

func (w *world) home(name string) (*auth.Credential, bool, time.Time) {
	for _, c := range w.creds {
		if c.Name == name {
			until := w.blocked[c.Name]
			return c, until.IsZero() || !w.now.Before(until), until
		}
	}
	return nil, false, time.Time{}
}

func newAffinity(w *world, strategy string) (*selector.Affinity, *mapBindings) {
	next, err := selector.New(strategy)
	if err != nil {
		panic(err)
	}
	b := newMapBindings()
	return &selector.Affinity{Next: next, Bindings: b, Now: func() time.Time { return w.now }}, b
}

// serve runs one successful request of session s and returns who served it.
func serve(a *selector.Affinity, w *world, s selector.Session) string {
	d := a.Pick("claude:m", s, w.available(), w.home)
	if d.Credential == nil {
		return "<nil>"
	}
	a.Succeeded(s, d, d.Credential)
	return d.Credential.Name
}

func TestAffinityKeepsSessionsAndSpreadsNewOnes(t *testing.T) {
	w := newWorld(creds("a", "b", "c")...)
	a, _ := newAffinity(w, "round-robin")
	homes := map[string]string{}
	for turn := range 4 {
		for _, s := range []string{"s1", "s2", "s3", "s4", "s5", "s6"} {
			got := serve(a, w, selector.Session{Key: s})
			if turn == 0 {
				homes[s] = got
			}
			assert.Equal(t, homes[s], got, "session %s moved on turn %d", s, turn+1)
		}
	}
	counts := map[string]int{}
	for _, h := range homes {
		counts[h]++
	}
	assert.Equal(t, map[string]int{"a": 2, "b": 2, "c": 2}, counts)
	st := a.Stats()
	assert.EqualValues(t, 6, st.Misses)
	assert.EqualValues(t, 18, st.Hits)
}

func TestAffinityRecoveredHigherTierDoesNotStealSessions(t *testing.T) {
	w := newWorld(tiered("main", 10), tiered("spare", 0))
	a, _ := newAffinity(w, "round-robin")
	w.blocked["main"] = w.now.Add(time.Hour)
	assert.Equal(t, "spare", serve(a, w, selector.Session{Key: "s"}))
	w.now = w.now.Add(2 * time.Hour) // main is back
	assert.Equal(t, "spare", serve(a, w, selector.Session{Key: "s"}), "a recovered higher tier stole a bound session")
	assert.Equal(t, "main", serve(a, w, selector.Session{Key: "new"}), "new sessions go to the highest tier")
}

func TestAffinityShortBlockDetoursAndComesHome(t *testing.T) {
	w := newWorld(creds("a", "b")...)
	a, b := newAffinity(w, "fill-first")
	s := selector.Session{Key: "s"}
	require.Equal(t, "a", serve(a, w, s))
	w.blocked["a"] = w.now.Add(30 * time.Second) // a 429 with a short window
	d := a.Pick("claude:m", s, w.available(), w.home)
	assert.Equal(t, selector.Detour, d.Outcome)
	assert.Equal(t, "b", d.Credential.Name)
	a.Succeeded(s, d, d.Credential)
	assert.Equal(t, "a", b.m["s"], "a detour must not move the binding")
	w.now = w.now.Add(time.Minute)
	assert.Equal(t, "a", serve(a, w, s), "the session did not come home")
	assert.EqualValues(t, 1, a.Stats().Detours)
}

// While its home is out, a session stays on its detour, so the detour's
// prompt cache warms, and goes home when the home is back.
func TestAffinityDetourIsKeptWhileHomeIsOut(t *testing.T) {
	w := newWorld(creds("a", "b", "c", "d")...)
	a, b := newAffinity(w, "round-robin")
	s := selector.Session{Key: "s"}
	home := serve(a, w, s)
	w.blocked[home] = w.now.Add(90 * time.Second)
	detour := serve(a, w, s)
	require.NotEqual(t, home, detour)
	for range 5 {
		serve(a, w, selector.Session{Key: "other"}) // turns the round robin
		assert.Equal(t, detour, serve(a, w, s), "the session left its detour while its home was out")
	}
	assert.Equal(t, home, b.m["s"], "the binding stays home")

	w.blocked[detour] = w.now.Add(30 * time.Second) // the detour fails too
	next := serve(a, w, s)
	assert.NotContains(t, []string{home, detour}, next)
	assert.Equal(t, next, serve(a, w, s), "the new detour is kept")

	w.now = w.now.Add(2 * time.Minute)
	assert.Equal(t, home, serve(a, w, s), "the session comes home")
}

func TestAffinityLongBlockRebindsOnceAndStays(t *testing.T) {
	w := newWorld(creds("a", "b", "c")...)
	a, _ := newAffinity(w, "round-robin")
	s := selector.Session{Key: "s"}
	home := serve(a, w, s)
	w.blocked[home] = w.now.Add(5 * time.Hour) // quota spent
	moved := serve(a, w, s)
	assert.NotEqual(t, home, moved)
	for range 5 {
		assert.Equal(t, moved, serve(a, w, s), "the session moved more than once")
	}
	w.now = w.now.Add(6 * time.Hour)
	assert.Equal(t, moved, serve(a, w, s), "the session went back after it was rebound")
	assert.EqualValues(t, 1, a.Stats().Rebinds)
}

func TestAffinityTerminalFailureDropsBinding(t *testing.T) {
	w := newWorld(creds("a", "b")...)
	a, b := newAffinity(w, "fill-first")
	s := selector.Session{Key: "s", Fallback: "s0"}
	require.Equal(t, "a", serve(a, w, s))
	a.Failed(s, w.creds[1], true) // b is not the home: nothing changes
	assert.Equal(t, "a", b.m["s"])
	a.Failed(s, w.creds[0], false) // transient: kept
	assert.Equal(t, "a", b.m["s"])
	a.Failed(s, w.creds[0], true) // revoked: dropped, with its alias
	assert.NotContains(t, b.m, "s")
	assert.NotContains(t, b.m, "s0")
}

func TestAffinityFallbackInheritsTurnOne(t *testing.T) {
	w := newWorld(creds("a", "b", "c")...)
	a, b := newAffinity(w, "round-robin")
	serve(a, w, selector.Session{Key: "other"}) // moves the cursor
	turn1 := serve(a, w, selector.Session{Key: "short"})
	d := a.Pick("claude:m", selector.Session{Key: "full", Fallback: "short"}, w.available(), w.home)
	assert.Equal(t, selector.Hit, d.Outcome)
	assert.Equal(t, turn1, d.Credential.Name, "turn 2 did not inherit turn 1's credential")
	a.Succeeded(selector.Session{Key: "full", Fallback: "short"}, d, d.Credential)
	assert.Equal(t, turn1, b.m["full"], "turn 2 must bind its own key")
}

func TestAffinityWithoutSessionUsesStrategy(t *testing.T) {
	w := newWorld(creds("a", "b")...)
	a, b := newAffinity(w, "round-robin")
	assert.Equal(t, []string{"a", "b", "a"}, []string{serve(a, w, selector.Session{}), serve(a, w, selector.Session{}), serve(a, w, selector.Session{})})
	assert.Empty(t, b.m)
}

func TestAffinityHomeGoneRebinds(t *testing.T) {
	w := newWorld(creds("a", "b")...)
	a, _ := newAffinity(w, "fill-first")
	s := selector.Session{Key: "s"}
	require.Equal(t, "a", serve(a, w, s))
	w.creds = w.creds[1:] // a removed from the config
	assert.Equal(t, "b", serve(a, w, s))
	assert.EqualValues(t, 1, a.Stats().Rebinds)
}

func TestAffinityConcurrentPicks(t *testing.T) {
	w := newWorld(creds("a", "b", "c", "d")...)
	a, _ := newAffinity(w, "round-robin")
	var wg sync.WaitGroup
	homes := make([]map[string]string, 8)
	for g := range 8 {
		homes[g] = map[string]string{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				key := string(rune('A'+g)) + string(rune('a'+i%10))
				d := a.Pick("claude:m", selector.Session{Key: key}, w.available(), w.home)
				a.Succeeded(selector.Session{Key: key}, d, d.Credential)
				if prev, ok := homes[g][key]; ok && prev != d.Credential.Name {
					t.Errorf("session %s moved from %s to %s", key, prev, d.Credential.Name)
				}
				homes[g][key] = d.Credential.Name
			}
		}()
	}
	wg.Wait()
}

// A session whose home serves it never has the candidates listed: building
// that list walks the pool, which a bound session's request must not pay.
func TestAffinityPickFromListsCandidatesOnlyToPlace(t *testing.T) {
	w := newWorld(creds("a", "b", "c")...)
	a, _ := newAffinity(w, "round-robin")
	listed := 0
	list := func() []*auth.Credential { listed++; return w.available() }
	s := selector.Session{Key: "s1"}

	d := a.PickFrom("claude:m", s, list, w.home)
	require.Equal(t, selector.Miss, d.Outcome)
	a.Succeeded(s, d, d.Credential)
	assert.Equal(t, 1, listed, "placing a session lists the candidates once")

	for range 5 {
		got := a.PickFrom("claude:m", s, list, w.home)
		require.Equal(t, selector.Hit, got.Outcome)
		assert.Equal(t, d.Credential, got.Credential)
	}
	assert.Equal(t, 1, listed, "a bound session's pick listed the candidates")

	w.blocked[d.Credential.Name] = w.now.Add(time.Hour)
	got := a.PickFrom("claude:m", s, list, w.home)
	assert.Equal(t, selector.Rebind, got.Outcome)
	assert.NotEqual(t, d.Credential, got.Credential)
	assert.Equal(t, 2, listed, "a home that cannot serve lists the candidates to rebind")
}

// pairBindings answers a key and its fallback in one call, counting the
// calls, as a remote store does.
type pairBindings struct {
	*mapBindings
	single, pair int
}

func (b *pairBindings) GetAndRefresh(key string) (string, bool) {
	b.single++
	return b.mapBindings.GetAndRefresh(key)
}

func (b *pairBindings) GetAndRefreshPair(key, fallback string) (string, bool, bool) {
	b.pair++
	if cred, ok := b.mapBindings.GetAndRefresh(key); ok {
		return cred, false, true
	}
	cred, ok := b.mapBindings.GetAndRefresh(fallback)
	return cred, ok, ok
}

func TestAffinityLooksUpKeyAndFallbackAtOnceWhereItCan(t *testing.T) {
	w := newWorld(creds("a", "b", "c")...)
	a, _ := newAffinity(w, "round-robin")
	pb := &pairBindings{mapBindings: newMapBindings()}
	a.Bindings = pb
	turn1 := serve(a, w, selector.Session{Key: "short"})
	pb.single, pb.pair = 0, 0
	s := selector.Session{Key: "full", Fallback: "short"}
	d := a.Pick("claude:m", s, w.available(), w.home)
	assert.Equal(t, selector.Hit, d.Outcome)
	assert.Equal(t, turn1, d.Credential.Name)
	assert.True(t, d.Bind, "a session found through its fallback binds its own key")
	assert.Equal(t, 1, pb.pair)
	assert.Zero(t, pb.single, "one lookup for both keys")
}
