package auth_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// A pool of two keys: one answers 429 with a Retry-After, the pool cools
// it for that model only, and reports when it will be back.
func ExamplePool() {
	main := &auth.Credential{Name: "main", Provider: auth.Claude, APIKey: "sk-ant-main", Weight: 1}
	spare := &auth.Credential{Name: "spare", Provider: auth.Claude, APIKey: "sk-ant-spare", Weight: 1}
	// one Health outlives the pools rebuilt from it (a config reload)
	health := auth.NewHealth()
	pool, err := auth.NewPoolWithHealth([]*auth.Credential{main, spare}, health, auth.Policy{})
	if err != nil {
		panic(err)
	}
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	pool.Now = func() time.Time { return start } // a fixed clock for the example

	// record what the upstream answered: a success, then a 429 with a hint
	pool.RecordSuccess(spare, "claude-sonnet-4-5")
	h := http.Header{"Retry-After": {"90"}}
	until := pool.RecordFailure(main, "claude-sonnet-4-5", auth.Outcome{
		Status: http.StatusTooManyRequests,
		Hint:   auth.ParseHint(h, nil, start),
	})
	fmt.Println("main cools until", until.Format(time.TimeOnly))

	// read availability, per model
	for _, c := range pool.Credentials() {
		ok, _ := pool.Available(c, "claude-sonnet-4-5")
		reason, _ := pool.BlockedBy(c, "claude-sonnet-4-5")
		okOther, _ := pool.Available(c, "claude-opus-4-1")
		fmt.Printf("%s: sonnet %v %q, opus %v\n", c.Name, ok, reason, okOther)
	}

	// and a pool rebuilt over the same Health finds the block where it was
	again, _ := auth.NewPoolWithHealth([]*auth.Credential{main, spare}, health, auth.Policy{})
	again.Now = pool.Now
	ok, _ := again.Available(again.Get("main"), "claude-sonnet-4-5")
	fmt.Println("after a rebuild, main available:", ok)

	// past the block it serves again
	pool.Now = func() time.Time { return start.Add(91 * time.Second) }
	ok, _ = pool.Available(main, "claude-sonnet-4-5")
	fmt.Println("91s later, main available:", ok)
	// Output:
	// main cools until 12:01:30
	// main: sonnet false "cooldown", opus true
	// spare: sonnet true "", opus true
	// after a rebuild, main available: false
	// 91s later, main available: true
}
