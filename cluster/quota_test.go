package cluster_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/internal/redistest"
)

// The usage windows one instance reads reach the others, and an instance
// started later finds them in Redis, so every instance places new
// sessions by the same levels.
func TestQuotaWindowsReachTheOtherInstances(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newInstance(t, srv.URL(0)), newInstance(t, srv.URL(0))
	waitUp(t, a, b)

	now := time.Now()
	w := auth.QuotaWindow{Window: "5h", Utilization: 0.97, ResetsAt: now.Add(time.Hour).Truncate(time.Second), Status: "allowed_warning", Seen: now}
	a.pool.RecordQuota(a.pool.Get("a"), []auth.QuotaWindow{w}, 0.9)
	require.Eventually(t, func() bool {
		return b.pool.QuotaLevel(b.pool.Get("a")).Utilization > 0.96
	}, time.Second, 5*time.Millisecond, "a window read on A must reach B")
	lv := b.pool.QuotaLevel(b.pool.Get("a"))
	assert.Equal(t, "5h", lv.Window)
	assert.True(t, lv.ResetsAt.Equal(w.ResetsAt))
	assert.False(t, b.pool.QuotaLevel(b.pool.Get("b")).Known, "another credential has none")

	c := newInstance(t, srv.URL(0))
	waitUp(t, c)
	require.Eventually(t, func() bool {
		return c.pool.QuotaLevel(c.pool.Get("a")).Utilization > 0.96
	}, 2*time.Second, 10*time.Millisecond, "a new instance must take the windows already in Redis")
}
