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
	policy Policy

	// Now is the pool's clock; tests replace it.
	Now func() time.Time
}

// NewPool builds a pool of creds, ordered by name, with a health of its
// own and the default policy. Names must be unique and not empty.
func NewPool(creds []*Credential) (*Pool, error) {
	return NewPoolWithHealth(creds, NewHealth(), Policy{})
}

// NewPoolWithHealth builds a pool whose credentials keep their states in
// health, so that a pool rebuilt from a reloaded config (same names, same
// secrets) finds its cooldowns where the old pool left them. Zero fields of
// policy take their defaults.
func NewPoolWithHealth(creds []*Credential, health *Health, policy Policy) (*Pool, error) {
	p := &Pool{
		creds:  slices.Clone(creds),
		byName: make(map[string]*Credential, len(creds)),
		health: make(map[*Credential]*credentialHealth, len(creds)),
		policy: policy.withDefaults(),
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
// A credential that is being probed is available only to the request that
// wins Claim.
func (p *Pool) Available(c *Credential, model string) (ok bool, until time.Time) {
	if c.Disabled {
		return false, time.Time{}
	}
	h := p.health[c]
	if h == nil {
		return false, time.Time{}
	}
	now := p.Now()
	h.mu.RLock()
	defer h.mu.RUnlock()
	if ok, _, until := h.whole.availableAt(now); !ok {
		return false, until
	}
	ok, _, until = h.models[model].availableAt(now)
	return ok, until
}

// BlockedBy reports why c may not serve model now and until when: the
// reason of the credential-wide or model block in force ("" when c is
// available or merely waiting for its probe turn), and its end (zero when
// only an operator can lift it).
func (p *Pool) BlockedBy(c *Credential, model string) (BlockReason, time.Time) {
	if c.Disabled {
		return BlockDisabled, time.Time{}
	}
	h := p.health[c]
	if h == nil {
		return BlockOther, time.Time{}
	}
	now := p.Now()
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, st := range []*ModelState{h.whole, h.models[model]} {
		if ok, _, until := st.availableAt(now); !ok {
			return st.Reason, until
		}
	}
	return "", time.Time{}
}

// Claim must be called for the credential a request is about to use. It
// returns false when the credential is being probed and another request
// already took this probe; the caller then picks another. Claiming a
// credential that is not being probed always succeeds.
func (p *Pool) Claim(c *Credential, model string) bool {
	h := p.health[c]
	if h == nil {
		return false
	}
	now := p.Now()
	var probed []SharedState
	h.mu.Lock()
	for i, st := range []*ModelState{h.whole, h.models[model]} {
		ok, probe, _ := st.availableAt(now)
		if !ok {
			h.mu.Unlock()
			return false
		}
		if probe {
			// one probe per interval, and a failed probe blocks again
			st.nextProbe = now.Add(p.policy.ProbeInterval)
			if h.syncing() {
				probed = append(probed, shared(h.key, wholeModel(i == 0, model), i == 0, st))
			}
		}
	}
	h.mu.Unlock()
	h.report(probed...)
	return true
}

// wholeModel is the model a SharedState names: none for the
// credential-wide state.
func wholeModel(whole bool, model string) string {
	if whole {
		return ""
	}
	return model
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
	out := *st
	out.Status = st.status(p.Now())
	return out, true
}

// Reset lifts what the upstream imposed on c: its state for model, or with
// model "" every state it has, the credential-wide one included (a
// revocation too; an operator's Disabled is not a state and stays). It
// reports how many states it cleared.
func (p *Pool) Reset(c *Credential, model string) int {
	h := p.health[c]
	if h == nil {
		return 0
	}
	var cleared []SharedState
	h.mu.Lock()
	if model != "" {
		if _, ok := h.models[model]; ok {
			delete(h.models, model)
			cleared = append(cleared, SharedState{Key: h.key, Model: model})
		}
	} else {
		for m := range h.models {
			cleared = append(cleared, SharedState{Key: h.key, Model: m})
		}
		clear(h.models)
		if h.whole != nil {
			h.whole = nil
			cleared = append(cleared, SharedState{Key: h.key, Whole: true})
		}
	}
	h.mu.Unlock()
	// an operator's reset on one instance lifts the block on every one
	h.report(cleared...)
	return len(cleared)
}

// RecordSuccess clears c's failures for model and any credential-wide
// block: a success proves the account serves again (a probe that came
// through, or a request that was already under way). It also remembers
// that c served model (see ServedModels).
func (p *Pool) RecordSuccess(c *Credential, model string) {
	h := p.health[c]
	if h == nil {
		return
	}
	h.mu.RLock()
	_, had := h.models[model]
	whole := h.whole != nil
	_, known := h.served[model]
	remember := !known && model != "" && len(h.served) < maxServedModels
	h.mu.RUnlock()
	if !had && !whole && !remember {
		return
	}
	h.mu.Lock()
	delete(h.models, model)
	h.whole = nil
	if remember && len(h.served) < maxServedModels {
		if h.served == nil {
			h.served = make(map[string]struct{})
		}
		h.served[model] = struct{}{}
	}
	h.mu.Unlock()
	if h.syncing() {
		var cleared []SharedState
		if had {
			cleared = append(cleared, SharedState{Key: h.key, Model: model})
		}
		if whole {
			cleared = append(cleared, SharedState{Key: h.key, Whole: true})
		}
		h.report(cleared...)
	}
}

// ServedModels returns the models some credential of the pool has served
// with success, and those a credential's models list names exactly (not
// by a wildcard): the models known to exist, as opposed to any name a
// request made up and an upstream refused.
func (p *Pool) ServedModels() map[string]bool {
	out := make(map[string]bool)
	for _, c := range p.creds {
		for _, m := range c.Models {
			if !strings.Contains(m, "*") {
				out[m] = true
			}
		}
		h := p.health[c]
		h.mu.RLock()
		for m := range h.served {
			out[m] = true
		}
		h.mu.RUnlock()
	}
	return out
}

// RecordFailure applies a failed attempt's outcome to c: to its state for
// model, or to the whole credential when the upstream said every model is
// out. It returns until when c is blocked for model (zero: not blocked).
// A credential with DisableCooling keeps its last error but is never
// blocked.
func (p *Pool) RecordFailure(c *Credential, model string, outcome Outcome) time.Time {
	h := p.health[c]
	if h == nil {
		return time.Time{}
	}
	now := p.Now()
	h.mu.Lock()
	st, until := p.recordFailureLocked(h, c, model, outcome, now)
	var change SharedState
	tell := h.syncing()
	if tell {
		whole := st == h.whole
		change = shared(h.key, wholeModel(whole, model), whole, st)
	}
	h.mu.Unlock()
	if tell {
		h.report(change)
	}
	return until
}

// recordFailureLocked is RecordFailure under h.mu; it returns the state it
// changed.
func (p *Pool) recordFailureLocked(h *credentialHealth, c *Credential, model string, outcome Outcome, now time.Time) (*ModelState, time.Time) {
	var st *ModelState
	if outcome.Hint.Whole || outcome.Revoked {
		if h.whole == nil {
			h.whole = &ModelState{}
		}
		st = h.whole
	} else {
		st = h.models[model]
		if st == nil {
			if len(h.models) >= maxModelStates {
				h.pruneLocked(now)
			}
			st = &ModelState{}
			h.models[model] = st
		}
	}
	if c.DisableCooling {
		st.LastError = LastError{Status: outcome.Status, Message: outcome.Message, Time: now}
		if st.LastError.Message == "" {
			st.LastError.Message = describe(outcome.Status)
		}
		return st, time.Time{}
	}
	p.policy.apply(st, outcome, now)
	if !now.Before(st.NextRetryAfter) {
		return st, time.Time{}
	}
	return st, st.NextRetryAfter
}

// pruneLocked forgets states whose block has ended, and if that frees
// nothing, an arbitrary half, so hostile model names cannot grow memory.
func (h *credentialHealth) pruneLocked(now time.Time) {
	for m, st := range h.models {
		if ok, probe, _ := st.availableAt(now); ok && !probe {
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
