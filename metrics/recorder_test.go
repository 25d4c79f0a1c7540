package metrics

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/outcome"
)

// tokenMembers returns the member label values of the token series of
// credential.
func tokenMembers(t *testing.T, reg *prometheus.Registry, credential string) map[string]bool {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	members := map[string]bool{}
	for _, f := range families {
		if f.GetName() != "caddy_cliproxy_tokens_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["credential"] == credential {
				members[labels["member"]] = true
			}
		}
	}
	return members
}

// Members admitted by client_identity get a token series each, up to a
// bound past which they share one; the series go with the handler.
func TestTokenSeriesOfIdentityMembersAreBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	hm, err := NewRecorder(reg, func() *auth.Pool { return nil })
	require.NoError(t, err)
	const cred = "identity-bound-test"
	record := func(member string) {
		hm.Request(&outcome.Request{Provider: "claude", Credential: cred, Client: member, Status: 200, Tokens: outcome.Tokens{Input: 1}})
	}
	for i := range maxIdentitySeries + 50 {
		record(fmt.Sprintf("member-%d", i))
	}
	record("member-0") // one with a series keeps it
	members := tokenMembers(t, reg, cred)
	assert.Len(t, members, maxIdentitySeries+1)
	assert.True(t, members["member-0"])
	assert.True(t, members[fmt.Sprintf("member-%d", maxIdentitySeries-1)])
	assert.False(t, members[fmt.Sprintf("member-%d", maxIdentitySeries)])
	assert.True(t, members[otherMember])

	hm.Close()
	assert.Empty(t, tokenMembers(t, reg, cred), "the series outlived the handler")
}
