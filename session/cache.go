package session

import (
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults used by NewCache and SetTTL when they are given zero or a
// negative value.
const (
	// DefaultCacheTTL is how long a binding lives after its last use when no
	// TTL is given. It matches the default of session_affinity_ttl.
	DefaultCacheTTL = time.Hour
	// DefaultCacheMaxEntries bounds the number of keys when NewCache is given
	// no limit. At roughly 200 bytes a key it keeps the cache near 20 MB.
	DefaultCacheMaxEntries = 100_000
)

const (
	// cacheMaxShards caps the shard count. 64 shards keep lock contention on
	// the hot path negligible at gateway request rates while keeping the
	// per-shard work of Len, Range and the sweeper small.
	cacheMaxShards = 64
	// cacheMinPerShard is the smallest per-shard capacity worth sharding for.
	// The bound is enforced per shard (see Cache), so small caches use fewer
	// shards to keep uneven hashing from evicting long before the cache as a
	// whole is full.
	cacheMinPerShard = 256
	// cacheEvictSamples is how many entries an eviction looks at, as in
	// Redis' approximate LRU: enough to find an expired or nearly expired
	// entry with high probability, few enough to keep Set O(1).
	cacheEvictSamples = 8
	// cacheDead marks a group as removed. It is below every clock reading,
	// so every check that compares an expiry with "now" sees a dead group as
	// expired, and no refresh can bring it back.
	cacheDead = math.MinInt64
	// cacheMinSweep and cacheMaxSweep clamp the sweep interval (ttl/2): a
	// short TTL must not turn the sweeper into a busy loop, and a long one
	// must not let expired bindings hold memory for hours.
	cacheMinSweep = time.Second
	cacheMaxSweep = time.Minute
	// cacheMaxRefreshSlack caps how stale a refreshed expiry may be allowed
	// to stay (see cacheRefresh).
	cacheMaxRefreshSlack = time.Second
)

// Cache binds session keys to credential names for a time-to-live, so that
// a conversation keeps using the credential whose prompt cache is warm.
//
// Bindings live TTL after their last use: GetAndRefresh and Touch extend
// them, Get does not. Keys bound by one Set form an alias group that shares
// one credential and one expiry; refreshing any key of the group refreshes
// all of them, and Delete or CompareAndDelete of any key removes the group.
// This lets turn 2 of a conversation, whose fallback key differs from turn
// 1's, inherit turn 1's binding and then bind both keys together.
//
// Expired bindings read as absent at once; a background sweeper removes them
// from memory every TTL/2 (clamped to between one second and one minute).
//
// The cache holds at most its maxEntries keys. The bound is enforced per
// shard (each of up to 64 shards holds its share of maxEntries), which keeps
// eviction lock-local and O(1). When a Set must add a key to a full shard,
// it samples up to 8 entries of that shard, as Redis does: every expired
// entry in the sample is removed; if none was expired, the sampled entry
// closest to expiry is removed. As an expiry is the last use plus the TTL,
// that is an approximate least-recently-used policy. Only the evicted key
// goes; the other keys of its alias group keep their binding.
//
// All methods are safe for concurrent use. Use NewCache; the zero Cache is
// not usable.
type Cache struct {
	// Now is the cache's clock. Nil, the default, means the real clock, read
	// as the monotonic time elapsed since NewCache: one clock read instead of
	// time.Now's two on the hot path, and a wall-clock step (NTP, a VM
	// resume) cannot expire or prolong every binding at once. Tests replace
	// it with a fake clock; set it before the first Set, which starts the
	// sweeper, and make it safe for concurrent use if the cache is shared.
	Now func() time.Time

	// base and baseWall anchor the real clock: expiries are kept as Unix
	// nanoseconds, baseWall plus the monotonic time elapsed since base.
	base     time.Time
	baseWall int64

	ttl        atomic.Int64 // time.Duration applied to new and refreshed bindings
	shards     []cacheShard
	mask       uint32 // len(shards)-1; len(shards) is a power of two
	seed       maphash.Seed
	maxEntries int

	// sweepEvery overrides the sweep interval derived from the TTL; tests
	// set it through newCache to watch the sweeper at work without waiting
	// a second.
	sweepEvery time.Duration

	// life guards the sweeper's start and stop. lifeSettled is set once the
	// sweeper has been started or the cache stopped, so Set checks one
	// atomic instead of taking a mutex.
	life        sync.Mutex
	lifeSettled atomic.Bool
	started     bool
	stopped     bool
	stop        chan struct{}
	done        chan struct{}
}

// cacheShard is one lock domain of the cache. Keys map straight to their
// group so that a hit costs one map lookup and no extra indirection.
type cacheShard struct {
	mu       sync.RWMutex
	bindings map[string]*cacheGroup
	capacity int
	// pad keeps the locks of neighbouring shards on different cache lines,
	// so goroutines hitting different shards do not slow each other down.
	_ [64]byte
}

// cacheGroup is an alias group: the keys bound together by one Set. Its
// entries may live in different shards and all point at the same group, so
// one atomic store refreshes every key at once.
//
// keys never changes after Set. A key that later moves to another group, or
// is evicted, stays listed here; that is harmless because removal only
// deletes a key whose map entry still points at this group.
type cacheGroup struct {
	cred    string
	expires atomic.Int64 // unix nanoseconds; cacheDead once removed
	keys    []string
	// inline holds keys for the common one- and two-key groups (a session
	// ID, or a primary and a fallback hash), saving Set an allocation.
	inline [2]string
}

// NewCache returns a cache whose bindings live ttl after their last use
// (DefaultCacheTTL if ttl <= 0), holding at most maxEntries keys
// (DefaultCacheMaxEntries if maxEntries <= 0).
//
// The cache owns a background sweeper goroutine that removes expired
// bindings every ttl/2, but at least every minute and at most every second.
// The goroutine starts with the first Set, not here, so that a test may
// replace Now after NewCache without racing with it; a cache that never
// holds a binding never runs one. Stop ends it.
func NewCache(ttl time.Duration, maxEntries int) *Cache {
	return newCache(ttl, maxEntries, 0)
}

// newCache is NewCache with an explicit sweep interval (0: derived from the
// TTL), for tests.
func newCache(ttl time.Duration, maxEntries int, sweepEvery time.Duration) *Cache {
	if maxEntries <= 0 {
		maxEntries = DefaultCacheMaxEntries
	}
	n := cacheMaxShards
	for n > 1 && maxEntries/n < cacheMinPerShard {
		n /= 2
	}
	base := time.Now()
	c := &Cache{
		base:       base,
		baseWall:   base.UnixNano(),
		shards:     make([]cacheShard, n),
		mask:       uint32(n - 1),
		seed:       maphash.MakeSeed(),
		maxEntries: maxEntries,
		sweepEvery: sweepEvery,
	}
	c.ttl.Store(int64(cacheTTLOrDefault(ttl)))
	// Share maxEntries out so that the shard capacities add up to exactly
	// maxEntries: the first maxEntries%n shards take one extra key.
	for i := range c.shards {
		s := &c.shards[i]
		s.capacity = maxEntries / n
		if i < maxEntries%n {
			s.capacity++
		}
		s.bindings = make(map[string]*cacheGroup)
	}
	return c
}

func cacheTTLOrDefault(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return DefaultCacheTTL
	}
	return ttl
}

// Stop ends the sweeper and waits for it to return. It is idempotent and
// safe to call concurrently. After Stop the cache still answers every call,
// and a later Set starts no sweeper, so expired bindings are then removed
// only by eviction and the Delete methods.
func (c *Cache) Stop() {
	c.life.Lock()
	if c.stopped {
		c.life.Unlock()
		return
	}
	c.stopped = true
	c.lifeSettled.Store(true)
	started := c.started
	if started {
		close(c.stop)
	}
	c.life.Unlock()
	// Wait outside the lock: the sweeper never takes it, but a concurrent
	// Stop should return at once rather than queue behind this one.
	if started {
		<-c.done
	}
}

// startSweeper starts the sweeper unless it runs already or the cache was
// stopped.
func (c *Cache) startSweeper() {
	c.life.Lock()
	defer c.life.Unlock()
	if c.started || c.stopped {
		return
	}
	c.started = true
	c.lifeSettled.Store(true)
	c.stop = make(chan struct{})
	c.done = make(chan struct{})
	go c.sweepLoop(c.stop, c.done)
}

func (c *Cache) sweepLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTimer(c.sweepInterval())
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			c.sweep(stop)
			// Recomputed each round so that SetTTL retunes the sweeper
			// without a channel of its own.
			t.Reset(c.sweepInterval())
		}
	}
}

// sweepInterval is TTL/2 clamped to [cacheMinSweep, cacheMaxSweep], unless
// a test chose one.
func (c *Cache) sweepInterval() time.Duration {
	if c.sweepEvery > 0 {
		return c.sweepEvery
	}
	return min(max(c.TTL()/2, cacheMinSweep), cacheMaxSweep)
}

// sweep removes expired bindings from every shard. It takes one shard lock
// at a time, so requests wait for at most one shard's scan, and it returns
// early when stop closes so that Stop is not held up by a large cache.
func (c *Cache) sweep(stop <-chan struct{}) {
	for i := range c.shards {
		if stop != nil {
			select {
			case <-stop:
				return
			default:
			}
		}
		s := &c.shards[i]
		s.mu.Lock()
		now := c.nowNano()
		for k, g := range s.bindings {
			if cacheKill(g, now) {
				delete(s.bindings, k)
			}
		}
		s.mu.Unlock()
	}
}

// SetTTL sets the time-to-live of bindings set or refreshed from now on
// (DefaultCacheTTL if ttl <= 0). Existing bindings keep their expiry until
// their next refresh, so a config reload with a new session_affinity_ttl
// loses no conversation. The sweeper picks up the new interval after its
// next round.
func (c *Cache) SetTTL(ttl time.Duration) {
	c.ttl.Store(int64(cacheTTLOrDefault(ttl)))
}

// TTL returns the time-to-live given to bindings when they are set or
// refreshed.
func (c *Cache) TTL() time.Duration {
	return time.Duration(c.ttl.Load())
}

// Get returns the credential bound to key without extending the binding.
// An expired binding reads as absent; memory is reclaimed by the sweeper.
func (c *Cache) Get(key string) (cred string, ok bool) {
	s := c.shard(key)
	s.mu.RLock()
	g := s.bindings[key]
	s.mu.RUnlock()
	// The group may be read after unlocking: cred never changes and expires
	// is atomic, and a group removed meanwhile reads as dead.
	if g == nil || g.expires.Load() <= c.nowNano() {
		return "", false
	}
	return g.cred, true
}

// GetAndRefresh returns the credential bound to key and extends the expiry
// of the binding, and so of its whole alias group, to now plus the TTL
// (within a second: see the refresh slack below). It is the hot path of a
// request with session affinity: a hit takes a shared lock on one shard,
// never a write lock, and does not allocate.
func (c *Cache) GetAndRefresh(key string) (cred string, ok bool) {
	g := c.lookup(key)
	if g == nil || !cacheRefresh(g, c.nowNano(), c.TTL()) {
		return "", false
	}
	return g.cred, true
}

// Touch extends key's binding, and its alias group's, like GetAndRefresh,
// for a caller that already knows the credential (e.g. after a successful
// request). It reports whether key had a live binding.
func (c *Cache) Touch(key string) bool {
	g := c.lookup(key)
	return g != nil && cacheRefresh(g, c.nowNano(), c.TTL())
}

func (c *Cache) lookup(key string) *cacheGroup {
	s := c.shard(key)
	s.mu.RLock()
	g := s.bindings[key]
	s.mu.RUnlock()
	return g
}

// cacheRefresh moves g's expiry to now+ttl if g is live, and reports whether
// it was. The compare-and-swap loop makes a refresh and a removal of the same
// group exclusive: once a group is dead or expired, no refresh revives it.
//
// A hot group is refreshed by many requests at once; to keep them from
// fighting over one cache line, a refresh that would move the expiry forward
// by less than a slack (TTL/1024, at most a second) is skipped. The expiry is
// then at most that slack short of now+ttl, which no conversation notices. A
// refresh that moves the expiry backward (after SetTTL shortened the TTL) is
// always stored.
func cacheRefresh(g *cacheGroup, now int64, ttl time.Duration) bool {
	want := cacheAdd(now, ttl)
	slack := int64(min(ttl>>10, cacheMaxRefreshSlack))
	for {
		old := g.expires.Load()
		if old <= now {
			return false
		}
		if d := want - old; d >= 0 && d < slack {
			return true
		}
		if g.expires.CompareAndSwap(old, want) {
			return true
		}
	}
}

// cacheKill marks g dead if it has expired by now and reports whether g is
// dead, so that a refresh racing with the sweeper cannot revive half a
// group whose other keys are already gone.
func cacheKill(g *cacheGroup, now int64) bool {
	for {
		e := g.expires.Load()
		if e > now {
			return false
		}
		if e == cacheDead || g.expires.CompareAndSwap(e, cacheDead) {
			return true
		}
	}
}

// cacheAdd returns now+ttl, saturating instead of wrapping for absurd TTLs.
func cacheAdd(now int64, ttl time.Duration) int64 {
	if s := now + int64(ttl); s >= now {
		return s
	}
	return math.MaxInt64
}

// Set binds every key to cred as one alias group with a common expiry of
// now plus the TTL. A key that was bound before, to any credential, leaves
// its old group, whose other keys keep their binding and expiry. Duplicate
// keys are bound once. Adding a key to a full shard evicts as described on
// Cache.
func (c *Cache) Set(cred string, keys ...string) {
	if len(keys) == 0 {
		return
	}
	if !c.lifeSettled.Load() {
		c.startSweeper()
	}
	g := &cacheGroup{cred: cred}
	// Copy the keys: the caller may reuse its slice.
	if len(keys) <= len(g.inline) {
		g.keys = g.inline[:0]
	} else {
		g.keys = make([]string, 0, len(keys))
	}
	for _, k := range keys {
		if !cacheContains(g.keys, k) {
			g.keys = append(g.keys, k)
		}
	}
	g.expires.Store(cacheAdd(c.nowNano(), c.TTL()))

	for _, k := range g.keys {
		s := c.shard(k)
		s.mu.Lock()
		// Look the key up only when the shard is full: re-binding a
		// present key needs no room, and most Sets find room anyway.
		if len(s.bindings) >= s.capacity {
			if _, ok := s.bindings[k]; !ok {
				c.evict(s)
			}
		}
		s.bindings[k] = g
		s.mu.Unlock()
	}
}

// cacheContains is a linear search: groups have one or two keys, rarely
// more, so it beats building a set.
func cacheContains(keys []string, k string) bool {
	for _, have := range keys {
		if have == k {
			return true
		}
	}
	return false
}

// evict frees at least one slot in the full shard s, whose write lock the
// caller holds. It looks at up to cacheEvictSamples entries (Go starts each
// map iteration at a random place, which makes them a random sample):
// expired entries are all removed, and if there was none, the sampled entry
// closest to expiry goes.
func (c *Cache) evict(s *cacheShard) {
	now := c.nowNano()
	var (
		victim     string
		victimExp  int64
		found      bool
		removedAny bool
		seen       int
	)
	for k, g := range s.bindings {
		if cacheKill(g, now) {
			delete(s.bindings, k)
			removedAny = true
		} else if e := g.expires.Load(); !found || e < victimExp {
			victim, victimExp, found = k, e, true
		}
		if seen++; seen >= cacheEvictSamples {
			break
		}
	}
	if !removedAny && found {
		// Only this key goes: the rest of its group stays bound, so the
		// group is not marked dead.
		delete(s.bindings, victim)
	}
}

// CompareAndDelete removes key's whole alias group, but only if key is
// bound, live, to cred. It reports whether it removed the group. The
// selector uses it to drop a binding after a terminal failure without
// undoing a re-bind another request made in the meantime.
func (c *Cache) CompareAndDelete(key, cred string) bool {
	return c.deleteGroup(key, func(g *cacheGroup) bool { return g.cred == cred })
}

// Delete removes key's whole alias group (per-session invalidation) and
// reports whether key had a live binding.
func (c *Cache) Delete(key string) bool {
	return c.deleteGroup(key, nil)
}

// deleteGroup kills the group key is bound to, if match accepts it, and
// removes the group's keys. The group is marked dead first, under key's
// shard lock, so every other key of the group reads as absent from that
// moment even before its own shard is visited. Shard locks are taken one at
// a time, never nested, so no lock order is needed.
func (c *Cache) deleteGroup(key string, match func(*cacheGroup) bool) bool {
	s := c.shard(key)
	s.mu.Lock()
	g := s.bindings[key]
	if g == nil || (match != nil && !match(g)) {
		s.mu.Unlock()
		return false
	}
	live := cacheKillNow(g, c.nowNano())
	delete(s.bindings, key)
	s.mu.Unlock()

	for _, k := range g.keys {
		if k != key {
			c.removeIfBoundTo(k, g)
		}
	}
	return live
}

// cacheKillNow marks g dead whatever its expiry and reports whether it was
// live until then.
func cacheKillNow(g *cacheGroup, now int64) bool {
	return g.expires.Swap(cacheDead) > now
}

// removeIfBoundTo deletes key if it still belongs to g; a key that moved to
// another group since g was set is left alone.
func (c *Cache) removeIfBoundTo(key string, g *cacheGroup) {
	s := c.shard(key)
	s.mu.Lock()
	if s.bindings[key] == g {
		delete(s.bindings, key)
	}
	s.mu.Unlock()
}

// DeleteCredential removes every binding to cred (per-credential
// invalidation, e.g. when a credential is revoked or removed from the
// pool) and returns how many live keys were bound to it. Bindings set for
// cred while it runs may survive, so callers should first make the
// credential unavailable to the selector.
func (c *Cache) DeleteCredential(cred string) int {
	now := c.nowNano()
	var killed map[*cacheGroup]struct{} // groups this call found live and killed
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, g := range s.bindings {
			if g.cred != cred {
				continue
			}
			if _, ok := killed[g]; ok {
				n++
			} else if cacheKillNow(g, now) {
				if killed == nil {
					killed = make(map[*cacheGroup]struct{})
				}
				killed[g] = struct{}{}
				n++
			}
			delete(s.bindings, k)
		}
		s.mu.Unlock()
	}
	return n
}

// Len returns the number of keys held, which may include expired bindings
// the sweeper has not removed yet. It never exceeds maxEntries.
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.bindings)
		s.mu.RUnlock()
	}
	return n
}

// Range calls fn for each live binding with its key, credential and expiry,
// in no particular order, until fn returns false. It is meant for the
// management API. fn runs without any lock held, so it may call the cache;
// each shard is read as a snapshot, so bindings changed meanwhile may or may
// not be seen. With the real clock, expiries are derived from the monotonic
// clock and may differ from the wall clock by the drift since NewCache.
func (c *Cache) Range(fn func(key, cred string, expires time.Time) bool) {
	type binding struct {
		key, cred string
		expires   int64
	}
	var snap []binding
	for i := range c.shards {
		s := &c.shards[i]
		snap = snap[:0]
		s.mu.RLock()
		now := c.nowNano()
		for k, g := range s.bindings {
			if e := g.expires.Load(); e > now {
				snap = append(snap, binding{k, g.cred, e})
			}
		}
		s.mu.RUnlock()
		for _, b := range snap {
			if !fn(b.key, b.cred, time.Unix(0, b.expires)) {
				return
			}
		}
	}
}

// nowNano returns the cache's time in Unix nanoseconds.
func (c *Cache) nowNano() int64 {
	if c.Now != nil {
		return c.Now().UnixNano()
	}
	return c.baseWall + int64(time.Since(c.base))
}

// shard picks key's shard. maphash uses the runtime's AES-based string hash,
// several times faster than a byte-at-a-time FNV loop on session keys of 40
// to 80 bytes, and its per-cache random seed keeps a client from choosing
// session IDs that all land in one shard and evict each other.
func (c *Cache) shard(key string) *cacheShard {
	return &c.shards[uint32(maphash.String(c.seed, key))&c.mask]
}

// Clear removes every binding, as if each had expired.
func (c *Cache) Clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, g := range s.bindings {
			g.expires.Store(cacheDead)
			delete(s.bindings, k)
		}
		s.mu.Unlock()
	}
}
