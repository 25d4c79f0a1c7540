package management

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/caddy-cliproxy/cliproxy/access"
)

// The defaults of a Lockout.
const (
	DefaultMaxFailures     = 5
	DefaultLockoutDuration = 30 * time.Minute

	// maxLockoutEntries bounds the addresses a Lockout remembers, so a
	// flood of addresses cannot grow memory without end.
	maxLockoutEntries = 16384
)

// Lockout counts failed attempts per client network and locks it out once
// it failed MaxFailures times within Duration, for Duration. A network is an
// IPv4 address, an IPv6 /64 (which one client usually owns whole), or the
// whole loopback range, v4 and v6, as one: every loopback address is the
// same machine, and rotating through 127.0.0.0/8 must not buy more guesses.
// When the table of networks is full of locked ones, a network it has no
// room for is locked too, rather than left to guess uncounted. Safe for
// concurrent use.
type Lockout struct {
	// MaxFailures is how many failures lock an address. Default: 5.
	MaxFailures int
	// Duration is how long a lock lasts, and how long a failure counts.
	// Default: 30m.
	Duration time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time

	mu     sync.Mutex
	byAddr map[netip.Addr]*failures
	// fullUntil is when the first lock of a full table ends: until then
	// there is no room for a new network, and every new one is locked
	fullUntil time.Time
}

type failures struct {
	count  int
	last   time.Time // of the last failure
	locked time.Time // until when; zero if not locked
}

func (l *Lockout) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Lockout) max() int {
	if l.MaxFailures > 0 {
		return l.MaxFailures
	}
	return DefaultMaxFailures
}

func (l *Lockout) duration() time.Duration {
	if l.Duration > 0 {
		return l.Duration
	}
	return DefaultLockoutDuration
}

// loopbackKey is the one key of every loopback address.
var loopbackKey = netip.IPv6Loopback()

// lockKey is the network a lock applies to.
func lockKey(addr netip.Addr) netip.Addr {
	addr = addr.Unmap()
	if addr.IsLoopback() {
		return loopbackKey
	}
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return addr
}

// Locked reports until when addr is locked out, if it is.
func (l *Lockout) Locked(addr netip.Addr) (time.Time, bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.byAddr[lockKey(addr)]
	if f == nil {
		if now.Before(l.fullUntil) {
			return l.fullUntil, true
		}
		return time.Time{}, false
	}
	if !now.Before(f.locked) {
		return time.Time{}, false
	}
	return f.locked, true
}

// Fail records a failed attempt of addr and returns until when addr is now
// locked out (zero if it is not).
func (l *Lockout) Fail(addr netip.Addr) time.Time {
	now := l.now()
	key := lockKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byAddr == nil {
		l.byAddr = make(map[netip.Addr]*failures)
	}
	f := l.byAddr[key]
	if f == nil {
		if now.Before(l.fullUntil) {
			return l.fullUntil
		}
		if len(l.byAddr) >= maxLockoutEntries && !l.pruneLocked(now) {
			// every remembered network is locked and none may be
			// forgotten early: this one is locked as well, until the
			// first lock ends and makes room
			return l.fullUntil
		}
		f = new(failures)
		l.byAddr[key] = f
	}
	if now.Sub(f.last) >= l.duration() || (!f.locked.IsZero() && !now.Before(f.locked)) {
		// old failures and ended locks count no more
		f.count, f.locked = 0, time.Time{}
	}
	f.count++
	f.last = now
	if f.count >= l.max() {
		f.locked = now.Add(l.duration())
	}
	return f.locked
}

// Succeed forgets addr's failures.
func (l *Lockout) Succeed(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.byAddr, lockKey(addr))
}

// pruneLocked forgets addresses whose failures no longer count and, if
// that frees nothing, a quarter of the unlocked ones (in the map's random
// order), so room is made in one pass per many insertions. Locked
// addresses are never forgotten early. It reports whether there is room;
// when there is none, it sets fullUntil to when the first lock ends.
func (l *Lockout) pruneLocked(now time.Time) bool {
	for k, f := range l.byAddr {
		if !now.Before(f.locked) && (now.Sub(f.last) >= l.duration() || !f.locked.IsZero()) {
			delete(l.byAddr, k)
		}
	}
	for k, f := range l.byAddr {
		if len(l.byAddr) < maxLockoutEntries*3/4 {
			break
		}
		if !now.Before(f.locked) {
			delete(l.byAddr, k)
		}
	}
	if len(l.byAddr) < maxLockoutEntries {
		return true
	}
	l.fullUntil = time.Time{}
	for _, f := range l.byAddr {
		if l.fullUntil.IsZero() || f.locked.Before(l.fullUntil) {
			l.fullUntil = f.locked
		}
	}
	return false
}

// Guard decides who may use the API mounted on a site: a client must
// present the key (or, from loopback only, the runtime password) and must
// connect from loopback unless AllowRemote is set; repeated wrong secrets
// lock the address out. Secrets are kept as SHA-256 hashes and compared in
// constant time.
type Guard struct {
	key, password       [sha256.Size]byte
	hasKey, hasPassword bool
	allowRemote         bool
	lockout             *Lockout
}

// NewGuard builds a guard. keyHash is the SHA-256 of the key (nil: no
// key); password, when not empty, is accepted from loopback clients only;
// lockout counts the failures (nil: a Lockout with the defaults).
func NewGuard(keyHash []byte, password string, allowRemote bool, lockout *Lockout) *Guard {
	g := &Guard{allowRemote: allowRemote, lockout: lockout}
	if len(keyHash) == sha256.Size {
		copy(g.key[:], keyHash)
		g.hasKey = true
	}
	if password != "" {
		g.password = sha256.Sum256([]byte(password))
		g.hasPassword = true
	}
	if g.lockout == nil {
		g.lockout = &Lockout{}
	}
	return g
}

// PresentedKey is the secret a request presents as an Authorization Bearer
// token, the scheme in any case as the client-key parser reads it. No other
// header is read: Caddy's access log redacts Authorization and would record
// any other header in clear.
func PresentedKey(r *http.Request) string {
	return access.BearerToken(r.Header.Get("Authorization"))
}

// Check admits or refuses a request from client that presents secret. A
// refused remote client, a locked-out address and a request without any
// secret are not counted as failures; a wrong secret is.
func (g *Guard) Check(client netip.Addr, secret string) *Error {
	client = client.Unmap()
	return g.CheckFrom(client, client.IsLoopback(), secret)
}

// CheckFrom is Check for a caller that judged itself whether client is
// local (a forwarded address can name loopback without being it); client
// keys the lockout.
func (g *Guard) CheckFrom(client netip.Addr, local bool, secret string) *Error {
	client = client.Unmap()
	if !local && !g.allowRemote {
		return newError(http.StatusForbidden, CodeRemoteRefused, "the management API accepts only local clients here")
	}
	if until, locked := g.lockout.Locked(client); locked {
		return lockedOut(until, g.lockout.now())
	}
	if secret == "" {
		return newError(http.StatusUnauthorized, CodeUnauthorized, "a management key is required (Authorization: Bearer <key>)")
	}
	sum := sha256.Sum256([]byte(secret))
	ok := g.hasKey && subtle.ConstantTimeCompare(sum[:], g.key[:]) == 1
	if !ok && local && g.hasPassword {
		ok = subtle.ConstantTimeCompare(sum[:], g.password[:]) == 1
	}
	if !ok {
		if until := g.lockout.Fail(client); !until.IsZero() {
			return lockedOut(until, g.lockout.now())
		}
		return newError(http.StatusUnauthorized, CodeUnauthorized, "invalid management key")
	}
	g.lockout.Succeed(client)
	return nil
}

func lockedOut(until, now time.Time) *Error {
	e := newError(http.StatusForbidden, CodeLockedOut, "too many failed attempts from this address; try again later")
	e.RetryAfter = until.Sub(now)
	return e
}
