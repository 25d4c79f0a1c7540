package selector_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/selector"
)

func weighted(name string, w int) *auth.Credential {
	return &auth.Credential{Name: name, Provider: auth.Claude, APIKey: "sk-" + name, Weight: w}
}

func TestWeightedIsSmoothAndProportional(t *testing.T) {
	cands := []*auth.Credential{weighted("a", 5), weighted("b", 1), weighted("c", 1)}
	ws := selector.NewWeighted()
	// nginx's smooth weighted round robin interleaves the heavy credential
	assert.Equal(t, []string{"a", "a", "b", "a", "c", "a", "a"}, picks(ws, "k", cands, 7))

	counts := map[string]int{}
	for _, n := range picks(ws, "k", cands, 700) {
		counts[n]++
	}
	assert.Equal(t, map[string]int{"a": 500, "b": 100, "c": 100}, counts)
}

func TestWeightedZeroExcludes(t *testing.T) {
	ws := selector.NewWeighted()
	cands := []*auth.Credential{weighted("a", 0), weighted("b", 2), weighted("c", 1)}
	for _, n := range picks(ws, "k", cands, 30) {
		assert.NotEqual(t, "a", n)
	}
	assert.Nil(t, ws.Pick("k", []*auth.Credential{weighted("a", 0)}), "only weight 0 left: nothing to pick")
	assert.Nil(t, ws.Pick("k", nil))
}

func TestWeightedAdaptsWhenCandidatesChange(t *testing.T) {
	ws := selector.NewWeighted()
	all := []*auth.Credential{weighted("a", 1), weighted("b", 1), weighted("c", 1)}
	picks(ws, "k", all, 5)
	// b cools down: a and c share evenly
	counts := map[string]int{}
	for _, n := range picks(ws, "k", without(all, "b"), 100) {
		counts[n]++
	}
	assert.InDelta(t, 50, counts["a"], 1)
	assert.InDelta(t, 50, counts["c"], 1)
}

func TestWeightedViaNew(t *testing.T) {
	for _, name := range []string{"weighted-round-robin", "wrr", "WRR"} {
		s, err := selector.New(name)
		assert.NoError(t, err)
		cands := []*auth.Credential{weighted("a", 3), weighted("b", 1)}
		counts := map[string]int{}
		for _, n := range picks(s, "k", cands, 40) {
			counts[n]++
		}
		assert.Equal(t, map[string]int{"a": 30, "b": 10}, counts, name)
	}
}

// A top tier whose credentials all have weight 0 gives way to the next
// tier instead of leaving the request unserved.
func TestWeightedZeroWeightTierGivesWay(t *testing.T) {
	s, err := selector.New("wrr")
	if err != nil {
		t.Fatal(err)
	}
	top := weighted("top", 0)
	top.Priority = 10
	low := weighted("low", 1)
	c := s.Pick("k", []*auth.Credential{low, top})
	if assert.NotNil(t, c) {
		assert.Equal(t, "low", c.Name)
	}
}
