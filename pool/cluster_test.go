package pool_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/cluster"
	"github.com/caddy-cliproxy/cliproxy/internal/redistest"
	"github.com/caddy-cliproxy/cliproxy/management"
	"github.com/caddy-cliproxy/cliproxy/outcome"
	"github.com/caddy-cliproxy/cliproxy/pool"
)

// linked returns a pool state linked, as the module links it, to a
// cluster on the Redis at url.
func linked(t *testing.T, url string) (*pool.State, *cluster.Cluster) {
	t.Helper()
	st := pool.New(time.Hour)
	t.Cleanup(func() { _ = st.Destruct() })
	cl, err := cluster.New(cluster.Options{URL: url, Pool: "test", Health: st.Health, Bindings: st.Sessions})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Close() })
	require.Eventually(t, cl.Up, 5*time.Second, 10*time.Millisecond, "redis must be taken as up")
	st.Link(cl, cl.Bindings())
	return st, cl
}

// A linked pool drops bindings and queues usage through its cluster, so
// both reach the other instances; once unlinked it keeps them to itself.
func TestLinkedPoolSharesBindingsAndUsage(t *testing.T) {
	rs := redistest.Start(t)
	a, ca := linked(t, rs.URL(0))
	b, cb := linked(t, rs.URL(0))
	ctx := context.Background()

	ca.Bindings().Set("claude-a", "s1")
	require.Eventually(t, func() bool { _, ok := b.Sessions.Get("s1"); return ok }, 5*time.Second, 10*time.Millisecond,
		"a binding made on A reaches B")
	assert.True(t, a.Bindings().Delete("s1"), "management drops the binding on A")
	require.Eventually(t, func() bool { _, ok := b.Sessions.Get("s1"); return !ok }, 5*time.Second, 10*time.Millisecond,
		"management's drop on A reaches B")

	a.Telemetry.Request(&outcome.Request{RequestID: "r1", Client: "alice", Status: 200})
	var popped [][]byte
	require.Eventually(t, func() bool {
		recs, err := b.Telemetry.Pop(ctx, 10)
		popped = append(popped, recs...)
		return err == nil && len(popped) > 0
	}, 5*time.Second, 10*time.Millisecond, "A's usage record is popped from B")
	assert.Contains(t, string(popped[0]), `"request_id":"r1"`)
	assert.Zero(t, a.Telemetry.Queue().Len(), "the record went to the shared queue, not A's own")

	a.Unlink(cb) // another cluster's connection closing leaves A's link alone
	assert.Equal(t, management.SessionBindings(ca.Bindings()), a.Bindings())

	a.Unlink(ca)
	assert.Same(t, a.Sessions, a.Bindings(), "unlinked, management drops A's own bindings")
	a.Telemetry.Request(&outcome.Request{RequestID: "r2", Client: "alice", Status: 200})
	assert.Equal(t, 1, a.Telemetry.Queue().Len(), "unlinked, A queues its records itself")
}
