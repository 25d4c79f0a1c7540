package management

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestUsageStatsTotalsPerCredentialAndMember(t *testing.T) {
	u := NewUsageStats()
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cred := "a"
			if i%4 == 0 {
				cred = "b"
			}
			u.Record(cred, "alice", 200, Tokens{Input: 10, Output: 2, CacheRead: 1})
		}()
	}
	wg.Wait()
	u.Record("b", "bob", 529, Tokens{})
	u.Record("", "bob", 429, Tokens{}) // no credential answered

	r := u.Report()
	assert.Equal(t, Totals{Requests: 102, Errors: 2, Tokens: Tokens{Input: 1000, Output: 200, CacheRead: 100}}, r.Total)
	assert.Equal(t, Totals{Requests: 75, Tokens: Tokens{Input: 750, Output: 150, CacheRead: 75}}, r.Credentials["a"])
	assert.Equal(t, int64(26), r.Credentials["b"].Requests)
	assert.Equal(t, int64(1), r.Credentials["b"].Errors)
	assert.Len(t, r.Credentials, 2, "a request no credential answered is counted for its member only")
	assert.Equal(t, Totals{Requests: 2, Errors: 2}, r.Members["bob"])
	assert.Equal(t, int64(100), r.Members["alice"].Requests)
	assert.Equal(t, r.Credentials["a"], u.Credential("a"))
	assert.Zero(t, u.Credential("nope"))

	r.Credentials["a"] = Totals{}
	assert.NotZero(t, u.Credential("a"), "a report is a copy")
}
