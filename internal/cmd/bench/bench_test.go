package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/internal/testutil"
)

// TestHarnessProducesTable runs the harness with a tiny load against the
// project's own caddy, so it does not rot: both Caddys serve every request,
// cliproxy spreads its sessions over all its credentials, and the table,
// the figures and the chart are written. It asserts no timing.
func TestHarnessProducesTable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds caddy")
	}
	dir := t.TempDir()
	start := time.Now()
	bin, err := testutil.BuildCaddy(dir)
	require.NoError(t, err)
	t.Logf("caddy built in %s", time.Since(start))

	// a measurement is long enough for a 1 MB request to finish inside it
	// on a machine busy with the rest of the suite (at 300 ms, a row once
	// served nothing)
	cfg := config{
		Caddy:       bin,
		Out:         filepath.Join(dir, "out"),
		Warmup:      50 * time.Millisecond,
		Measure:     time.Second,
		Concurrency: []int{1, 4},
		Workloads:   defaultWorkloads,
		Sessions:    16,
		Credentials: 8,
		Streams:     20,
		Rounds:      2,
	}
	var table, progress bytes.Buffer
	rep, err := run(context.Background(), cfg, &table, &progress)
	require.NoError(t, err, progress.String())

	require.Len(t, rep.Cells, 2*2*2)
	for _, c := range rep.Cells {
		assert.Positive(t, c.Requests, "%s %s c=%d served nothing", c.Caddy, c.Workload, c.Concurrency)
		assert.Zero(t, c.Errors, "%s %s c=%d", c.Caddy, c.Workload, c.Concurrency)
		assert.Positive(t, c.PeakRSS)
		if c.Caddy != cliproxyName {
			assert.Equal(t, 1, c.UpstreamKeys, "%s %s c=%d: distinct upstream keys", c.Caddy, c.Workload, c.Concurrency)
			continue
		}
		// new sessions spread over every credential; a short cell of big
		// bodies may send fewer requests than there are credentials
		want := min(cfg.Credentials, c.Requests)
		assert.GreaterOrEqual(t, c.UpstreamKeys, want, "%s %s c=%d: distinct upstream keys", c.Caddy, c.Workload, c.Concurrency)
		assert.LessOrEqual(t, c.UpstreamKeys, cfg.Credentials)
	}
	require.Len(t, rep.Streams, 2)
	for _, s := range rep.Streams {
		assert.Zero(t, s.Errors, s.Caddy)
		assert.Greater(t, s.RSS, s.Idle, "%s: holding streams costs memory", s.Caddy)
	}

	md := table.String()
	for _, w := range []string{"50KB", "1MB"} {
		for _, c := range []string{"| 1 | plain |", "| 1 | cliproxy |", "| 4 | plain |", "| 4 | cliproxy |", "| 4 | **cliproxy / plain** |"} {
			assert.Contains(t, md, "| "+w+" "+c)
		}
	}
	assert.Contains(t, md, "| 20 | **cliproxy / plain** |")
	assert.NotContains(t, md, "sk-upstream-", "an upstream key in the table")
	saved, err := os.ReadFile(filepath.Join(cfg.Out, "results.md"))
	require.NoError(t, err)
	assert.Equal(t, md, string(saved))
	svg, err := os.ReadFile(filepath.Join(cfg.Out, "latency.svg"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(svg), "<svg"))
	assert.Equal(t, 8, strings.Count(string(svg), "<polyline"), "p50 and p99 of both Caddys in both panels")
	_, err = os.Stat(filepath.Join(cfg.Out, "results.json"))
	assert.NoError(t, err)
}

func TestClaudeCodeBodiesHaveTheirSize(t *testing.T) {
	for _, ws := range defaultWorkloads {
		w := newWorkload(ws.Name, ws.Size, 3)
		for i, b := range w.bodies {
			assert.InDelta(t, ws.Size, len(b), float64(ws.Size)/20, "%s body %d", ws.Name, i)
			assert.Contains(t, string(b), w.ids[i], "the session is in metadata.user_id")
		}
		assert.NotEqual(t, w.bodies[0], w.bodies[1])
	}
}
