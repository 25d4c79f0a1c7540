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
	sync  atomic.Pointer[HealthSync]
}

// NewHealth returns an empty health store.
func NewHealth() *Health {
	return &Health{byKey: make(map[string]*credentialHealth)}
}

// of returns c's states, creating them on first use.
func (h *Health) of(c *Credential) *credentialHealth {
	ch := h.byName(HealthKey(c))
	if c.Source != "" {
		h.mu.Lock()
		ch.source = c.Source
		h.mu.Unlock()
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
	h.mu.Lock()
	var revoked []*credentialHealth
	for _, ch := range h.byKey {
		if ch.source == source {
			revoked = append(revoked, ch)
		}
	}
	h.mu.Unlock()
	for _, ch := range revoked {
		ch.mu.Lock()
		if ch.whole == nil {
			ch.whole = &ModelState{}
		}
		Policy{}.apply(ch.whole, Outcome{Status: http.StatusUnauthorized, Revoked: true, Message: reason}, now)
		change := shared(ch.key, "", true, ch.whole)
		ch.mu.Unlock()
		// other instances of a cluster take the account out too
		ch.report(change)
	}
}
