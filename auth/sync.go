package auth

import "time"

// SharedState is a credential's state for one model in the form a shared
// store (a cluster's Redis) keeps it: the ModelState with the probe turn
// that ModelState keeps to itself, and the key and model it belongs to.
type SharedState struct {
	// Key names the credential as Health keys it: name and secret
	// fingerprint, so instances that hold the same credential share it.
	Key string `json:"key"`
	// Model is the model the state is for; Whole marks the
	// credential-wide state, whose Model is "".
	Model string `json:"model,omitempty"`
	Whole bool   `json:"whole,omitempty"`
	// State is nil when the state was cleared (a success).
	State     *ModelState `json:"state,omitempty"`
	NextProbe time.Time   `json:"next_probe,omitempty"`
	// Quota, when not nil, makes this the credential's usage windows
	// instead of a model's state (Model, Whole and State are then unset).
	Quota []QuotaWindow `json:"quota,omitempty"`
}

// Expires is when the state stops mattering: the end of its block, of its
// quota's recovery and of its probe turn (zero for a cleared state).
func (s SharedState) Expires() time.Time {
	if s.Quota != nil {
		var last time.Time
		for _, w := range s.Quota {
			last = later(last, w.ResetsAt)
		}
		return last
	}
	if s.State == nil {
		return time.Time{}
	}
	return later(later(s.State.NextRetryAfter, s.State.Quota.NextRecoverAt), s.NextProbe)
}

// HealthSync is told of every change a pool makes to the states in a
// Health, so that another store can share them (see Health.SetSync). It is
// called after the change, with no lock held, from the request that made
// it: implementations must not block.
type HealthSync interface {
	Changed(SharedState)
	// Forgot says every state of key was dropped (a new login).
	Forgot(key string)
}

// SetSync makes s the receiver of the changes made to h's states; nil
// stops the reports. Without one, a Health costs nothing extra.
func (h *Health) SetSync(s HealthSync) {
	if s == nil {
		h.sync.Store(nil)
		return
	}
	h.sync.Store(&s)
}

// Sync returns the receiver set by SetSync, or nil.
func (h *Health) Sync() HealthSync {
	if p := h.sync.Load(); p != nil {
		return *p
	}
	return nil
}

// Apply installs a state that another instance recorded, replacing the
// local one; a nil State clears it. It reports nothing to the HealthSync.
func (h *Health) Apply(s SharedState) {
	ch := h.byName(s.Key)
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if s.Quota != nil {
		ch.applyQuotaLocked(s.Quota)
		return
	}
	if s.State == nil {
		if s.Whole {
			ch.whole = nil
		} else {
			delete(ch.models, s.Model)
		}
		return
	}
	st := *s.State
	st.nextProbe = s.NextProbe
	if s.Whole {
		ch.whole = &st
		return
	}
	if _, ok := ch.models[s.Model]; !ok && len(ch.models) >= maxModelStates {
		ch.pruneLocked(time.Now())
	}
	ch.models[s.Model] = &st
}

// Each calls fn with every state h holds, for a shared store to catch up
// after it was out of reach.
func (h *Health) Each(fn func(SharedState)) {
	h.mu.Lock()
	all := make(map[string]*credentialHealth, len(h.byKey))
	for k, ch := range h.byKey {
		all[k] = ch
	}
	h.mu.Unlock()
	for key, ch := range all {
		var out []SharedState
		ch.mu.RLock()
		if ch.whole != nil {
			out = append(out, shared(key, "", true, ch.whole))
		}
		for m, st := range ch.models {
			out = append(out, shared(key, m, false, st))
		}
		if len(ch.quota) > 0 {
			out = append(out, SharedState{Key: key, Quota: ch.quotaCopyLocked()})
		}
		ch.mu.RUnlock()
		for _, s := range out {
			fn(s)
		}
	}
}

// shared copies st for a HealthSync; callers hold the credential's lock.
func shared(key, model string, whole bool, st *ModelState) SharedState {
	if st == nil {
		return SharedState{Key: key, Model: model, Whole: whole}
	}
	cp := *st
	return SharedState{Key: key, Model: model, Whole: whole, State: &cp, NextProbe: st.nextProbe}
}

// Forget clears every state of key, as another instance's ForgetSource
// did. The pools already built over h see it at once. It reports nothing
// to the HealthSync.
func (h *Health) Forget(key string) {
	h.mu.Lock()
	ch := h.byKey[key]
	h.mu.Unlock()
	if ch == nil {
		return
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	clear(ch.models)
	ch.whole = nil
	ch.quota = nil
}
