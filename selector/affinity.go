package selector

import (
	"sync/atomic"
	"time"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// DefaultHold is how long a bound credential may be blocked and still keep
// its sessions: a short rate-limit window or a transient upstream fault
// moves a request elsewhere for a while, and the session comes home after.
const DefaultHold = 2 * time.Minute

// Bindings stores which credential each session is bound to.
// session.Cache implements it.
type Bindings interface {
	// GetAndRefresh returns the credential bound to key and extends the
	// binding's life.
	GetAndRefresh(key string) (cred string, ok bool)
	// Set binds every key to cred as one alias group.
	Set(cred string, keys ...string)
	// CompareAndDelete removes key's binding only if it points to cred.
	CompareAndDelete(key, cred string) bool
}

// PairBindings is a Bindings that looks a session's key and its fallback
// up at once, which saves a round trip for a store that is not in memory
// (cluster mode's Redis). Affinity uses it when Bindings has it.
type PairBindings interface {
	Bindings
	// GetAndRefreshPair is GetAndRefresh of key, or else of fallback;
	// viaFallback tells which one was bound.
	GetAndRefreshPair(key, fallback string) (cred string, viaFallback, ok bool)
}

// Session names the binding keys of one request. The zero Session means
// the request belongs to no session.
type Session struct {
	// Key is the session's binding key.
	Key string
	// Fallback is an alias the session may have been bound under before
	// (turn 1 of a hash-identified conversation); "" if none.
	Fallback string
}

// HomeFunc reports on the credential a session is bound to: the credential
// (nil if it no longer exists or cannot serve this request at all),
// whether it may serve the request now, and if not, until when it is
// blocked (zero: not by a cooldown that ends).
type HomeFunc func(name string) (c *auth.Credential, usable bool, blockedUntil time.Time)

// Outcome says how a pick related to the session's binding.
type Outcome uint8

// The outcomes of an affinity pick.
const (
	// NoSession: the request has no session; the strategy picked.
	NoSession Outcome = iota
	// Hit: the session's credential serves it.
	Hit
	// Miss: the session had no binding; the strategy picked and the
	// session is bound once the credential answers.
	Miss
	// Rebind: the session's credential is out for longer than the hold;
	// the strategy picked a new home.
	Rebind
	// Detour: the session's credential is out for a short while; another
	// serves this request and the binding stays home. The session keeps
	// its detour credential while its home is out, so the detour's prompt
	// cache warms instead of the session moving every request.
	Detour
)

// DetourSuffix ends the binding key under which a session keeps its detour
// credential while its home is out: "<session key>::detour".
const DetourSuffix = "::detour"

// Decision is the result of an affinity pick.
type Decision struct {
	// Credential serves the request; nil if no candidate can.
	Credential *auth.Credential
	// Bind tells the caller to bind the session to Credential once it
	// answers successfully (see Affinity.Succeeded).
	Bind    bool
	Outcome Outcome
	// newDetour: Credential is a detour the session has not kept yet.
	newDetour bool
}

// Affinity keeps each session on the credential it was bound to, so
// provider-side prompt caches keep hitting, and uses the wrapped strategy
// only to place a session: for its first request, when its home is gone,
// or for a detour while its home is briefly out. A detour is kept (bound
// under the session's key plus DetourSuffix) for the session's next
// requests while its home stays out, and the session goes home when its
// home is back.
//
// A bound credential keeps its sessions even when a credential of a higher
// priority tier comes back: moving a live conversation would throw its
// cache away. Pick must therefore be offered the available candidates of
// every tier; Next (usually a Tiered strategy) applies the tiers for new
// placements.
type Affinity struct {
	// Next places sessions. Required.
	Next Selector
	// Bindings stores the bindings. Required.
	Bindings Bindings
	// Hold is the longest block that keeps a session's binding. Default:
	// DefaultHold.
	Hold time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time

	hits, misses, rebinds, detours atomic.Uint64
	pending                        reservations
}

// Pick chooses the credential for a request of session s from candidates
// (available, every tier, ordered by name); home reports on a bound
// credential.
func (a *Affinity) Pick(key string, s Session, candidates []*auth.Credential, home HomeFunc) Decision {
	return a.PickFrom(key, s, func() []*auth.Credential { return candidates }, home)
}

// PickFrom is Pick for a caller whose list of available candidates costs
// work to build: candidates is called only when the session has to be
// placed (no binding, or a home that cannot serve), so a bound session's
// request does no work that grows with the pool.
func (a *Affinity) PickFrom(key string, s Session, candidates func() []*auth.Credential, home HomeFunc) Decision {
	return a.PickPlaced(key, s, candidates, home, Placement{})
}

// PickPlaced is PickFrom with the credentials' usage levels: new
// placements skip credentials at pl's threshold (Quota.Place), and a
// session leaves a home at its move threshold for a credential with less
// use, binding there; below it the session stays, its cache being worth
// more than the room.
func (a *Affinity) PickPlaced(key string, s Session, candidates func() []*auth.Credential, home HomeFunc, pl Placement) Decision {
	if s.Key == "" {
		return Decision{Credential: pl.Pick(a.Next, key, candidates()), Outcome: NoSession}
	}
	name, inherited, ok := a.lookup(s)
	if !ok {
		a.misses.Add(1)
		c := a.pending.place(s, a.now(), home, func() *auth.Credential { return pl.Pick(a.Next, key, candidates()) })
		return Decision{Credential: c, Bind: true, Outcome: Miss}
	}
	c, usable, until := home(name)
	if c != nil && usable {
		if pl.Levels != nil && pl.Quota.Moves(pl.Levels(c)) {
			if to := pl.Pick(a.Next, key, candidates()); to != nil && to != c &&
				pl.Levels(to).Utilization < pl.Levels(c).Utilization {
				a.rebinds.Add(1)
				return Decision{Credential: to, Bind: true, Outcome: Rebind}
			}
		}
		a.hits.Add(1)
		// a session found through its fallback binds its own key too
		return Decision{Credential: c, Bind: inherited, Outcome: Hit}
	}
	if c != nil && !until.IsZero() && until.Sub(a.now()) <= a.hold() {
		a.detours.Add(1)
		if dn, ok := a.Bindings.GetAndRefresh(s.Key + DetourSuffix); ok && dn != name {
			if dc, usable, _ := home(dn); dc != nil && usable {
				return Decision{Credential: dc, Outcome: Detour}
			}
		}
		return Decision{Credential: pl.Pick(a.Next, key, candidates()), Outcome: Detour, newDetour: true}
	}
	a.rebinds.Add(1)
	return Decision{Credential: pl.Pick(a.Next, key, candidates()), Bind: true, Outcome: Rebind}
}

// lookup finds s's binding under its key, or else under its fallback
// (inherited).
func (a *Affinity) lookup(s Session) (name string, inherited, ok bool) {
	if s.Fallback != "" {
		if pb, isPair := a.Bindings.(PairBindings); isPair {
			return pb.GetAndRefreshPair(s.Key, s.Fallback)
		}
	}
	if name, ok = a.Bindings.GetAndRefresh(s.Key); ok || s.Fallback == "" {
		return name, false, ok
	}
	name, ok = a.Bindings.GetAndRefresh(s.Fallback)
	return name, ok, ok
}

// Succeeded records that c answered a request of s successfully; d is the
// decision that picked c.
func (a *Affinity) Succeeded(s Session, d Decision, c *auth.Credential) {
	if d.newDetour && s.Key != "" && c != nil {
		a.Bindings.Set(c.Name, s.Key+DetourSuffix)
		return
	}
	if !d.Bind || s.Key == "" || c == nil {
		return
	}
	if s.Fallback != "" {
		a.Bindings.Set(c.Name, s.Key, s.Fallback)
	} else {
		a.Bindings.Set(c.Name, s.Key)
	}
	a.pending.confirm(s, c.Name, a.now())
}

// Failed records that c failed a request of s. Any failure releases a
// new session's reservation of c. A terminal failure (the credential is
// revoked or not allowed) ends the binding if it points to c; a transient
// one keeps it, so the session returns when c recovers.
func (a *Affinity) Failed(s Session, c *auth.Credential, terminal bool) {
	if s.Key == "" || c == nil {
		return
	}
	a.pending.release(s, c.Name)
	if !terminal {
		return
	}
	a.Bindings.CompareAndDelete(s.Key, c.Name)
	a.Bindings.CompareAndDelete(s.Key+DetourSuffix, c.Name)
	if s.Fallback != "" {
		a.Bindings.CompareAndDelete(s.Fallback, c.Name)
	}
}

// AffinityStats counts affinity picks since the selector was made.
type AffinityStats struct {
	Hits, Misses, Rebinds, Detours uint64
}

// Stats returns the counters.
func (a *Affinity) Stats() AffinityStats {
	return AffinityStats{
		Hits:    a.hits.Load(),
		Misses:  a.misses.Load(),
		Rebinds: a.rebinds.Load(),
		Detours: a.detours.Load(),
	}
}

func (a *Affinity) hold() time.Duration {
	if a.Hold > 0 {
		return a.Hold
	}
	return DefaultHold
}

func (a *Affinity) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}
