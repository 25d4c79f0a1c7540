package cluster_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/cluster"
	"github.com/caddy-cliproxy/cliproxy/internal/redistest"
	"github.com/caddy-cliproxy/cliproxy/telemetry"
)

// Usage records made while Redis dies are not lost: the ones on their way
// to it when it was killed, and the ones made before the cluster noticed,
// go back to the hub's local queue, and the hub's pop drains that queue and
// then the list. Redis keeps what it acknowledged here (an append-only
// file), so every record can be popped once it is back.
func TestUsageRecordsSurviveRedisDying(t *testing.T) {
	srv := redistest.StartWith(t, "--appendonly", "yes", "--appendfsync", "always", "--dir", t.TempDir())
	hub := telemetry.NewHub(time.Hour, 1_000_000)
	var kept atomic.Int64
	a := newInstance(t, srv.URL(0), func(o *cluster.Options) {
		o.OnUsageUnsent = func(p [][]byte) { kept.Add(int64(len(p))); hub.KeepUnsent(p) }
	})
	hub.SetShared(a.cluster)
	waitUp(t, a)

	var made atomic.Int64
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			hub.Usage(&telemetry.Record{RequestID: strconv.Itoa(i), Model: "sonnet"})
			made.Add(1)
			time.Sleep(100 * time.Microsecond)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	// Redis stops taking writes, then crashes: the records of those 100 ms
	// are on their way when it dies
	require.Equal(t, "OK", srv.Do("CLIENT", "PAUSE", "10000", "WRITE"))
	time.Sleep(100 * time.Millisecond)
	srv.Stop()
	require.Eventually(t, func() bool { return !a.cluster.Up() }, 3*time.Second, time.Millisecond)
	// down long enough for the cluster's writes to fail rather than wait
	// for it
	time.Sleep(1500 * time.Millisecond)
	srv.Restart()
	waitUp(t, a)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-stopped

	seen := map[string]int{}
	deadline := time.Now().Add(5 * time.Second)
	for len(seen) < int(made.Load()) && time.Now().Before(deadline) {
		got, err := hub.Pop(context.Background(), 1000)
		if err == nil && len(got) == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		for _, rec := range got {
			seen[gjson.GetBytes(rec, "request_id").String()]++
		}
	}
	require.Len(t, seen, int(made.Load()), "records lost: %d of %d made were never popped", int(made.Load())-len(seen), made.Load())
	twice := 0
	for _, n := range seen {
		twice += n - 1
	}
	t.Logf("%d records made, %d kept locally after a failed write, %d popped twice (written as Redis died, its answer lost)", made.Load(), kept.Load(), twice)
	assert.Less(t, twice, 256, "more records counted twice than one batch holds")
}

// An instance that closes while its usage records wait for Redis gives
// them back to its local queue.
func TestClosingClusterGivesItsUsageRecordsBack(t *testing.T) {
	srv := redistest.Start(t)
	var kept atomic.Int64
	a := newInstance(t, srv.URL(0), func(o *cluster.Options) {
		o.OnUsageUnsent = func(p [][]byte) { kept.Add(int64(len(p))) }
	})
	waitUp(t, a)
	require.Equal(t, "OK", srv.Do("CLIENT", "PAUSE", "10000", "WRITE"))
	for i := range 50 {
		a.cluster.PushUsage([]byte(`{"request_id":"` + strconv.Itoa(i) + `"}`))
		time.Sleep(time.Millisecond)
	}
	require.NoError(t, a.cluster.Close())
	assert.EqualValues(t, 50, kept.Load(), "records waiting for Redis were lost when the cluster closed")
	srv.Do("CLIENT", "UNPAUSE")
	assert.Equal(t, "0", srv.Do("LLEN", "usage"))
}
