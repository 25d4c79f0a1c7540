package selector

import (
	"time"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// The default thresholds of Quota.
const (
	DefaultQuotaThreshold     = 0.9
	DefaultQuotaMoveThreshold = 0.98
)

// Levels reports how full a credential's usage windows are
// (auth.Pool.QuotaLevel).
type Levels func(*auth.Credential) auth.QuotaLevel

// LevelPicker is a Selector that can use the credentials' usage levels
// (Headroom); PickWith hands them to it.
type LevelPicker interface {
	PickLevels(key string, candidates []*auth.Credential, levels Levels) *auth.Credential
}

// PickWith picks with s, giving it levels when it can use them.
func PickWith(s Selector, key string, candidates []*auth.Credential, levels Levels) *auth.Credential {
	if lp, ok := s.(LevelPicker); ok && levels != nil {
		return lp.PickLevels(key, candidates, levels)
	}
	return s.Pick(key, candidates)
}

// Quota keeps new work off credentials whose usage window is nearly spent,
// before the upstream answers 429, whatever the strategy: it narrows the
// candidates the strategy sees.
type Quota struct {
	// Threshold is the utilization (0..1) from which a credential takes
	// no new session while another is below it. 0 turns it off.
	Threshold float64
	// MoveThreshold is the utilization from which a bound session leaves
	// its home for a credential with more room.
	MoveThreshold float64
}

// Placement is what a pick may know of the credentials' usage: the
// filter (nil: none) and the levels (nil: unknown).
type Placement struct {
	Quota  *Quota
	Levels Levels
}

// Place narrows candidates to those below the threshold. When every known
// level is at or above it, only the credential whose fullest window resets
// soonest stays. Candidates without a report count as empty. It returns
// candidates itself, without allocating, when no candidate is at the
// threshold.
func (q *Quota) Place(candidates []*auth.Credential, levels Levels) []*auth.Credential {
	if q == nil || q.Threshold <= 0 || levels == nil || len(candidates) < 2 {
		return candidates
	}
	first := -1
	for i, c := range candidates {
		if levels(c).Utilization >= q.Threshold {
			first = i
			break
		}
	}
	if first < 0 {
		return candidates
	}
	out := make([]*auth.Credential, 0, len(candidates)-1)
	out = append(out, candidates[:first]...)
	var soonest *auth.Credential
	var soonestAt time.Time
	for _, c := range candidates[first:] {
		lv := levels(c)
		if lv.Utilization < q.Threshold {
			out = append(out, c)
			continue
		}
		if soonest == nil || (!lv.ResetsAt.IsZero() && (soonestAt.IsZero() || lv.ResetsAt.Before(soonestAt))) {
			soonest, soonestAt = c, lv.ResetsAt
		}
	}
	if len(out) == 0 {
		return []*auth.Credential{soonest}
	}
	return out
}

// Moves reports whether a session bound to a credential at level lv
// should be placed anew.
func (q *Quota) Moves(lv auth.QuotaLevel) bool {
	return q != nil && q.Threshold > 0 && q.MoveThreshold > 0 && lv.Utilization >= q.MoveThreshold
}

// Pick places a request among candidates: the quota filter first, then
// next, given the levels when it can use them.
func (pl Placement) Pick(next Selector, key string, candidates []*auth.Credential) *auth.Credential {
	return PickWith(next, key, pl.Quota.Place(candidates, pl.Levels), pl.Levels)
}
