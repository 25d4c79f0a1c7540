package auth

import "sync"

// Health holds the per-model states of credentials independently of any
// Pool. It is keyed by credential name and secret fingerprint: a credential
// whose key was replaced starts afresh, one that only moved in the config
// keeps its cooldowns. Safe for concurrent use.
type Health struct {
	mu    sync.Mutex
	byKey map[string]*credentialHealth
}

// NewHealth returns an empty health store.
func NewHealth() *Health {
	return &Health{byKey: make(map[string]*credentialHealth)}
}

// of returns c's states, creating them on first use.
func (h *Health) of(c *Credential) *credentialHealth {
	key := c.Name + "\x00" + c.Fingerprint()
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := h.byKey[key]
	if ch == nil {
		ch = &credentialHealth{models: make(map[string]*ModelState)}
		h.byKey[key] = ch
	}
	return ch
}
