package selector

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// The cursor map is the selector's only state that grows with client
// input (one key per model name); it must stay within maxCursors.
func TestRoundRobinCursorsBounded(t *testing.T) {
	cands := []*auth.Credential{{Name: "a"}, {Name: "b"}}
	rr := NewRoundRobin()
	for i := range 3 * maxCursors {
		rr.Pick(fmt.Sprintf("claude:model-%d", i), cands)
		if len(rr.last) > maxCursors {
			t.Fatalf("after %d keys the selector remembers %d cursors, more than %d", i+1, len(rr.last), maxCursors)
		}
	}
	assert.Len(t, rr.last, maxCursors)

	// with the map full, a new key still gets a cursor and rotates
	for i := range 10 {
		assert.Equal(t, cands[i%2].Name, rr.Pick("claude:hot", cands).Name, "pick %d", i+1)
	}
	assert.Len(t, rr.last, maxCursors)
}
