package session

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cacheTestClock is a fake clock that is safe to read from the sweeper
// while a test advances it.
type cacheTestClock struct{ ns atomic.Int64 }

var cacheTestEpoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func newCacheTestClock() *cacheTestClock {
	k := &cacheTestClock{}
	k.ns.Store(cacheTestEpoch.UnixNano())
	return k
}

func (k *cacheTestClock) Now() time.Time          { return time.Unix(0, k.ns.Load()) }
func (k *cacheTestClock) Advance(d time.Duration) { k.ns.Add(int64(d)) }

// newTestCache returns a cache on a fake clock, stopped when the test ends.
// The clock is installed before the first Set, as the Now field requires.
func newTestCache(t testing.TB, ttl time.Duration, maxEntries int) (*Cache, *cacheTestClock) {
	t.Helper()
	return newTestCacheSweeping(t, ttl, maxEntries, 0)
}

func newTestCacheSweeping(t testing.TB, ttl time.Duration, maxEntries int, sweepEvery time.Duration) (*Cache, *cacheTestClock) {
	t.Helper()
	clock := newCacheTestClock()
	c := newCache(ttl, maxEntries, sweepEvery)
	c.Now = clock.Now
	t.Cleanup(c.Stop)
	return c, clock
}

// cacheExpiries collects Range's view as key → expiry, relative to the test
// epoch so failures read as durations.
func cacheExpiries(c *Cache) map[string]time.Duration {
	out := map[string]time.Duration{}
	c.Range(func(key, _ string, expires time.Time) bool {
		out[key] = expires.Sub(cacheTestEpoch)
		return true
	})
	return out
}

// cacheKeysInDistinctShards returns n keys that hash to n different shards
// of c, so group operations are exercised across shard locks.
func cacheKeysInDistinctShards(t *testing.T, c *Cache, prefix string, n int) []string {
	t.Helper()
	require.GreaterOrEqual(t, len(c.shards), n, "cache has too few shards")
	var keys []string
	seen := map[*cacheShard]bool{}
	for i := 0; len(keys) < n; i++ {
		k := prefix + strconv.Itoa(i)
		if s := c.shard(k); !seen[s] {
			seen[s] = true
			keys = append(keys, k)
		}
	}
	return keys
}

func TestCacheDefaults(t *testing.T) {
	tests := []struct {
		name        string
		ttl         time.Duration
		maxEntries  int
		wantTTL     time.Duration
		wantMax     int
		wantShards  int
		wantSweepIn time.Duration
	}{
		{"zero values take defaults", 0, 0, DefaultCacheTTL, DefaultCacheMaxEntries, 64, time.Minute},
		{"negative values take defaults", -time.Second, -1, DefaultCacheTTL, DefaultCacheMaxEntries, 64, time.Minute},
		{"short ttl sweeps every second at most", 500 * time.Millisecond, 10, 500 * time.Millisecond, 10, 1, time.Second},
		{"ttl/2 between the clamps", 90 * time.Second, 10_000, 90 * time.Second, 10_000, 32, 45 * time.Second},
		{"small caches use fewer shards", time.Hour, 1_000, time.Hour, 1_000, 2, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCache(tt.ttl, tt.maxEntries)
			defer c.Stop()
			assert.Equal(t, tt.wantTTL, c.TTL())
			assert.Equal(t, tt.wantMax, c.maxEntries)
			assert.Len(t, c.shards, tt.wantShards)
			assert.Equal(t, tt.wantSweepIn, c.sweepInterval())
			total := 0
			for i := range c.shards {
				total += c.shards[i].capacity
			}
			assert.Equal(t, tt.wantMax, total, "shard capacities must add up to maxEntries")
		})
	}
}

func TestCacheSetTTLDefault(t *testing.T) {
	c, _ := newTestCache(t, time.Minute, 0)
	c.SetTTL(0)
	assert.Equal(t, DefaultCacheTTL, c.TTL())
	c.SetTTL(10 * time.Second)
	assert.Equal(t, 10*time.Second, c.TTL())
	assert.Equal(t, 5*time.Second, c.sweepInterval(), "the sweeper follows the new TTL")
}

func TestCacheLazyExpiry(t *testing.T) {
	const ttl = time.Hour
	tests := []struct {
		name    string
		advance time.Duration
		live    bool
	}{
		{"fresh", 0, true},
		{"just before expiry", ttl - time.Nanosecond, true},
		{"at expiry", ttl, false},
		{"long after", 10 * ttl, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clock := newTestCache(t, ttl, 0)
			c.Set("cred-a", "k")
			clock.Advance(tt.advance)

			cred, ok := c.Get("k")
			assert.Equal(t, tt.live, ok, "Get")
			if tt.live {
				assert.Equal(t, "cred-a", cred)
			} else {
				assert.Empty(t, cred)
			}
			assert.Equal(t, tt.live, c.Touch("k"), "Touch")
			cred, ok = c.GetAndRefresh("k")
			assert.Equal(t, tt.live, ok, "GetAndRefresh")
			if !tt.live {
				assert.Empty(t, cred)
				// Expired reads as absent but stays in memory until a sweep.
				assert.Equal(t, 1, c.Len())
				assert.Empty(t, cacheExpiries(c), "Range skips expired bindings")
				c.sweep(nil)
				assert.Equal(t, 0, c.Len())
			}
		})
	}
}

func TestCacheSweeperRemovesExpired(t *testing.T) {
	const ttl = time.Hour
	c, clock := newTestCacheSweeping(t, ttl, 0, 2*time.Millisecond)
	c.Set("cred-a", "old-1", "old-2")
	clock.Advance(ttl / 2)
	c.Set("cred-b", "new")
	clock.Advance(ttl / 2) // old-* expire now; new has ttl/2 left

	// No call touches old-*: only the sweeper can remove them.
	assert.Eventually(t, func() bool { return c.Len() == 1 }, 5*time.Second, time.Millisecond)
	cred, ok := c.Get("new")
	assert.True(t, ok)
	assert.Equal(t, "cred-b", cred)
}

func TestCacheGetDoesNotRefresh(t *testing.T) {
	const ttl = time.Hour
	c, clock := newTestCache(t, ttl, 0)
	c.Set("cred-a", "k")
	clock.Advance(3 * ttl / 4)
	_, ok := c.Get("k")
	require.True(t, ok)
	assert.Equal(t, map[string]time.Duration{"k": ttl}, cacheExpiries(c))
	clock.Advance(ttl / 2)
	_, ok = c.Get("k")
	assert.False(t, ok)
}

func TestCacheGetAndRefreshExtends(t *testing.T) {
	const ttl = time.Hour
	c, clock := newTestCache(t, ttl, 0)
	c.Set("cred-a", "k")
	clock.Advance(3 * ttl / 4)
	cred, ok := c.GetAndRefresh("k")
	require.True(t, ok)
	assert.Equal(t, "cred-a", cred)
	assert.Equal(t, map[string]time.Duration{"k": 3*ttl/4 + ttl}, cacheExpiries(c))

	clock.Advance(ttl / 2) // past the original expiry
	cred, ok = c.Get("k")
	assert.True(t, ok)
	assert.Equal(t, "cred-a", cred)
}

func TestCacheTouch(t *testing.T) {
	const ttl = time.Hour
	c, clock := newTestCache(t, ttl, 0)
	assert.False(t, c.Touch("missing"))

	c.Set("cred-a", "k")
	clock.Advance(ttl / 2)
	assert.True(t, c.Touch("k"))
	assert.Equal(t, map[string]time.Duration{"k": ttl/2 + ttl}, cacheExpiries(c))

	clock.Advance(ttl)
	assert.False(t, c.Touch("k"), "an expired binding is not revived")
	_, ok := c.Get("k")
	assert.False(t, ok)
}

func TestCacheAliasGroupRefreshesTogether(t *testing.T) {
	const ttl = time.Hour
	c, clock := newTestCache(t, ttl, 0)
	keys := cacheKeysInDistinctShards(t, c, "k", 3)
	c.Set("cred-a", keys...)
	c.Set("cred-b", "other")

	clock.Advance(ttl / 2)
	cred, ok := c.GetAndRefresh(keys[1])
	require.True(t, ok)
	assert.Equal(t, "cred-a", cred)
	assert.Equal(t, map[string]time.Duration{
		keys[0]: ttl/2 + ttl,
		keys[1]: ttl/2 + ttl,
		keys[2]: ttl/2 + ttl,
		"other": ttl,
	}, cacheExpiries(c))

	clock.Advance(ttl / 2)
	assert.True(t, c.Touch(keys[2]))
	clock.Advance(3 * ttl / 4) // other and the first refresh have expired
	for _, k := range keys {
		cred, ok := c.Get(k)
		assert.True(t, ok, k)
		assert.Equal(t, "cred-a", cred, k)
	}
	_, ok = c.Get("other")
	assert.False(t, ok)
}

func TestCacheAliasGroupDeletesTogether(t *testing.T) {
	tests := []struct {
		name   string
		delete func(c *Cache, key string) bool
	}{
		{"Delete", func(c *Cache, key string) bool { return c.Delete(key) }},
		{"CompareAndDelete", func(c *Cache, key string) bool { return c.CompareAndDelete(key, "cred-a") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestCache(t, time.Hour, 0)
			keys := cacheKeysInDistinctShards(t, c, "k", 3)
			c.Set("cred-a", keys...)
			c.Set("cred-a", "separate")

			assert.True(t, tt.delete(c, keys[1]))
			for _, k := range keys {
				_, ok := c.Get(k)
				assert.False(t, ok, k)
			}
			assert.Equal(t, 1, c.Len(), "the group's keys are removed, not only hidden")
			cred, ok := c.Get("separate")
			assert.True(t, ok, "a group set by another call is untouched")
			assert.Equal(t, "cred-a", cred)
			assert.False(t, tt.delete(c, keys[0]), "already gone")
		})
	}
}

func TestCacheMovingAKeyLeavesItsGroup(t *testing.T) {
	const ttl = time.Hour
	c, clock := newTestCache(t, ttl, 0)
	c.Set("cred-a", "a", "b")
	clock.Advance(ttl / 4)
	c.Set("cred-b", "b", "x") // b moves; a stays with cred-a

	cred, _ := c.Get("a")
	assert.Equal(t, "cred-a", cred)
	cred, _ = c.Get("b")
	assert.Equal(t, "cred-b", cred)

	clock.Advance(ttl / 4)
	assert.True(t, c.Touch("b"), "refreshing the new group")
	assert.Equal(t, map[string]time.Duration{
		"a": ttl, // not refreshed with b any more
		"b": ttl/2 + ttl,
		"x": ttl/2 + ttl,
	}, cacheExpiries(c))

	assert.True(t, c.Delete("a"), "deleting the old group")
	cred, ok := c.Get("b")
	assert.True(t, ok, "b left a's group, so it survives")
	assert.Equal(t, "cred-b", cred)

	assert.True(t, c.Delete("x"))
	_, ok = c.Get("b")
	assert.False(t, ok, "b is deleted with its new group")
	assert.Equal(t, 0, c.Len())
}

func TestCacheSetDuplicateKeysAndNoKeys(t *testing.T) {
	c, _ := newTestCache(t, time.Hour, 0)
	c.Set("cred-a")
	assert.Equal(t, 0, c.Len())
	c.Set("cred-a", "k", "k", "j", "k")
	assert.Equal(t, 2, c.Len())
	assert.True(t, c.Delete("j"))
	assert.Equal(t, 0, c.Len())
}

func TestCacheSetCopiesKeys(t *testing.T) {
	c, _ := newTestCache(t, time.Hour, 0)
	keys := []string{"a", "b", "c"}
	c.Set("cred-a", keys...)
	keys[1] = "z" // the caller reuses its slice
	assert.True(t, c.Delete("a"))
	assert.Equal(t, 0, c.Len(), "the group still knows b")
}

func TestCacheCompareAndDelete(t *testing.T) {
	const ttl = time.Hour
	tests := []struct {
		name      string
		key, cred string
		advance   time.Duration
		want      bool
		wantLeft  int
	}{
		{"right credential", "a", "cred-a", 0, true, 1},
		{"wrong credential", "a", "cred-b", 0, false, 3},
		{"missing key", "nope", "cred-a", 0, false, 3},
		{"expired binding", "a", "cred-a", ttl, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clock := newTestCache(t, ttl, 0)
			c.Set("cred-a", "a", "b")
			clock.Advance(tt.advance / 2)
			c.Set("cred-b", "c")
			clock.Advance(tt.advance / 2)

			assert.Equal(t, tt.want, c.CompareAndDelete(tt.key, tt.cred))
			assert.Equal(t, tt.wantLeft, c.Len())
			cred, ok := c.Get("c")
			assert.True(t, ok)
			assert.Equal(t, "cred-b", cred)
		})
	}
}

func TestCacheDelete(t *testing.T) {
	const ttl = time.Hour
	c, clock := newTestCache(t, ttl, 0)
	assert.False(t, c.Delete("missing"))
	c.Set("cred-a", "k")
	clock.Advance(ttl)
	assert.False(t, c.Delete("k"), "an expired binding was not live")
	assert.Equal(t, 0, c.Len(), "but it is removed")
}

func TestCacheDeleteCredential(t *testing.T) {
	const ttl = time.Hour
	c, clock := newTestCache(t, ttl, 0)
	c.Set("cred-a", "expired")
	clock.Advance(ttl / 2)
	c.Set("cred-a", cacheKeysInDistinctShards(t, c, "g1-", 3)...)
	c.Set("cred-a", "g2")
	c.Set("cred-a", "moved", "stays")
	c.Set("cred-b", "moved", "b")
	clock.Advance(ttl / 2)

	assert.Equal(t, 5, c.DeleteCredential("cred-a"), "3 + 1 + 1 live keys")
	c.Range(func(key, cred string, _ time.Time) bool {
		assert.Equal(t, "cred-b", cred, key)
		return true
	})
	assert.Equal(t, 2, c.Len(), "expired cred-a keys are removed too")
	cred, ok := c.Get("moved")
	assert.True(t, ok)
	assert.Equal(t, "cred-b", cred)
	assert.Equal(t, 0, c.DeleteCredential("cred-a"))
	assert.Equal(t, 0, c.DeleteCredential("unknown"))
}

func TestCacheSetTTLAffectsLaterBindingsOnly(t *testing.T) {
	c, clock := newTestCache(t, time.Hour, 0)
	c.Set("cred-a", "before")
	c.SetTTL(10 * time.Minute)
	assert.Equal(t, 10*time.Minute, c.TTL())
	assert.Equal(t, map[string]time.Duration{"before": time.Hour}, cacheExpiries(c),
		"a reload keeps existing bindings and their expiry")

	c.Set("cred-a", "after")
	clock.Advance(time.Minute)
	assert.True(t, c.Touch("before"), "the next refresh applies the new TTL")
	assert.Equal(t, map[string]time.Duration{
		"before": 11 * time.Minute,
		"after":  10 * time.Minute,
	}, cacheExpiries(c))
}

func TestCacheRefreshSlack(t *testing.T) {
	c, clock := newTestCache(t, time.Hour, 0)
	c.Set("cred-a", "k")
	clock.Advance(100 * time.Millisecond)
	assert.True(t, c.Touch("k"))
	assert.Equal(t, map[string]time.Duration{"k": time.Hour}, cacheExpiries(c),
		"a refresh that gains less than the slack is skipped")
	clock.Advance(time.Second)
	assert.True(t, c.Touch("k"))
	assert.Equal(t, map[string]time.Duration{"k": time.Hour + 1100*time.Millisecond}, cacheExpiries(c))
}

func TestCacheHugeTTLSaturates(t *testing.T) {
	c, _ := newTestCache(t, time.Duration(1<<63-1), 0)
	c.Set("cred-a", "k")
	cred, ok := c.GetAndRefresh("k")
	assert.True(t, ok, "now+ttl must not wrap into the past")
	assert.Equal(t, "cred-a", cred)
}

func TestCacheBounded(t *testing.T) {
	for _, maxEntries := range []int{1, 7, 1_000, 5_000} {
		t.Run(strconv.Itoa(maxEntries), func(t *testing.T) {
			c, clock := newTestCache(t, time.Hour, maxEntries)
			var last string // the last key bound
			for i := range 10 * maxEntries {
				last = "k" + strconv.Itoa(i)
				if i%3 == 0 {
					c.Set("cred", "alias"+strconv.Itoa(i), last)
				} else {
					c.Set("cred", last)
				}
				clock.Advance(time.Millisecond)
				if i%97 == 0 {
					require.LessOrEqual(t, c.Len(), maxEntries, "after %d inserts", i+1)
				}
			}
			assert.LessOrEqual(t, c.Len(), maxEntries)
			assert.GreaterOrEqual(t, c.Len(), maxEntries*9/10, "eviction should not empty the cache")
			_, ok := c.Get(last)
			assert.True(t, ok, "the newest key is never the one evicted")
		})
	}
}

func TestCacheEvictionPrefersExpired(t *testing.T) {
	const ttl = time.Hour
	// 8 entries in one shard: the eviction sample sees all of them, which
	// makes the policy observable deterministically.
	c, clock := newTestCache(t, ttl, cacheEvictSamples)
	require.Len(t, c.shards, 1)
	for i := range 3 {
		c.Set("cred", "expired"+strconv.Itoa(i))
	}
	clock.Advance(ttl / 2)
	for i := range 5 {
		c.Set("cred", "live"+strconv.Itoa(i))
	}
	clock.Advance(ttl / 2)
	require.Equal(t, cacheEvictSamples, c.Len())

	c.Set("cred", "new")
	assert.Equal(t, 6, c.Len(), "all expired entries in the sample go at once")
	for i := range 5 {
		_, ok := c.Get("live" + strconv.Itoa(i))
		assert.True(t, ok, "live%d", i)
	}
	_, ok := c.Get("new")
	assert.True(t, ok)
}

func TestCacheEvictionPicksClosestToExpiry(t *testing.T) {
	c, clock := newTestCache(t, time.Hour, cacheEvictSamples)
	for i := range cacheEvictSamples {
		c.Set("cred", "k"+strconv.Itoa(i))
		clock.Advance(time.Minute)
	}
	require.True(t, c.Touch("k0"), "k0 becomes the most recently used")

	c.Set("cred", "new")
	assert.Equal(t, cacheEvictSamples, c.Len())
	_, ok := c.Get("k1")
	assert.False(t, ok, "k1 is now the least recently used")
	for _, k := range []string{"k0", "k2", "k7", "new"} {
		_, ok := c.Get(k)
		assert.True(t, ok, k)
	}
}

func TestCacheEvictionOnlyRemovesTheSampledKey(t *testing.T) {
	c, _ := newTestCache(t, time.Hour, 2)
	c.Set("cred-a", "a", "b")
	c.Set("cred-b", "c") // full: one of a and b is evicted
	assert.Equal(t, 2, c.Len())
	_, okA := c.Get("a")
	_, okB := c.Get("b")
	assert.True(t, okA != okB, "exactly one key of the group is evicted")
	for _, k := range []string{"a", "b"} {
		if cred, ok := c.Get(k); ok {
			assert.Equal(t, "cred-a", cred, "the rest of the group stays bound")
			assert.True(t, c.Touch(k), "and alive")
		}
	}
}

// TestCacheApproximateLRU checks the policy at scale: keys in use survive a
// flood of one-off keys ten times the capacity.
func TestCacheApproximateLRU(t *testing.T) {
	const maxEntries = 1024
	// A day's TTL and 2 s steps: nothing expires, and every refresh gains
	// more than the refresh slack, so expiries order keys by last use.
	c, clock := newTestCache(t, 24*time.Hour, maxEntries)
	hot := make([]string, 10)
	for i := range hot {
		hot[i] = "hot" + strconv.Itoa(i)
		c.Set("cred", hot[i])
	}
	for i := range 10 * maxEntries {
		clock.Advance(2 * time.Second)
		c.Set("cred", "cold"+strconv.Itoa(i))
		for _, k := range hot {
			require.True(t, c.Touch(k), "%s evicted after %d cold keys", k, i+1)
		}
	}
	assert.LessOrEqual(t, c.Len(), maxEntries)
}

func TestCacheRange(t *testing.T) {
	const ttl = time.Hour
	c, clock := newTestCache(t, ttl, 0)
	c.Set("cred-a", "expired")
	clock.Advance(ttl / 2)
	c.Set("cred-a", "a1", "a2")
	c.Set("cred-b", "b1")
	clock.Advance(ttl / 2)

	type binding struct {
		key, cred string
		expires   time.Time
	}
	var got []binding
	c.Range(func(key, cred string, expires time.Time) bool {
		got = append(got, binding{key, cred, expires})
		return true
	})
	sort.Slice(got, func(i, j int) bool { return got[i].key < got[j].key })
	exp := cacheTestEpoch.Add(ttl/2 + ttl)
	require.Len(t, got, 3)
	for i, want := range []binding{{"a1", "cred-a", exp}, {"a2", "cred-a", exp}, {"b1", "cred-b", exp}} {
		assert.Equal(t, want.key, got[i].key)
		assert.Equal(t, want.cred, got[i].cred)
		assert.True(t, want.expires.Equal(got[i].expires), "%s expires %v, want %v", want.key, got[i].expires, want.expires)
	}

	calls := 0
	c.Range(func(string, string, time.Time) bool { calls++; return false })
	assert.Equal(t, 1, calls, "Range stops when fn returns false")

	// fn runs without a lock held, so it may modify the cache.
	c.Range(func(key, _ string, _ time.Time) bool { c.Delete(key); return true })
	assert.Empty(t, cacheExpiries(c))
}

func TestCacheRealClock(t *testing.T) {
	const ttl = 50 * time.Millisecond
	c := NewCache(ttl, 0)
	defer c.Stop()
	before := time.Now()
	c.Set("cred-a", "k")
	after := time.Now()

	cred, ok := c.Get("k")
	assert.True(t, ok)
	assert.Equal(t, "cred-a", cred)
	c.Range(func(_, _ string, expires time.Time) bool {
		// The monotonic clock may drift from the wall clock by a hair.
		assert.WithinRange(t, expires, before.Add(ttl-time.Millisecond), after.Add(ttl+time.Millisecond))
		return true
	})
	assert.Eventually(t, func() bool { _, ok := c.Get("k"); return !ok }, 5*time.Second, 5*time.Millisecond)
}

// TestCacheStop is not parallel: it counts goroutines.
func TestCacheStop(t *testing.T) {
	// A plain polling loop: assert.Eventually runs its condition on a
	// goroutine of its own, which would be counted.
	settled := func(want int) bool {
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if runtime.NumGoroutine() <= want {
				return true
			}
		}
		return false
	}
	before := runtime.NumGoroutine()

	c := newCache(time.Hour, 0, time.Millisecond)
	assert.Equal(t, before, runtime.NumGoroutine(), "no sweeper before the first Set")
	c.Set("cred-a", "k")
	assert.Equal(t, before+1, runtime.NumGoroutine(), "Set starts the sweeper")
	c.Set("cred-a", "j")
	assert.Equal(t, before+1, runtime.NumGoroutine(), "only one sweeper")

	var wg sync.WaitGroup
	for range 3 {
		wg.Go(c.Stop) // concurrent and repeated Stops
	}
	wg.Wait()
	c.Stop()
	assert.True(t, settled(before), "sweeper goroutine leaked")

	cred, ok := c.GetAndRefresh("k")
	assert.True(t, ok, "the cache still answers after Stop")
	assert.Equal(t, "cred-a", cred)
	c.Set("cred-b", "late")
	assert.Equal(t, 3, c.Len())
	assert.True(t, settled(before), "Set after Stop must not restart the sweeper")

	// A cache stopped before use never starts one.
	unused := NewCache(time.Hour, 0)
	unused.Stop()
	unused.Set("cred-a", "k")
	unused.Stop()
	assert.True(t, settled(before))
}

// TestCacheConcurrentStress mixes every operation from many goroutines over
// a key space larger than the cache, with a sweeper running every
// millisecond and the clock moving. Run with -race. Besides the race
// detector it checks invariants that a lost update or a torn group would
// break.
func TestCacheConcurrentStress(t *testing.T) {
	const (
		maxEntries = 2_048 // 8 shards of 256: groups span shards
		keySpace   = 5_000
		workers    = 16
		ttl        = time.Second
	)
	ops := 20_000
	if testing.Short() {
		ops = 2_000
	}
	c, clock := newTestCacheSweeping(t, ttl, maxEntries, time.Millisecond)
	require.Len(t, c.shards, 8)
	creds := []string{"cred-0", "cred-1", "cred-2", "cred-3"}

	var wrong atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			key := func() string { return "k" + strconv.Itoa(rng.IntN(keySpace)) }
			// own is a key only this worker sets, always to ownCred: any
			// other answer for it is a bug.
			own, ownCred := fmt.Sprintf("own-%d", w), creds[w%len(creds)]
			for i := range ops {
				switch op := rng.IntN(100); {
				case op < 25:
					c.GetAndRefresh(key())
				case op < 35:
					c.Get(key())
				case op < 45:
					c.Touch(key())
				case op < 65:
					keys := make([]string, 1+rng.IntN(3))
					for j := range keys {
						keys[j] = key()
					}
					c.Set(creds[rng.IntN(len(creds))], keys...)
				case op < 72:
					c.Delete(key())
				case op < 80:
					c.CompareAndDelete(key(), creds[rng.IntN(len(creds))])
				case op < 81:
					c.DeleteCredential(creds[rng.IntN(len(creds))])
				case op < 82:
					c.Range(func(k, cred string, _ time.Time) bool { return rng.IntN(50) != 0 })
				case op < 84:
					if n := c.Len(); n > maxEntries {
						wrong.Add(1)
					}
				case op < 85:
					c.SetTTL(ttl + time.Duration(rng.IntN(2))*ttl)
				case op < 90:
					clock.Advance(time.Duration(rng.IntN(20)) * time.Millisecond)
				default:
					if i%2 == 0 {
						c.Set(ownCred, own)
					}
					if cred, ok := c.GetAndRefresh(own); ok && cred != ownCred {
						wrong.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	c.Stop()

	assert.Zero(t, wrong.Load(), "a worker saw a foreign credential or an oversized cache")
	assert.LessOrEqual(t, c.Len(), maxEntries)
	// Every stored key sits in its own shard and is listed by its group.
	for i := range c.shards {
		s := &c.shards[i]
		for k, g := range s.bindings {
			assert.Same(t, s, c.shard(k), "key %q in the wrong shard", k)
			assert.Contains(t, g.keys, k, "key %q bound to a group that does not list it", k)
		}
	}
	// Range and Get agree once the dust has settled.
	c.Range(func(k, cred string, _ time.Time) bool {
		got, ok := c.Get(k)
		assert.True(t, ok, k)
		assert.Equal(t, cred, got, k)
		return true
	})
}

func BenchmarkCacheGetAndRefreshHit(b *testing.B) {
	for _, bc := range []struct {
		name string
		keys int
	}{
		{"spread", 1 << 12}, // many sessions: the usual gateway load
		{"one-key", 1},      // one hot session: all refreshes on one group
		{"spread-fixed-clock", 1 << 12},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := NewCache(time.Hour, 0)
			defer c.Stop()
			if strings.HasSuffix(bc.name, "fixed-clock") {
				// Leaves out the clock read, which costs more than the
				// cache itself on VMs whose clock is not read in user space.
				now := time.Now()
				c.Now = func() time.Time { return now }
			}
			keys := make([]string, bc.keys)
			for i := range keys {
				keys[i] = "claude::session-" + strconv.Itoa(i) + "::claude-sonnet-4-5"
				c.Set("cred-"+strconv.Itoa(i%8), keys[i])
			}
			mask := len(keys) - 1
			var misses, seed atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(seed.Add(7919))
				for pb.Next() {
					if _, ok := c.GetAndRefresh(keys[i&mask]); !ok {
						misses.Add(1)
					}
					i++
				}
			})
			if misses.Load() != 0 {
				b.Fatalf("%d misses", misses.Load())
			}
		})
	}
}

func BenchmarkCacheGetHit(b *testing.B) {
	c := NewCache(time.Hour, 0)
	defer c.Stop()
	keys := make([]string, 1<<12)
	for i := range keys {
		keys[i] = "claude::session-" + strconv.Itoa(i) + "::claude-sonnet-4-5"
		c.Set("cred", keys[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c.Get(keys[i&(len(keys)-1)])
			i++
		}
	})
}

func BenchmarkCacheSet(b *testing.B) {
	for _, bc := range []struct {
		name       string
		maxEntries int
		keysPerSet int
	}{
		{"one-key", 0, 1},
		{"two-keys", 0, 2},           // primary and fallback hash
		{"evicting", 1 << 10, 1},     // cache full: every Set evicts
		{"evicting-two", 1 << 10, 2}, // ... across two shards
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := NewCache(time.Hour, bc.maxEntries)
			defer c.Stop()
			keys := make([]string, 1<<16)
			for i := range keys {
				keys[i] = "claude::session-" + strconv.Itoa(i) + "::claude-sonnet-4-5"
			}
			mask := len(keys) - 1
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if bc.keysPerSet == 1 {
					c.Set("cred", keys[i&mask])
				} else {
					c.Set("cred", keys[i&mask], keys[(i+1)&mask])
				}
			}
		})
	}
}

func TestCacheClearRemovesEveryBinding(t *testing.T) {
	c, _ := newTestCache(t, time.Hour, 0)
	c.Set("cred-a", "k1", "k2")
	c.Set("cred-b", "k3")
	c.Clear()
	for _, k := range []string{"k1", "k2", "k3"} {
		_, ok := c.GetAndRefresh(k)
		assert.False(t, ok, k)
	}
	assert.Zero(t, c.Len())
	c.Set("cred-a", "k1")
	cred, ok := c.Get("k1")
	assert.True(t, ok, "the cache binds again after a clear")
	assert.Equal(t, "cred-a", cred)
}
