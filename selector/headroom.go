package selector

import (
	"time"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// headroomHorizon is how far off a reset must be for a window's use to
// count in full: use that comes back within the hour counts for less.
const headroomHorizon = 5 * time.Hour

// HeadroomSelector picks the credential with the most room left in its
// fullest usage window, the use of a window weighted by how far off its
// reset is (a window 80 % full that resets in half an hour has more room
// than one 50 % full for another week). Ties, credentials that never
// reported a window among them, rotate by round robin. Without levels it
// is plain round robin.
type HeadroomSelector struct {
	rr *RoundRobinSelector
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// NewHeadroom returns a headroom strategy.
func NewHeadroom() *HeadroomSelector {
	return &HeadroomSelector{rr: NewRoundRobin()}
}

// Pick implements Selector: round robin, for want of levels.
func (h *HeadroomSelector) Pick(key string, candidates []*auth.Credential) *auth.Credential {
	return h.rr.Pick(key, candidates)
}

// PickLevels implements LevelPicker.
func (h *HeadroomSelector) PickLevels(key string, candidates []*auth.Credential, levels Levels) *auth.Credential {
	if len(candidates) < 2 {
		return h.rr.Pick(key, candidates)
	}
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	const tie = 1e-6
	best := -1.0
	var tied []*auth.Credential
	for _, c := range candidates {
		r := room(levels(c), now)
		switch {
		case r > best+tie:
			best = r
			tied = append(tied[:0], c)
		case r >= best-tie:
			tied = append(tied, c)
		}
	}
	return h.rr.Pick(key, tied)
}

// room is the share of a credential's fullest window left, its use
// discounted when the window resets within headroomHorizon.
func room(lv auth.QuotaLevel, now time.Time) float64 {
	used := min(max(lv.Utilization, 0), 1)
	if !lv.ResetsAt.IsZero() {
		if left := lv.ResetsAt.Sub(now); left < headroomHorizon {
			used *= float64(max(left, 0)) / float64(headroomHorizon)
		}
	}
	return 1 - used
}

// Interface guards
var (
	_ Selector    = (*HeadroomSelector)(nil)
	_ LevelPicker = (*HeadroomSelector)(nil)
	_ LevelPicker = Tiered{}
)
