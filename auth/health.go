package auth

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Health holds the per-model states of credentials independently of any
// Pool. It is keyed by credential name and secret fingerprint: a credential
// whose key was replaced starts afresh, one that only moved in the config
// keeps its cooldowns. Safe for concurrent use.
type Health struct {
	mu    sync.Mutex
	byKey map[string]*credentialHealth
	// revoked are the auth files whose refresh token is dead, with the
	// reason: a credential of one that joins a pool later starts revoked
	revoked map[string]revocation
	sync    atomic.Pointer[HealthSync]
}

// revocation is why and when an auth file's refresh token was refused.
type revocation struct {
	reason string
	at     time.Time
}

// NewHealth returns an empty health store.
func NewHealth() *Health {
	return &Health{byKey: make(map[string]*credentialHealth), revoked: make(map[string]revocation)}
}

// of returns c's states, creating them on first use.
func (h *Health) of(c *Credential) *credentialHealth {
	ch := h.byName(HealthKey(c))
	if c.Source != "" {
		h.mu.Lock()
		ch.source = c.Source
		rv, revoked := h.revoked[c.Source]
		h.mu.Unlock()
		if revoked {
			// the refresher found the file dead before this pool was built
			ch.revoke(rv)
		}
	}
	return ch
}

// HealthKey is the key Health keeps c's states under: its name and secret
// fingerprint, so instances holding the same credential agree on it.
func HealthKey(c *Credential) string {
	return c.Name + "\x00" + c.Fingerprint()
}

// byName returns the states kept under key, creating them on first use.
func (h *Health) byName(key string) *credentialHealth {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := h.byKey[key]
	if ch == nil {
		ch = &credentialHealth{models: make(map[string]*ModelState), key: key, owner: h}
		h.byKey[key] = ch
	}
	return ch
}

// ForgetSource drops the states of every credential that came from the
// auth file source (a new login replaced it), so its next pool starts
// fresh: a revocation or block of the old login no longer applies.
func (h *Health) ForgetSource(source string) {
	if source == "" {
		return
	}
	var forgot []string
	h.mu.Lock()
	delete(h.revoked, source)
	for key, ch := range h.byKey {
		if ch.source == source {
			delete(h.byKey, key)
			forgot = append(forgot, key)
		}
	}
	h.mu.Unlock()
	if s := h.Sync(); s != nil {
		for _, key := range forgot {
			s.Forgot(key)
		}
	}
}

// RevokeSource disables every credential that came from the auth file
// source, because the token endpoint refused its refresh token for good:
// the reason shows in the credentials' state, and they stay out until a
// new login replaces the file (ForgetSource). A background refresh finds
// this out before any request trips on it.
func (h *Health) RevokeSource(source, reason string, now time.Time) {
	if source == "" {
		return
	}
	rv := revocation{reason: reason, at: now}
	h.mu.Lock()
	h.revoked[source] = rv
	var revoked []*credentialHealth
	for _, ch := range h.byKey {
		if ch.source == source {
			revoked = append(revoked, ch)
		}
	}
	h.mu.Unlock()
	for _, ch := range revoked {
		ch.revoke(rv)
	}
}

// revoke disables the whole credential for rv and tells the cluster, if
// any, so other instances take the account out too.
func (h *credentialHealth) revoke(rv revocation) {
	h.mu.Lock()
	if h.whole == nil {
		h.whole = &ModelState{}
	}
	Policy{}.apply(h.whole, Outcome{Status: http.StatusUnauthorized, Revoked: true, Message: rv.reason}, rv.at)
	change := shared(h.key, "", true, h.whole)
	h.mu.Unlock()
	h.report(change)
}
