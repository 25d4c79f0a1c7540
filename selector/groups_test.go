package selector_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/selector"
)

func grouped(name, group string) *auth.Credential {
	return &auth.Credential{Name: name, Provider: auth.Gemini, APIKey: "k-" + name, Group: group}
}

// One Google account with three projects and another with one: rotating
// across accounts first gives the single-project account half the traffic,
// not a quarter.
func TestGroupAwareRoundRobin(t *testing.T) {
	cands := []*auth.Credential{
		grouped("alice-p1", "alice"), grouped("alice-p2", "alice"), grouped("alice-p3", "alice"),
		grouped("bob-p1", "bob"),
	}
	rr := selector.NewRoundRobin()
	got := picks(rr, "gemini:pro", cands, 12)
	counts := map[string]int{}
	for i, n := range got {
		counts[n]++
		if i > 0 {
			prevBob := got[i-1] == "bob-p1"
			assert.NotEqual(t, prevBob, n == "bob-p1", "groups must alternate: %v", got)
		}
	}
	assert.Equal(t, 6, counts["bob-p1"])
	assert.Equal(t, 2, counts["alice-p1"])
	assert.Equal(t, 2, counts["alice-p2"])
	assert.Equal(t, 2, counts["alice-p3"])
}

// Each process starts a key at a random group; over many fresh selectors
// both groups must come first sometimes.
func TestGroupAwareRoundRobinStartsAtRandomGroup(t *testing.T) {
	cands := []*auth.Credential{grouped("a1", "a"), grouped("b1", "b")}
	first := map[string]int{}
	for range 200 {
		first[selector.NewRoundRobin().Pick("k", cands).Group]++
	}
	assert.Positive(t, first["a"])
	assert.Positive(t, first["b"])
}

func TestGroupsFallBackToFlatRoundRobin(t *testing.T) {
	t.Run("one group", func(t *testing.T) {
		cands := []*auth.Credential{grouped("a1", "a"), grouped("a2", "a"), grouped("a3", "a")}
		assert.Equal(t, []string{"a1", "a2", "a3", "a1"}, picks(selector.NewRoundRobin(), "k", cands, 4))
	})
	t.Run("mixed with ungrouped", func(t *testing.T) {
		cands := []*auth.Credential{grouped("a1", "a"), grouped("a2", "a"), grouped("b1", "b"), {Name: "z"}}
		assert.Equal(t, []string{"a1", "a2", "b1", "z", "a1"}, picks(selector.NewRoundRobin(), "k", cands, 5))
	})
}

func TestGroupAwareRoundRobinSkipsCoolingMembers(t *testing.T) {
	all := []*auth.Credential{grouped("a1", "a"), grouped("a2", "a"), grouped("b1", "b"), grouped("b2", "b")}
	rr := selector.NewRoundRobin()
	picks(rr, "k", all, 3)
	cooling := without(all, "a1", "a2")
	// group a is entirely out: only b's members, rotating
	got := picks(rr, "k", cooling, 4)
	require.Len(t, got, 4)
	for _, n := range got {
		assert.Contains(t, []string{"b1", "b2"}, n)
	}
	assert.NotEqual(t, got[0], got[1])
}
