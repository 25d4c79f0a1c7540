package selector_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/selector"
)

// levelsOf serves levels from a map, as a pool would.
func levelsOf(m map[string]auth.QuotaLevel) selector.Levels {
	return func(c *auth.Credential) auth.QuotaLevel { return m[c.Name] }
}

func quotaCreds() []*auth.Credential {
	return []*auth.Credential{
		{Name: "a", Provider: auth.Claude, Weight: 5},
		{Name: "b", Provider: auth.Claude, Weight: 1},
		{Name: "c", Provider: auth.Claude, Weight: 1},
	}
}

var defaultQuota = &selector.Quota{Threshold: selector.DefaultQuotaThreshold, MoveThreshold: selector.DefaultQuotaMoveThreshold}

// Under every strategy, a credential at or above the threshold takes no
// new work while another is below it.
func TestQuotaSkipsSpentCredentialsUnderEveryStrategy(t *testing.T) {
	creds := quotaCreds()
	levels := levelsOf(map[string]auth.QuotaLevel{
		"a": {Known: true, Utilization: 0.97, Window: "5h"},
		"b": {Known: true, Utilization: 0.90, Window: "5h"},
		"c": {Known: true, Utilization: 0.4, Window: "5h"},
	})
	for _, name := range []string{selector.RoundRobin, selector.FillFirst, selector.WeightedRoundRobin, selector.Headroom} {
		t.Run(name, func(t *testing.T) {
			sel, err := selector.New(name)
			require.NoError(t, err)
			pl := selector.Placement{Quota: defaultQuota, Levels: levels}
			for range 10 {
				assert.Equal(t, "c", pl.Pick(sel, "claude:m", creds).Name)
			}
			// without the filter the strategy is as it was
			got := map[string]bool{}
			for range 10 {
				got[selector.Placement{Levels: levels}.Pick(sel, "claude:m", creds).Name] = true
			}
			if name != selector.Headroom {
				assert.True(t, got["a"], "the strategy alone picks a")
			}
		})
	}
}

// When every credential is at the threshold, the one whose window resets
// soonest serves; a report-less credential counts as empty.
func TestQuotaAllSpentPicksSoonestReset(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	creds := quotaCreds()
	levels := levelsOf(map[string]auth.QuotaLevel{
		"a": {Known: true, Utilization: 0.95, ResetsAt: now.Add(3 * time.Hour)},
		"b": {Known: true, Utilization: 0.99, ResetsAt: now.Add(20 * time.Minute)},
		"c": {Known: true, Utilization: 0.92, ResetsAt: now.Add(time.Hour)},
	})
	sel, err := selector.New(selector.RoundRobin)
	require.NoError(t, err)
	pl := selector.Placement{Quota: defaultQuota, Levels: levels}
	for range 5 {
		assert.Equal(t, "b", pl.Pick(sel, "claude:m", creds).Name)
	}
	off := selector.Placement{Quota: &selector.Quota{}, Levels: levels}
	assert.Len(t, off.Quota.Place(creds, levels), 3, "threshold off filters nothing")

	unknown := levelsOf(map[string]auth.QuotaLevel{"a": {Known: true, Utilization: 0.95}})
	assert.Equal(t, []*auth.Credential{creds[1], creds[2]}, defaultQuota.Place(creds, unknown))
}

// headroom: the most room left, spent use that resets soon discounted,
// ties by round robin.
func TestHeadroomStrategy(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	creds := quotaCreds()
	sel, err := selector.New(selector.Headroom)
	require.NoError(t, err)
	pick := func(m map[string]auth.QuotaLevel) string {
		return selector.PickWith(sel, "claude:m", creds, levelsOf(m)).Name
	}
	assert.Equal(t, "b", pick(map[string]auth.QuotaLevel{
		"a": {Utilization: 0.5, ResetsAt: now.Add(100 * time.Hour)},
		"b": {Utilization: 0.2, ResetsAt: now.Add(100 * time.Hour)},
		"c": {Utilization: 0.6, ResetsAt: now.Add(100 * time.Hour)},
	}))
	// c is fuller but resets within minutes: its use counts for little
	assert.Equal(t, "c", pick(map[string]auth.QuotaLevel{
		"a": {Utilization: 0.5, ResetsAt: time.Now().Add(100 * time.Hour)},
		"b": {Utilization: 0.5, ResetsAt: time.Now().Add(100 * time.Hour)},
		"c": {Utilization: 0.8, ResetsAt: time.Now().Add(10 * time.Minute)},
	}))
	// ties rotate
	seen := map[string]int{}
	for range 6 {
		seen[pick(map[string]auth.QuotaLevel{"a": {Utilization: 0.3}, "b": {Utilization: 0.3}, "c": {Utilization: 0.9}})]++
	}
	assert.Equal(t, map[string]int{"a": 3, "b": 3}, seen)
	// without levels it is round robin
	names := map[string]bool{}
	for range 3 {
		names[sel.Pick("claude:x", creds).Name] = true
	}
	assert.Len(t, names, 3)
}

// A bound session stays home below the move threshold, even past the
// placement threshold; at it, it moves to a credential with more room and
// binds there.
func TestAffinityMovesOnlyPastMoveThreshold(t *testing.T) {
	creds := quotaCreds()[:2]
	m := map[string]auth.QuotaLevel{}
	levels := levelsOf(m)
	b := newMapBindings()
	a := &selector.Affinity{Next: selector.Tiered{Next: selector.NewRoundRobin()}, Bindings: b}
	pl := selector.Placement{Quota: defaultQuota, Levels: levels}
	home := func(name string) (*auth.Credential, bool, time.Time) {
		for _, c := range creds {
			if c.Name == name {
				return c, true, time.Time{}
			}
		}
		return nil, false, time.Time{}
	}
	all := func() []*auth.Credential { return creds }
	s := selector.Session{Key: "s1"}

	m["a"] = auth.QuotaLevel{Known: true, Utilization: 0.97}
	m["b"] = auth.QuotaLevel{Known: true, Utilization: 0.1}
	d := a.PickPlaced("k", s, all, home, pl)
	assert.Equal(t, "b", d.Credential.Name, "a new session skips the 97 % credential")
	b.Set("a", "s2") // a session bound to a before it filled up
	s2 := selector.Session{Key: "s2"}
	d = a.PickPlaced("k", s2, all, home, pl)
	assert.Equal(t, selector.Hit, d.Outcome)
	assert.Equal(t, "a", d.Credential.Name, "below the move threshold the session stays home")

	m["a"] = auth.QuotaLevel{Known: true, Utilization: 0.98}
	d = a.PickPlaced("k", s2, all, home, pl)
	assert.Equal(t, selector.Rebind, d.Outcome)
	assert.Equal(t, "b", d.Credential.Name)
	a.Succeeded(s2, d, d.Credential)
	name, _ := b.GetAndRefresh("s2")
	assert.Equal(t, "b", name, "the session is bound to its new home")

	// no better place: it stays
	b.Set("a", "s3")
	m["b"] = auth.QuotaLevel{Known: true, Utilization: 0.99}
	d = a.PickPlaced("k", selector.Session{Key: "s3"}, all, home, pl)
	assert.Equal(t, "a", d.Credential.Name)
	assert.Equal(t, selector.Hit, d.Outcome)
}
