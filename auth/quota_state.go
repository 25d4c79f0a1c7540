package auth

import (
	"math"
	"slices"
	"strings"
	"time"
)

// quotaEntry is a window a credential keeps, and whether crossing the
// warning threshold was already announced for it.
type quotaEntry struct {
	QuotaWindow
	warned bool
}

// QuotaLevel sums up a credential's windows for placement: its fullest
// window that has not reset yet.
type QuotaLevel struct {
	// Known is false when the upstream never reported a window.
	Known bool
	// Utilization is the fullest window's, 0..1; 0 when unknown.
	Utilization float64
	// Window names the fullest window.
	Window string
	// ResetsAt is when the fullest window resets; zero when unknown.
	ResetsAt time.Time
}

// quotaSyncStep is how far a window's utilization moves before the
// change is shared with other instances: a report per answer would be a
// Redis write per request.
const quotaSyncStep = 0.01

// RecordQuota keeps the windows an answer of c reported, replacing the
// earlier report of each window. It returns the windows that reached
// warnAt (a fraction; 0 or less: never) with this report for the first
// time since they were last below it, so the caller can warn once per
// crossing; nil in the common case, without allocating.
func (p *Pool) RecordQuota(c *Credential, windows []QuotaWindow, warnAt float64) []QuotaWindow {
	h := p.health[c]
	if h == nil || len(windows) == 0 {
		return nil
	}
	var crossed []QuotaWindow
	share := false
	h.mu.Lock()
	for _, w := range windows {
		e := h.quotaLocked(w.Window)
		if e == nil {
			continue
		}
		if math.Abs(e.Utilization-w.Utilization) >= quotaSyncStep || e.Status != w.Status || e.Window == "" {
			share = true
		}
		e.QuotaWindow = w
		over := warnAt > 0 && w.Utilization >= warnAt
		if over && !e.warned {
			crossed = append(crossed, w)
		}
		e.warned = over
	}
	var change SharedState
	tell := share && h.syncing()
	if tell {
		change = SharedState{Key: h.key, Quota: h.quotaCopyLocked()}
	}
	h.mu.Unlock()
	if tell {
		h.report(change)
	}
	return crossed
}

// quotaLocked returns the entry of window, adding one when there is room;
// callers hold h.mu.
func (h *credentialHealth) quotaLocked(window string) *quotaEntry {
	for i := range h.quota {
		if h.quota[i].Window == window {
			return &h.quota[i]
		}
	}
	if len(h.quota) >= MaxQuotaWindows {
		return nil
	}
	h.quota = append(h.quota, quotaEntry{})
	return &h.quota[len(h.quota)-1]
}

// quotaCopyLocked copies the windows; callers hold h.mu.
func (h *credentialHealth) quotaCopyLocked() []QuotaWindow {
	out := make([]QuotaWindow, len(h.quota))
	for i, e := range h.quota {
		out[i] = e.QuotaWindow
	}
	return out
}

// QuotaLevel sums c's windows up at the pool's now: a window whose reset
// has passed counts as empty.
func (p *Pool) QuotaLevel(c *Credential) QuotaLevel {
	h := p.health[c]
	if h == nil {
		return QuotaLevel{}
	}
	now := p.Now()
	var lv QuotaLevel
	h.mu.RLock()
	for _, e := range h.quota {
		lv.Known = true
		u := e.current(now)
		if u > lv.Utilization || lv.Window == "" {
			lv.Utilization, lv.Window, lv.ResetsAt = u, e.Window, e.ResetsAt
		}
	}
	h.mu.RUnlock()
	return lv
}

// QuotaWindows returns c's windows as they stand at the pool's now,
// ordered by name; nil when none was reported.
func (p *Pool) QuotaWindows(c *Credential) []QuotaWindow {
	h := p.health[c]
	if h == nil {
		return nil
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	return quotaAt(h.quota, p.Now())
}

// quotaAt copies entries as they stand at now.
func quotaAt(entries []quotaEntry, now time.Time) []QuotaWindow {
	if len(entries) == 0 {
		return nil
	}
	out := make([]QuotaWindow, len(entries))
	for i, e := range entries {
		out[i] = e.QuotaWindow
		out[i].Utilization = e.current(now)
	}
	slices.SortFunc(out, func(a, b QuotaWindow) int { return strings.Compare(a.Window, b.Window) })
	return out
}

// current is the window's utilization at now: none once it has reset.
func (e *quotaEntry) current(now time.Time) float64 {
	if !e.ResetsAt.IsZero() && !now.Before(e.ResetsAt) {
		return 0
	}
	return e.Utilization
}

// applyQuota installs windows another instance recorded; callers hold
// h.mu.
func (h *credentialHealth) applyQuotaLocked(windows []QuotaWindow) {
	for _, w := range windows {
		if e := h.quotaLocked(w.Window); e != nil && !w.Seen.Before(e.Seen) {
			e.QuotaWindow = w
		}
	}
}
