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

	"github.com/caddy-cliproxy/cliproxy/internal/redistest"
	"github.com/caddy-cliproxy/cliproxy/internal/testutil"
)

// TestSoakSmoke runs the harness for 20 seconds against the project's own
// caddy, so it keeps working: every step of the chaos happens and works,
// the conversations are served, no conversation changes credential without
// a reason, the instances end with the goroutines they started with, and
// the table and the report are written without a secret. It asserts no
// timing.
func TestSoakSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds caddy and runs for 20 s")
	}
	redistest.Require(t)
	dir := t.TempDir()
	bin, err := testutil.BuildCaddy(dir)
	require.NoError(t, err)

	cfg := defaults()
	cfg.Caddy = bin
	cfg.Out = filepath.Join(dir, "reliability.md")
	cfg.Logs = filepath.Join(dir, "logs")
	cfg.Duration = 20 * time.Second
	cfg.Claude, cfg.Responses, cfg.Gemini = 16, 3, 3
	cfg.ReloadEvery = 5 * time.Second
	cfg.TurnTimeout = 10 * time.Second
	var table, log bytes.Buffer
	rep, err := run(context.Background(), cfg, &table, &log)
	require.NoError(t, err, log.String())

	steps := map[string]bool{}
	for _, h := range rep.Timeline {
		assert.Empty(t, h.Err, "%s at %s failed", h.What, h.At)
		steps[h.What] = true
	}
	for _, want := range []string{
		"redis-server killed", "redis-server started again, empty",
		"operator disables key-6 on both instances", "operator enables key-6 on both instances",
		authFile1 + ".json edited (a header added)", authFile2 + ".json uploaded through the management API",
		"key-8, gemini-2: hang before answering begins",
	} {
		assert.True(t, steps[want], "the chaos did not do %q", want)
	}
	assert.GreaterOrEqual(t, rep.Reloads, 3, "the config was not reloaded every 5 s")

	assert.Greater(t, rep.Requests, 100)
	assert.Greater(t, rep.Answered, rep.Requests*3/4, "most turns are answered")
	for _, k := range []string{kindClaude, kindResponses, kindGemini} {
		assert.Positive(t, rep.ByKind[k], k)
	}
	assert.Positive(t, rep.Changes, "the faults moved conversations")
	assert.Zero(t, rep.ChangeReasons[lostBinding]+rep.ChangeReasons[lostBinding+" (during the Redis outage)"], "a conversation lost its binding")
	assert.Zero(t, rep.ChangeReasons[leftDetour], "a conversation left a detour that answered")
	// a hung upstream holds a streamed request for stream_header_timeout
	// (30 s), longer than this test's clients wait (the real run's wait a
	// minute); nothing else may fail a request that another credential
	// could have answered
	for _, f := range rep.failures[classOther] {
		hung := false
		for _, a := range f.Attempts {
			hung = hung || a.Fault == faultHang
		}
		assert.True(t, hung, "a request another credential could have answered failed: %s", f.Answer.failure)
	}

	require.Len(t, rep.Instances, 2)
	for _, in := range rep.Instances {
		assert.LessOrEqual(t, in.End.Goroutines, in.Start.Goroutines+goroutineSlack, "instance %s leaks goroutines", in.Name)
		assert.Positive(t, in.PeakRSS)
	}
	assert.Positive(t, rep.Usage.Popped, "no usage record was popped")
	assert.GreaterOrEqual(t, rep.Usage.AtKill, int64(0), "the usage records in Redis at the kill were not counted")
	assert.Zero(t, rep.Usage.lostOtherwise(), "usage records were lost other than with the Redis that restarted empty (%+v)", rep.Usage)

	md := table.String()
	assert.Contains(t, md, "| client-visible errors: "+classOther+" |")
	assert.NotContains(t, md, "sk-soak-", "an upstream or client key in the table")
	doc, err := os.ReadFile(cfg.Out)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(doc), "# Reliability"))
	assert.Contains(t, string(doc), md)
	assert.NotContains(t, string(doc), "sk-soak-")
}

// A report written into a file that has the markers keeps what is around
// them: the findings written by hand stay, the last run is replaced.
func TestReportKeepsTheHandWrittenParts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reliability.md")
	r := &report{Command: "soak -duration 1m", Config: defaults()}
	require.NoError(t, r.writeReport(path, "| first table |\n"))
	first, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(first), "| first table |")

	edited := strings.Replace(string(first), "## Running it", "## Findings\n\nwritten by hand\n\n## Running it", 1)
	require.NoError(t, os.WriteFile(path, []byte(edited), 0o644))
	require.NoError(t, r.writeReport(path, "| second table |\n"))
	second, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(second), "written by hand")
	assert.Contains(t, string(second), "| second table |")
	assert.NotContains(t, string(second), "| first table |")
	assert.Equal(t, 1, strings.Count(string(second), "## Last run"))
}
