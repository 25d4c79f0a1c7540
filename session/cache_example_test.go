package session_test

import (
	"fmt"
	"time"

	"github.com/caddy-cliproxy/cliproxy/session"
)

// A conversation's first turn binds its session key to the credential the
// strategy picked; later turns find it, which also keeps the binding alive.
// Turn 2's fallback hash joins turn 1's key in one alias group, so both
// expire, refresh and drop together.
func ExampleCache() {
	c := session.NewCache(time.Hour, 0)
	defer c.Stop()

	// Turn 1: no binding yet; the selector picks cred-a and binds the short
	// (fallback) hash.
	if _, ok := c.GetAndRefresh("claude::h1-short::sonnet"); !ok {
		c.Set("cred-a", "claude::h1-short::sonnet")
	}

	// Turn 2: the full hash is unbound, the short one inherits; bind both.
	cred, ok := c.GetAndRefresh("claude::h1-short::sonnet")
	fmt.Println(cred, ok)
	c.Set(cred, "claude::h2-full::sonnet", "claude::h1-short::sonnet")
	fmt.Println(c.Len())

	// cred-a fails for good (403): drop the binding, unless another request
	// re-bound the session meanwhile.
	fmt.Println(c.CompareAndDelete("claude::h2-full::sonnet", "cred-b"))
	fmt.Println(c.CompareAndDelete("claude::h2-full::sonnet", "cred-a"))
	_, ok = c.Get("claude::h1-short::sonnet")
	fmt.Println(ok, c.Len())

	// Output:
	// cred-a true
	// 2
	// false
	// true
	// false 0
}
