package management

import (
	"crypto/sha256"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newGuard(t *testing.T, key, password string, remote bool) (*Guard, *clock) {
	t.Helper()
	clk := &clock{now: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	var hash []byte
	if key != "" {
		sum := sha256.Sum256([]byte(key))
		hash = sum[:]
	}
	return NewGuard(hash, password, remote, &Lockout{Now: clk.Now}), clk
}

var (
	loopback  = netip.MustParseAddr("127.0.0.1")
	loopback6 = netip.MustParseAddr("::1")
	mapped    = netip.MustParseAddr("::ffff:127.0.0.1")
	remote    = netip.MustParseAddr("203.0.113.9")
	remote6   = netip.MustParseAddr("2001:db8:1:2::10")
)

func code(e *Error) string {
	if e == nil {
		return ""
	}
	return e.Code
}

func TestGuardAdmitsTheKeyFromLoopbackOnly(t *testing.T) {
	g, _ := newGuard(t, "the-key", "", false)
	for _, a := range []netip.Addr{loopback, loopback6, mapped} {
		assert.Nil(t, g.Check(a, "the-key"), "%s", a)
	}
	assert.Equal(t, CodeRemoteRefused, code(g.Check(remote, "the-key")))
	assert.Equal(t, CodeRemoteRefused, code(g.Check(netip.Addr{}, "the-key")), "an unknown address is not local")
	assert.Equal(t, CodeUnauthorized, code(g.Check(loopback, "")))
	assert.Equal(t, CodeUnauthorized, code(g.Check(loopback, "the-key2")))
	assert.Equal(t, CodeUnauthorized, code(g.Check(loopback, "the-ke")))

	g, _ = newGuard(t, "the-key", "", true)
	assert.Nil(t, g.Check(remote, "the-key"), "allow_remote admits a remote client with the key")
}

func TestGuardTakesThePasswordFromLoopbackOnly(t *testing.T) {
	g, _ := newGuard(t, "", "pw-runtime", true)
	assert.Nil(t, g.Check(loopback, "pw-runtime"))
	assert.Nil(t, g.Check(loopback6, "pw-runtime"))
	assert.Equal(t, CodeUnauthorized, code(g.Check(remote, "pw-runtime")))

	g, _ = newGuard(t, "the-key", "pw-runtime", true)
	assert.Nil(t, g.Check(loopback, "pw-runtime"))
	assert.Nil(t, g.Check(remote, "the-key"))
	assert.Equal(t, CodeUnauthorized, code(g.Check(remote, "pw-runtime")))
}

func TestLockoutLocksForThirtyMinutesAfterFiveFailures(t *testing.T) {
	g, clk := newGuard(t, "the-key", "", true)
	for i := range 4 {
		assert.Equal(t, CodeUnauthorized, code(g.Check(loopback, "wrong")), "failure %d", i+1)
	}
	e := g.Check(loopback, "wrong")
	require.Equal(t, CodeLockedOut, code(e), "the fifth failure locks")
	assert.Equal(t, http.StatusForbidden, e.Status)
	assert.Equal(t, 30*time.Minute, e.RetryAfter)
	assert.Equal(t, CodeLockedOut, code(g.Check(loopback, "the-key")), "a locked address is refused even the key")
	assert.Nil(t, g.Check(remote, "the-key"), "another address is not locked")

	clk.Advance(29 * time.Minute)
	e = g.Check(loopback, "the-key")
	require.Equal(t, CodeLockedOut, code(e))
	assert.Equal(t, time.Minute, e.RetryAfter)
	clk.Advance(time.Minute)
	assert.Nil(t, g.Check(loopback, "the-key"), "the lock ends after 30 minutes")

	// an ended lock starts counting afresh
	for range 4 {
		g.Check(loopback, "wrong")
	}
	assert.Nil(t, g.Check(loopback, "the-key"))
}

func TestLockoutForgetsOldFailuresAndSuccesses(t *testing.T) {
	g, clk := newGuard(t, "the-key", "", false)
	for range 4 {
		g.Check(loopback, "wrong")
	}
	clk.Advance(30 * time.Minute)
	assert.Equal(t, CodeUnauthorized, code(g.Check(loopback, "wrong")), "failures older than the window do not count")
	for range 3 {
		g.Check(loopback, "wrong")
	}
	assert.Nil(t, g.Check(loopback, "the-key"))
	for range 4 {
		assert.Equal(t, CodeUnauthorized, code(g.Check(loopback, "wrong")), "a success forgets the failures")
	}
}

func TestLockoutCountsIPv6ByPrefix(t *testing.T) {
	g, _ := newGuard(t, "the-key", "", true)
	for i := range 5 {
		// one client hopping through its /64
		a := remote6.As16()
		a[15] = byte(i)
		g.Check(netip.AddrFrom16(a), "wrong")
	}
	assert.Equal(t, CodeLockedOut, code(g.Check(netip.MustParseAddr("2001:db8:1:2::ffff"), "the-key")))
	assert.Nil(t, g.Check(netip.MustParseAddr("2001:db8:1:3::1"), "the-key"), "another /64 is not locked")
}

func TestLockoutCountsLoopbackAsOneNetwork(t *testing.T) {
	g, _ := newGuard(t, "the-key", "", false)
	for i := range 5 {
		// one machine rotating through 127.0.0.0/8, and ::1
		addr := netip.AddrFrom4([4]byte{127, 0, 1, byte(i + 1)})
		if i == 4 {
			addr = loopback6
		}
		g.Check(addr, "wrong")
	}
	for _, a := range []netip.Addr{loopback, loopback6, mapped, netip.MustParseAddr("127.9.9.9")} {
		assert.Equal(t, CodeLockedOut, code(g.Check(a, "the-key")), "%s", a)
	}
}

func TestLockoutCountsIPv4ByAddress(t *testing.T) {
	g, _ := newGuard(t, "the-key", "", true)
	for range 5 {
		g.Check(remote, "wrong")
	}
	assert.Equal(t, CodeLockedOut, code(g.Check(remote, "the-key")))
	assert.Nil(t, g.Check(netip.MustParseAddr("203.0.113.10"), "the-key"), "the next IPv4 address is another client")
	assert.Equal(t, CodeLockedOut, code(g.Check(netip.MustParseAddr("::ffff:203.0.113.9"), "the-key")), "a mapped address is the same client")
}

// When every remembered network is locked, a new one cannot be counted:
// it is locked as well, until the first lock ends and makes room.
func TestLockoutFullOfLocksLocksNewNetworks(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	l := &Lockout{Now: clk.Now}
	g := NewGuard(func() []byte { s := sha256.Sum256([]byte("the-key")); return s[:] }(), "", true, l)
	for i := range maxLockoutEntries {
		addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		for range DefaultMaxFailures {
			l.Fail(addr)
		}
		if i == 0 {
			clk.Advance(time.Minute) // the first lock ends a minute before the others
		}
	}
	require.Len(t, l.byAddr, maxLockoutEntries)
	newcomer := netip.MustParseAddr("198.51.100.1")
	e := g.Check(newcomer, "wrong")
	require.Equal(t, CodeLockedOut, code(e), "a network the full table has no room for guessed uncounted")
	assert.Equal(t, DefaultLockoutDuration-time.Minute, e.RetryAfter, "locked until the first lock ends")
	assert.Equal(t, CodeLockedOut, code(g.Check(netip.MustParseAddr("198.51.100.2"), "the-key")), "no new network gets a guess while the table is full")

	clk.Advance(DefaultLockoutDuration - time.Minute)
	assert.Equal(t, CodeUnauthorized, code(g.Check(newcomer, "wrong")), "the first lock ended and made room")
	assert.Nil(t, g.Check(netip.MustParseAddr("198.51.100.2"), "the-key"))
}

func TestLockoutMemoryIsBounded(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	l := &Lockout{Now: clk.Now}
	for i := range maxLockoutEntries + 100 {
		l.Fail(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	assert.LessOrEqual(t, len(l.byAddr), maxLockoutEntries)
	// locked addresses are not evicted to make room
	locked := netip.MustParseAddr("192.0.2.1")
	for range 5 {
		l.Fail(locked)
	}
	for i := range maxLockoutEntries {
		l.Fail(netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	_, ok := l.Locked(locked)
	assert.True(t, ok)
}

func TestPresentedKeyTakesTheSchemeInAnyCase(t *testing.T) {
	for _, v := range []string{"Bearer the-key", "bearer the-key", "BEARER the-key", "Bearer   the-key "} {
		r, err := http.NewRequest(http.MethodGet, "/", nil)
		require.NoError(t, err)
		r.Header.Set("Authorization", v)
		assert.Equal(t, "the-key", PresentedKey(r), "%q", v)
	}
	r, err := http.NewRequest(http.MethodGet, "/", nil)
	require.NoError(t, err)
	r.Header.Set("Authorization", "Basic the-key")
	assert.Empty(t, PresentedKey(r), "another scheme is not a bearer token")
}
