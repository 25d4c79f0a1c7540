package executor

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// A request finds its eligible credentials without walking the pool once
// a request of its kind has: the list is worked out once per view, and
// stays right per model and client.
func TestViewEligibleIsWorkedOutOncePerKind(t *testing.T) {
	opus := &auth.Credential{Name: "opus-only", Provider: auth.Claude, APIKey: "k1", Models: []string{"claude-opus-*"}}
	anyModel := &auth.Credential{Name: "any", Provider: auth.Claude, APIKey: "k2"}
	alice := &auth.Credential{Name: "alice-own", Provider: auth.Claude, APIKey: "k3", AllowedClients: []string{"alice"}}
	pool, err := auth.NewPool([]*auth.Credential{opus, anyModel, alice})
	require.NoError(t, err)
	v, err := newView(pool, "")
	require.NoError(t, err)
	route := Route{Family: FamilyAnthropic, Endpoint: "messages", HasBody: true}

	first := v.eligible(route, "claude-opus-4", "bob")
	assert.Equal(t, []*auth.Credential{anyModel, opus}, first)
	again := v.eligible(route, "claude-opus-4", "bob")
	assert.Same(t, &first[0], &again[0], "the list was worked out again")

	assert.Equal(t, []*auth.Credential{anyModel}, v.eligible(route, "claude-sonnet-4-5", "bob"))
	assert.Equal(t, []*auth.Credential{alice, anyModel}, v.eligible(route, "claude-sonnet-4-5", "alice"))

	// past the bound, lists are still right, only not remembered
	for i := range maxEligibleLists + 10 {
		got := v.eligible(route, fmt.Sprintf("claude-opus-%d", i), "alice")
		require.Equal(t, []*auth.Credential{alice, anyModel, opus}, got)
	}
	assert.Len(t, v.lists, maxEligibleLists)
}
