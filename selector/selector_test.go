package selector_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/selector"
)

// creds returns credentials named names, in the order given.
func creds(names ...string) []*auth.Credential {
	out := make([]*auth.Credential, 0, len(names))
	for _, n := range names {
		out = append(out, &auth.Credential{Name: n, Provider: auth.Claude, APIKey: "sk-" + n})
	}
	return out
}

// tiered returns a credential of priority p.
func tiered(name string, p int) *auth.Credential {
	return &auth.Credential{Name: name, Provider: auth.Claude, APIKey: "sk-" + name, Priority: p}
}

// picks returns the names of n successive picks for key.
func picks(s selector.Selector, key string, cands []*auth.Credential, n int) []string {
	out := make([]string, 0, n)
	for range n {
		c := s.Pick(key, cands)
		if c == nil {
			out = append(out, "<nil>")
			continue
		}
		out = append(out, c.Name)
	}
	return out
}

// without returns cands minus the credentials called names.
func without(cands []*auth.Credential, names ...string) []*auth.Credential {
	out := make([]*auth.Credential, 0, len(cands))
next:
	for _, c := range cands {
		for _, n := range names {
			if c.Name == n {
				continue next
			}
		}
		out = append(out, c)
	}
	return out
}

func TestNormalizeStrategy(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"", selector.RoundRobin, false},
		{"round-robin", selector.RoundRobin, false},
		{"roundrobin", selector.RoundRobin, false},
		{"rr", selector.RoundRobin, false},
		{"RR", selector.RoundRobin, false},
		{" Round-Robin ", selector.RoundRobin, false},
		{"fill-first", selector.FillFirst, false},
		{"fillfirst", selector.FillFirst, false},
		{"ff", selector.FillFirst, false},
		{"FILL-FIRST", selector.FillFirst, false},
		{"random", "", true},
		{"round_robin", "", true},
		{"least-used", "", true},
		{"r r", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := selector.NormalizeStrategy(tt.in)
			if tt.wantErr {
				require.Error(t, err, "unknown strategy %q silently accepted as %q", tt.in, got)
				assert.Empty(t, got)
				assert.Contains(t, err.Error(), fmt.Sprintf("%q", tt.in))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestNew(t *testing.T) {
	cands := creds("a", "b", "c")
	tests := []struct {
		name    string
		want    []string
		wantErr bool
	}{
		{"round-robin", []string{"a", "b", "c", "a"}, false},
		{"rr", []string{"a", "b", "c", "a"}, false},
		{"", []string{"a", "b", "c", "a"}, false},
		{"fill-first", []string{"a", "a", "a", "a"}, false},
		{"ff", []string{"a", "a", "a", "a"}, false},
		{"sticky", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := selector.New(tt.name)
			if tt.wantErr {
				require.Error(t, err)
				assert.Nil(t, s)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, picks(s, "claude:m", cands, len(tt.want)))
		})
	}
}

func TestNewSelectorsAreIndependent(t *testing.T) {
	cands := creds("a", "b")
	s1, err := selector.New("rr")
	require.NoError(t, err)
	s2, err := selector.New("rr")
	require.NoError(t, err)
	assert.Equal(t, "a", s1.Pick("k", cands).Name)
	assert.Equal(t, "a", s2.Pick("k", cands).Name, "two selectors share one cursor")
}

func TestNewOffersOnlyTopTier(t *testing.T) {
	cands := []*auth.Credential{tiered("a", 0), tiered("b", 10), tiered("c", 0), tiered("d", 10)}
	for _, name := range []string{"round-robin", "fill-first"} {
		t.Run(name, func(t *testing.T) {
			s, err := selector.New(name)
			require.NoError(t, err)
			for _, got := range picks(s, "k", cands, 6) {
				assert.Contains(t, []string{"b", "d"}, got, "a lower tier served while a higher one was offered")
			}
		})
	}
}

func TestEmptyCandidates(t *testing.T) {
	for _, name := range []string{"round-robin", "fill-first"} {
		s, err := selector.New(name)
		require.NoError(t, err)
		assert.Nil(t, s.Pick("k", nil), name)
		assert.Nil(t, s.Pick("k", []*auth.Credential{}), name)
	}
	assert.Nil(t, selector.NewRoundRobin().Pick("k", nil))
}

// rrStep is a run of n picks among cands and the names they should give.
type rrStep struct {
	cands []*auth.Credential
	n     int
	want  []string
}

func TestRoundRobin(t *testing.T) {
	abc := creds("a", "b", "c")
	tests := []struct {
		name string
		// steps are run in order on one selector and one key
		steps []rrStep
	}{
		{"rotates in name order", []rrStep{
			{abc, 7, []string{"a", "b", "c", "a", "b", "c", "a"}},
		}},
		{"single candidate", []rrStep{
			{creds("only"), 3, []string{"only", "only", "only"}},
		}},
		{"leaving credential: remove b after a", []rrStep{
			{abc, 1, []string{"a"}},
			{without(abc, "b"), 4, []string{"c", "a", "c", "a"}},
		}},
		{"leaving credential: remove b after b", []rrStep{
			{abc, 2, []string{"a", "b"}},
			{without(abc, "b"), 3, []string{"c", "a", "c"}},
		}},
		{"joining credential is reached in its turn", []rrStep{
			{creds("a", "c"), 1, []string{"a"}},
			{abc, 4, []string{"b", "c", "a", "b"}},
		}},
		{"joining credential sorting first waits for the wrap", []rrStep{
			{creds("b", "c"), 1, []string{"b"}},
			{abc, 4, []string{"c", "a", "b", "c"}},
		}},
		{"cooling credential skipped, then resumes", []rrStep{
			{abc, 1, []string{"a"}},
			{without(abc, "b"), 2, []string{"c", "a"}},
			{abc, 4, []string{"b", "c", "a", "b"}},
		}},
		{"last picked leaves", []rrStep{
			{abc, 3, []string{"a", "b", "c"}},
			{without(abc, "c"), 3, []string{"a", "b", "a"}},
		}},
		{"all but one cooling", []rrStep{
			{abc, 1, []string{"a"}},
			{without(abc, "a", "c"), 2, []string{"b", "b"}},
			{abc, 2, []string{"c", "a"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr := selector.NewRoundRobin()
			for i, st := range tt.steps {
				assert.Equal(t, st.want, picks(rr, "claude:opus", st.cands, st.n), "step %d", i+1)
			}
		})
	}
}

func TestRoundRobinIsFair(t *testing.T) {
	cands := creds("a", "b", "c", "d", "e")
	rr := selector.NewRoundRobin()
	counts := map[string]int{}
	for range 1000 {
		counts[rr.Pick("k", cands).Name]++
	}
	for _, c := range cands {
		assert.Equal(t, 200, counts[c.Name], c.Name)
	}
}

func TestRoundRobinKeysAreIndependent(t *testing.T) {
	cands := creds("a", "b", "c")
	rr := selector.NewRoundRobin()
	assert.Equal(t, "a", rr.Pick("claude:opus", cands).Name)
	assert.Equal(t, "b", rr.Pick("claude:opus", cands).Name)
	assert.Equal(t, "a", rr.Pick("claude:sonnet", cands).Name, "a new key did not start at the first candidate")
	assert.Equal(t, "c", rr.Pick("claude:opus", cands).Name, "another key moved this key's cursor")
	assert.Equal(t, "b", rr.Pick("claude:sonnet", cands).Name)
}

// Clients choose model names, so the number of rotation keys is theirs. Far
// more keys than the selector remembers must neither break it nor stop it
// rotating a key in steady use.
func TestRoundRobinManyKeys(t *testing.T) {
	cands := creds("a", "b", "c")
	rr := selector.NewRoundRobin()
	for i := range 10_000 {
		require.NotNil(t, rr.Pick(fmt.Sprintf("claude:model-%d", i), cands))
	}
	got := picks(rr, "claude:hot", cands, 6)
	assert.Equal(t, []string{"a", "b", "c", "a", "b", "c"}, got)
}

func TestRoundRobinConcurrent(t *testing.T) {
	cands := creds("a", "b", "c", "d")
	rr := selector.NewRoundRobin()
	const goroutines, each = 8, 250
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]int{}
			for i := range each {
				local[rr.Pick("k", cands).Name]++
				rr.Pick(fmt.Sprintf("other-%d-%d", g, i), cands)
			}
			mu.Lock()
			for k, v := range local {
				counts[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	// every pick of "k" advanced the shared cursor by one, so the rotation
	// stays exactly fair under contention
	for _, c := range cands {
		assert.Equal(t, goroutines*each/len(cands), counts[c.Name], c.Name)
	}
}

func TestFillFirst(t *testing.T) {
	s, err := selector.New("fill-first")
	require.NoError(t, err)
	abc := creds("a", "b", "c")
	assert.Equal(t, []string{"a", "a", "a"}, picks(s, "k", abc, 3))
	assert.Equal(t, []string{"b", "b"}, picks(s, "k", without(abc, "a"), 2), "next one does not fill in")
	assert.Equal(t, []string{"a"}, picks(s, "k", abc, 1), "recovered first credential not preferred again")
	assert.Equal(t, []string{"a"}, picks(s, "other", abc, 1))
}

func TestTopTier(t *testing.T) {
	tests := []struct {
		name  string
		cands []*auth.Credential
		want  []string
	}{
		{"empty", nil, nil},
		{"one", []*auth.Credential{tiered("a", 3)}, []string{"a"}},
		{"single tier", []*auth.Credential{tiered("a", 1), tiered("b", 1), tiered("c", 1)}, []string{"a", "b", "c"}},
		{"highest first", []*auth.Credential{tiered("a", 5), tiered("b", 1), tiered("c", 5)}, []string{"a", "c"}},
		{"highest later", []*auth.Credential{tiered("a", 0), tiered("b", 0), tiered("c", 2)}, []string{"c"}},
		{"three tiers, order kept", []*auth.Credential{tiered("a", 1), tiered("b", 3), tiered("c", 2), tiered("d", 3)}, []string{"b", "d"}},
		{"negative priorities", []*auth.Credential{tiered("a", -5), tiered("b", -1), tiered("c", -5)}, []string{"b"}},
		{"rising then falling", []*auth.Credential{tiered("a", 1), tiered("b", 2), tiered("c", 1)}, []string{"b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range selector.TopTier(tt.cands) {
				got = append(got, c.Name)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestTopTierDoesNotModifyInput(t *testing.T) {
	in := []*auth.Credential{tiered("a", 0), tiered("b", 1), tiered("c", 0)}
	_ = selector.TopTier(in)
	assert.Equal(t, []string{"a", "b", "c"}, []string{in[0].Name, in[1].Name, in[2].Name})
}

func TestTopTierSingleTierDoesNotAllocate(t *testing.T) {
	cands := []*auth.Credential{tiered("a", 1), tiered("b", 1), tiered("c", 1), tiered("d", 1)}
	var out []*auth.Credential
	allocs := testing.AllocsPerRun(100, func() { out = selector.TopTier(cands) })
	assert.Zero(t, allocs)
	require.Len(t, out, len(cands))
	assert.Same(t, &cands[0], &out[0], "single tier did not return the candidates themselves")
}

func TestPickDoesNotAllocate(t *testing.T) {
	cands := creds("a", "b", "c", "d", "e", "f", "g", "h")
	for _, name := range []string{"round-robin", "fill-first"} {
		t.Run(name, func(t *testing.T) {
			s, err := selector.New(name)
			require.NoError(t, err)
			s.Pick("claude:opus", cands) // the key's cursor exists from now on
			allocs := testing.AllocsPerRun(100, func() { s.Pick("claude:opus", cands) })
			assert.Zero(t, allocs)
		})
	}
}

func TestTiered(t *testing.T) {
	cands := []*auth.Credential{tiered("a", 0), tiered("b", 1), tiered("c", 1), tiered("d", 0)}
	s := selector.Tiered{Next: selector.NewRoundRobin()}
	assert.Equal(t, []string{"b", "c", "b"}, picks(s, "k", cands, 3))
	// the top tier cools down: the next tier serves, continuing the
	// rotation by name from the last pick (b)
	assert.Equal(t, []string{"d", "a", "d"}, picks(s, "k", without(cands, "b", "c"), 3))
	// and it recovers
	assert.Equal(t, []string{"b"}, picks(s, "k", cands, 1))
	assert.Nil(t, s.Pick("k", nil))
}

func BenchmarkRoundRobinPick(b *testing.B) {
	benchmarkPick(b, "round-robin")
}

func BenchmarkFillFirstPick(b *testing.B) {
	benchmarkPick(b, "fill-first")
}

func benchmarkPick(b *testing.B, strategy string) {
	s, err := selector.New(strategy)
	if err != nil {
		b.Fatal(err)
	}
	cands := creds("a", "b", "c", "d", "e", "f", "g", "h")
	b.ReportAllocs()
	for b.Loop() {
		if s.Pick("claude:claude-opus-4-1", cands) == nil {
			b.Fatal("no pick")
		}
	}
}
