package selector_test

import (
	"fmt"
	"time"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/selector"
	"github.com/caddy-cliproxy/cliproxy/session"
)

// A strategy picks among the credentials that may serve a request; New
// wraps it so only the highest priority tier is offered.
func ExampleNew() {
	rr, _ := selector.New("rr")
	cands := []*auth.Credential{
		{Name: "a", Priority: 1},
		{Name: "b", Priority: 1},
		{Name: "spare"},
	}
	fmt.Println(rr.Pick("claude:sonnet", cands).Name, rr.Pick("claude:sonnet", cands).Name, rr.Pick("claude:sonnet", cands).Name)
	// when the top tier is out, the spare serves
	fmt.Println(rr.Pick("claude:sonnet", cands[2:]).Name)
	// Output:
	// a b a
	// spare
}

// Affinity keeps a conversation on the credential that served its first
// turn, using a session.Cache for the bindings.
func ExampleAffinity() {
	cache := session.NewCache(time.Hour, 0)
	defer cache.Stop()
	next, _ := selector.New("round-robin")
	aff := &selector.Affinity{Next: next, Bindings: cache}

	cands := []*auth.Credential{{Name: "a"}, {Name: "b"}}
	home := func(name string) (*auth.Credential, bool, time.Time) {
		for _, c := range cands {
			if c.Name == name {
				return c, true, time.Time{}
			}
		}
		return nil, false, time.Time{}
	}
	serve := func(sessionKey string) string {
		s := selector.Session{Key: sessionKey}
		d := aff.Pick("claude:sonnet", s, cands, home)
		aff.Succeeded(s, d, d.Credential) // the upstream answered 200
		return d.Credential.Name
	}
	fmt.Println(serve("conv-1"), serve("conv-2"), serve("conv-1"), serve("conv-2"))
	st := aff.Stats()
	fmt.Println("hits", st.Hits, "misses", st.Misses)
	// Output:
	// a b a b
	// hits 2 misses 2
}
