package selector_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/caddy-cliproxy/cliproxy/selector"
)

// Requests of one new session that arrive together, before any answered,
// are placed on one credential; another new session is placed on its own.
func TestAffinityConcurrentFirstTurnsShareOneCredential(t *testing.T) {
	w := newWorld(creds("a", "b", "c", "d")...)
	a, b := newAffinity(w, "round-robin")
	s := selector.Session{Key: "new"}
	const n = 8
	decisions := make([]selector.Decision, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { decisions[i] = a.Pick("claude:m", s, w.available(), w.home) })
	}
	wg.Wait()
	for _, d := range decisions {
		assert.Equal(t, decisions[0].Credential.Name, d.Credential.Name)
		assert.True(t, d.Bind)
	}
	_, bound := b.GetAndRefresh("new")
	assert.False(t, bound, "nothing is bound before an answer")

	// the first success binds; later turns hit
	a.Succeeded(s, decisions[0], decisions[0].Credential)
	assert.Equal(t, decisions[0].Credential.Name, serve(a, w, s))
	assert.NotEqual(t, decisions[0].Credential.Name, serve(a, w, selector.Session{Key: "other"}),
		"a reservation must not place other sessions")
}

// A failure of the reserved credential releases it: the next request of
// the session is placed anew instead of following it.
func TestAffinityReservationReleasedOnFailure(t *testing.T) {
	w := newWorld(creds("a", "b")...)
	a, _ := newAffinity(w, "round-robin")
	s := selector.Session{Key: "new"}
	first := a.Pick("claude:m", s, w.available(), w.home).Credential
	assert.Equal(t, first, a.Pick("claude:m", s, w.available(), w.home).Credential)
	a.Failed(s, first, false)
	assert.NotEqual(t, first.Name, a.Pick("claude:m", s, w.available(), w.home).Credential.Name)
}

// A reserved credential that is blocked meanwhile, or a reservation
// nobody settled for long, is not followed.
func TestAffinityReservationNotFollowedWhenUnusableOrStale(t *testing.T) {
	w := newWorld(creds("a", "b")...)
	a, _ := newAffinity(w, "fill-first")
	s := selector.Session{Key: "new"}
	assert.Equal(t, "a", a.Pick("claude:m", s, w.available(), w.home).Credential.Name)
	w.blocked["a"] = w.now.Add(time.Minute)
	assert.Equal(t, "b", a.Pick("claude:m", s, w.available(), w.home).Credential.Name)

	w2 := newWorld(creds("a", "b")...)
	rr, _ := newAffinity(w2, "round-robin")
	first := rr.Pick("claude:m", s, w2.available(), w2.home).Credential.Name
	w2.now = w2.now.Add(time.Minute)
	assert.NotEqual(t, first, rr.Pick("claude:m", s, w2.available(), w2.home).Credential.Name)
}
