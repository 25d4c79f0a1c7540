package auth

import (
	"slices"
	"strings"
	"time"
)

// The aggregated availability of a credential, as the seed system's auth
// status shows it: whether it can serve anything now, when it may again,
// the quota in force, and each model's state as a list.

// QuotaSnapshot is the quota in force on a credential: exceeded when the
// credential-wide state or any model's is out of quota; reason and
// next_recover_at of the earliest recovery; the highest backoff level.
// Windows are the usage windows the upstream reported last (a window
// past its reset shows as empty), empty when it never reported one.
type QuotaSnapshot struct {
	Quota
	Windows []QuotaWindow `json:"windows"`
}

// ModelAvailability is one model's state in a credential's snapshot.
type ModelAvailability struct {
	Name           string      `json:"name"`
	Status         Status      `json:"status"`
	Reason         BlockReason `json:"reason,omitempty"`
	NextRetryAfter time.Time   `json:"next_retry_after,omitzero"`
}

// aggregate fills s's availability from its credential-wide and per-model
// states at now; served are the models the credential has served, which
// count as usable unless their own state blocks them.
func aggregate(s *CredentialSnapshot, now time.Time, served map[string]struct{}) {
	s.Quota = &QuotaSnapshot{Windows: []QuotaWindow{}}
	blocked := func(st *ModelState) bool {
		ok, _, _ := st.availableAt(now)
		return !ok
	}
	addQuota := func(st *ModelState) {
		q := st.Quota
		if q.BackoffLevel > s.Quota.BackoffLevel {
			s.Quota.BackoffLevel = q.BackoffLevel
		}
		if !q.Exceeded || !blocked(st) && !now.Before(q.NextRecoverAt) {
			return
		}
		recover := q.NextRecoverAt
		if recover.IsZero() {
			recover = st.NextRetryAfter
		}
		if !s.Quota.Exceeded || recover.Before(s.Quota.NextRecoverAt) {
			s.Quota.Exceeded, s.Quota.Reason, s.Quota.NextRecoverAt = true, q.Reason, recover
		}
	}
	names := make([]string, 0, len(s.Models))
	for m := range s.Models {
		names = append(names, m)
	}
	slices.SortFunc(names, strings.Compare)
	s.ModelList = make([]ModelAvailability, 0, len(names))
	var soonest time.Time
	allBlocked := len(names) > 0
	for _, m := range names {
		st := s.Models[m]
		a := ModelAvailability{Name: m, Status: st.Status}
		if blocked(&st) {
			a.Reason, a.NextRetryAfter = st.Reason, st.NextRetryAfter
			if soonest.IsZero() || st.NextRetryAfter.Before(soonest) {
				soonest = st.NextRetryAfter
			}
		} else {
			allBlocked = false
		}
		s.ModelList = append(s.ModelList, a)
		addQuota(&st)
	}
	if s.Whole != nil {
		addQuota(s.Whole)
		if blocked(s.Whole) {
			s.Unavailable, s.NextRetryAfter = true, s.Whole.NextRetryAfter
		}
	}
	for m := range served {
		if _, ok := s.Models[m]; !ok {
			allBlocked = false // it served a model that is not blocked
		}
	}
	if !s.Unavailable && allBlocked {
		// every model it was asked for is out: nothing known to serve
		s.Unavailable, s.NextRetryAfter = true, soonest
	}
	if s.Disabled {
		s.Unavailable, s.NextRetryAfter = true, time.Time{}
	}
}
