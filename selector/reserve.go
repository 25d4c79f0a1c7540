package selector

import (
	"sync"
	"time"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// A new session's binding is written only when its first answer arrives,
// so the requests a client opens at once for one new session (Claude Code
// sends several) would each be placed on their own. A reservation closes
// that gap: the first placement is reserved at pick time, the others of
// the same session take the reserved credential, success confirms it
// (the binding is written), and a failure of that credential releases it.
//
// Reservations are local to the process; in cluster mode the bindings
// themselves are shared once written.
const (
	// reserveTTL bounds a reservation nobody settles (a client that left,
	// an answer that was the client's own fault).
	reserveTTL = 30 * time.Second
	// confirmedGrace keeps a confirmed reservation for a request that
	// looked the binding up just before it was written.
	confirmedGrace = 5 * time.Second
	// maxReservations bounds the memory of reservations; past it a new
	// session is placed without one.
	maxReservations = 1 << 16
)

type reservation struct {
	cred    string
	expires time.Time
}

// reservations are the pending placements of new sessions, by binding key.
type reservations struct {
	mu sync.Mutex
	m  map[string]reservation
}

// place returns the credential reserved for s if home still finds it
// usable, else places s with pick and reserves the result.
func (r *reservations) place(s Session, now time.Time, home HomeFunc, pick func() *auth.Credential) *auth.Credential {
	r.mu.Lock()
	defer r.mu.Unlock()
	if res, ok := r.m[s.Key]; ok && now.Before(res.expires) {
		if c, usable, _ := home(res.cred); c != nil && usable {
			return c
		}
	}
	c := pick()
	if c == nil {
		return nil
	}
	if r.m == nil {
		r.m = make(map[string]reservation)
	}
	if len(r.m) >= maxReservations {
		r.sweep(now)
	}
	if len(r.m) < maxReservations {
		r.m[s.Key] = reservation{cred: c.Name, expires: now.Add(reserveTTL)}
	}
	return c
}

// confirm shortens the reservation of s on cred to a grace period: the
// binding is written now.
func (r *reservations) confirm(s Session, cred string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if res, ok := r.m[s.Key]; ok && res.cred == cred {
		r.m[s.Key] = reservation{cred: cred, expires: now.Add(confirmedGrace)}
	}
}

// release drops the reservation of s if it is on cred.
func (r *reservations) release(s Session, cred string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if res, ok := r.m[s.Key]; ok && res.cred == cred {
		delete(r.m, s.Key)
	}
}

// sweep drops the expired reservations; r.mu is held.
func (r *reservations) sweep(now time.Time) {
	for k, res := range r.m {
		if !now.Before(res.expires) {
			delete(r.m, k)
		}
	}
}
