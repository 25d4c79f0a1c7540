package cliproxy

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A reload provisions the new handler before cleaning up the old one: the
// state must be the same object for both, take the new TTL, keep the
// strategies, and be destroyed (its sweeper stopped) only when the last
// handler lets go.
func TestPoolStateLivesAcrossReloadAndStopsAfterLastUse(t *testing.T) {
	before := runtime.NumGoroutine()
	old, err := loadPoolState("unit-reload", time.Hour)
	require.NoError(t, err)
	old.bindings.Set("cred-a", "session-1") // starts the sweeper
	rrOld, err := old.strategy("round-robin")
	require.NoError(t, err)

	// the new config
	cur, err := loadPoolState("unit-reload", 10*time.Minute)
	require.NoError(t, err)
	assert.Same(t, old, cur)
	assert.Equal(t, 10*time.Minute, cur.bindings.TTL())
	rrNew, err := cur.strategy("round-robin")
	require.NoError(t, err)
	assert.True(t, rrOld == rrNew, "the same strategy must keep its cursors")
	ff, err := cur.strategy("fill-first")
	require.NoError(t, err)
	assert.False(t, rrOld == ff)

	// the old handler's cleanup
	deleted, err := pools.Delete("unit-reload")
	require.NoError(t, err)
	assert.False(t, deleted)
	got, ok := cur.bindings.Get("session-1")
	assert.True(t, ok)
	assert.Equal(t, "cred-a", got)

	deleted, err = pools.Delete("unit-reload")
	require.NoError(t, err)
	assert.True(t, deleted)
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "the binding sweeper outlived the pool")

	fresh, err := loadPoolState("unit-reload", time.Hour)
	require.NoError(t, err)
	assert.NotSame(t, old, fresh)
	_, _ = pools.Delete("unit-reload")
}
