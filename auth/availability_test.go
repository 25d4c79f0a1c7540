package auth_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

func TestSnapshotAggregatesAvailability(t *testing.T) {
	p, clk := snapshotPool(t)
	start := clk.Now()
	snaps := p.Snapshot()

	fresh := findSnapshot(t, snaps, "a-fresh")
	assert.False(t, fresh.Unavailable)
	assert.True(t, fresh.NextRetryAfter.IsZero())
	require.NotNil(t, fresh.Quota)
	assert.False(t, fresh.Quota.Exceeded)
	assert.Empty(t, fresh.ModelList)

	// one model cooling, another merely recorded: still available, the
	// cooling model's quota is in force
	deg := findSnapshot(t, snaps, "b-degraded")
	assert.False(t, deg.Unavailable, "a credential with a usable model is available")
	assert.True(t, deg.Quota.Exceeded)
	assert.Equal(t, start.Add(time.Minute), deg.Quota.NextRecoverAt)
	require.Len(t, deg.ModelList, 2)
	assert.Equal(t, "gpt-4o", deg.ModelList[0].Name, "ordered by name")
	assert.Empty(t, deg.ModelList[0].Reason)
	assert.Equal(t, "gpt-5", deg.ModelList[1].Name)
	assert.Equal(t, auth.StatusCooldown, deg.ModelList[1].Status)
	assert.Equal(t, auth.BlockCooldown, deg.ModelList[1].Reason)
	assert.Equal(t, start.Add(time.Minute), deg.ModelList[1].NextRetryAfter)

	// the whole credential out of quota
	whole := findSnapshot(t, snaps, "c-whole")
	assert.True(t, whole.Unavailable)
	assert.Equal(t, start.Add(time.Hour), whole.NextRetryAfter)
	assert.True(t, whole.Quota.Exceeded)
	assert.Equal(t, "usage_limit_reached", whole.Quota.Reason)

	// blocked for its only model by an auth error: unavailable, no quota
	other := findSnapshot(t, snaps, "d-wholeother")
	assert.True(t, other.Unavailable)
	assert.False(t, other.NextRetryAfter.IsZero())
	assert.False(t, other.Quota.Exceeded)

	off := findSnapshot(t, snaps, "e-disabled")
	assert.True(t, off.Unavailable)
	assert.True(t, off.NextRetryAfter.IsZero(), "only an operator brings a disabled credential back")

	// the JSON an operator reads
	out, err := json.Marshal(deg)
	require.NoError(t, err)
	for _, f := range []string{"unavailable", "quota.exceeded", "quota.reason", "quota.next_recover_at", "quota.backoff_level", "model_states.1.next_retry_after"} {
		assert.True(t, gjson.GetBytes(out, f).Exists(), "no %s in %s", f, out)
	}
	assert.False(t, gjson.GetBytes(out, "next_retry_after").Exists(), "an available credential has no next retry: %s", out)

	// once the minute has passed, nothing is in force
	clk.Advance(2 * time.Minute)
	deg = findSnapshot(t, p.Snapshot(), "b-degraded")
	assert.False(t, deg.Quota.Exceeded)
	assert.Empty(t, deg.ModelList[1].Reason)
}
