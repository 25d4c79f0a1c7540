package selector_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/selector"
	"github.com/caddy-cliproxy/cliproxy/session"
)

// bigPool is n credentials ordered by name, as a Pool hands them out.
func bigPool(n int) ([]*auth.Credential, map[string]*auth.Credential) {
	cands := make([]*auth.Credential, n)
	byName := make(map[string]*auth.Credential, n)
	for i := range cands {
		c := &auth.Credential{Name: fmt.Sprintf("cred-%05d", i), Provider: auth.Claude, APIKey: "k", Weight: 1}
		cands[i] = c
		byName[c.Name] = c
	}
	return cands, byName
}

// BenchmarkAffinityPick10k is the pick of a bound session in a pool of
// 10,000 credentials: the common case of a conversation's later turns.
func BenchmarkAffinityPick10k(b *testing.B) {
	cands, byName := bigPool(10_000)
	cache := session.NewCache(time.Hour, 0)
	defer cache.Stop()
	next, _ := selector.New("round-robin")
	a := &selector.Affinity{Next: next, Bindings: cache}
	home := func(name string) (*auth.Credential, bool, time.Time) {
		c := byName[name]
		return c, c != nil, time.Time{}
	}
	keys := make([]selector.Session, 1024)
	for i := range keys {
		keys[i] = selector.Session{Key: fmt.Sprintf("anthropic::alice::claude-code:%d::opus", i)}
		d := a.Pick("anthropic:opus", keys[i], cands, home)
		a.Succeeded(keys[i], d, d.Credential)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if d := a.Pick("anthropic:opus", keys[i%len(keys)], cands, home); d.Outcome != selector.Hit {
			b.Fatal("not a hit")
		}
	}
}

// BenchmarkPick10k is a placement (no binding yet) by each strategy over
// 10,000 credentials.
func BenchmarkPick10k(b *testing.B) {
	cands, _ := bigPool(10_000)
	for _, name := range []string{"round-robin", "fill-first", "weighted-round-robin"} {
		b.Run(name, func(b *testing.B) {
			s, _ := selector.New(name)
			b.ReportAllocs()
			for b.Loop() {
				if s.Pick("anthropic:opus", cands) == nil {
					b.Fatal("no pick")
				}
			}
		})
	}
}
