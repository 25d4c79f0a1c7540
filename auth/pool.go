package auth

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Pool is a set of credentials with their health. Build one with NewPool.
type Pool struct {
	creds  []*Credential // sorted by name
	byName map[string]*Credential
	health map[*Credential]*credentialHealth

	// Now is the pool's clock; tests replace it.
	Now func() time.Time
}

// NewPool builds a pool of creds, ordered by name, with a health of its
// own. Names must be unique and not empty.
func NewPool(creds []*Credential) (*Pool, error) {
	return NewPoolWithHealth(creds, NewHealth())
}

// NewPoolWithHealth builds a pool whose credentials keep their states in
// health, so that a pool rebuilt from a reloaded config (same names, same
// secrets) finds its cooldowns where the old pool left them.
func NewPoolWithHealth(creds []*Credential, health *Health) (*Pool, error) {
	p := &Pool{
		creds:  slices.Clone(creds),
		byName: make(map[string]*Credential, len(creds)),
		health: make(map[*Credential]*credentialHealth, len(creds)),
		Now:    time.Now,
	}
	for _, c := range creds {
		if c.Name == "" {
			return nil, fmt.Errorf("building pool: credential without a name")
		}
		if _, dup := p.byName[c.Name]; dup {
			return nil, fmt.Errorf("building pool: duplicate credential name %q", c.Name)
		}
		p.byName[c.Name] = c
		p.health[c] = health.of(c)
	}
	slices.SortFunc(p.creds, func(a, b *Credential) int { return strings.Compare(a.Name, b.Name) })
	return p, nil
}

// Credentials returns every credential of the pool, ordered by name. The
// slice is shared: callers must not modify it.
func (p *Pool) Credentials() []*Credential { return p.creds }

// Get returns the credential called name, or nil.
func (p *Pool) Get(name string) *Credential { return p.byName[name] }

// Available reports whether c may serve model now. When it may not, until
// is the moment it may again (zero when only an operator can change that).
func (p *Pool) Available(c *Credential, model string) (ok bool, until time.Time) {
	if c.Disabled {
		return false, time.Time{}
	}
	h := p.health[c]
	if h == nil {
		return false, time.Time{}
	}
	h.mu.RLock()
	if st := h.models[model]; st != nil {
		until = st.BlockedUntil
	}
	h.mu.RUnlock()
	now := p.Now()
	if until.IsZero() || !now.Before(until) {
		return true, time.Time{}
	}
	return false, until
}

// State returns a copy of c's state for model, and whether there is one.
func (p *Pool) State(c *Credential, model string) (ModelState, bool) {
	h := p.health[c]
	if h == nil {
		return ModelState{}, false
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	st := h.models[model]
	if st == nil {
		return ModelState{}, false
	}
	return *st, true
}

// RecordSuccess clears c's failures for model.
func (p *Pool) RecordSuccess(c *Credential, model string) {
	h := p.health[c]
	if h == nil {
		return
	}
	h.mu.RLock()
	_, had := h.models[model]
	h.mu.RUnlock()
	if !had {
		return
	}
	h.mu.Lock()
	delete(h.models, model)
	h.mu.Unlock()
}

// RecordFailure applies a failed attempt's outcome to c for model and
// returns until when c is blocked for it (zero: not blocked).
func (p *Pool) RecordFailure(c *Credential, model string, outcome Outcome) time.Time {
	h := p.health[c]
	if h == nil {
		return time.Time{}
	}
	now := p.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.models[model]
	if st == nil {
		if len(h.models) >= maxModelStates {
			h.pruneLocked(now)
		}
		st = &ModelState{}
		h.models[model] = st
	}
	st.LastStatus = outcome.Status
	st.LastError = describe(outcome.Status)
	st.LastErrorAt = now
	d, reason := blockFor(outcome, st, now)
	if d <= 0 {
		return time.Time{}
	}
	st.BlockedUntil = now.Add(d)
	st.Reason = reason
	return st.BlockedUntil
}

// pruneLocked forgets states whose block has ended, and if that frees
// nothing, an arbitrary half, so hostile model names cannot grow memory.
func (h *credentialHealth) pruneLocked(now time.Time) {
	for m, st := range h.models {
		if !now.Before(st.BlockedUntil) {
			delete(h.models, m)
		}
	}
	for m := range h.models {
		if len(h.models) < maxModelStates/2 {
			break
		}
		delete(h.models, m)
	}
}
