package executor_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-cliproxy/cliproxy/executor"
	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
	"github.com/caddy-cliproxy/cliproxy/selector"
)

// The usage windows an answer reports go to the credential's state and
// the request's outcome; the operator is warned once when a window
// reaches the quota threshold, by the credential's name and never its key.
func TestAnswersUsageWindowsAreRecordedAndWarnedOnce(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	h := newHarness(t, func(o *executor.Options) {
		withTransports(o)
		o.Logger = zap.New(core)
		o.Quota = &selector.Quota{Threshold: 0.9, MoveThreshold: 0.98}
	}, claude("a"))
	reset := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	h.mock.SetFault("*", mockupstream.Fault{Headers: map[string]string{
		"anthropic-ratelimit-unified-5h-utilization": "0.95",
		"anthropic-ratelimit-unified-5h-reset":       strconv.FormatInt(reset.Unix(), 10),
		"anthropic-ratelimit-unified-7d-utilization": "0.40",
	}})

	for range 2 {
		res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
		require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	}
	last := h.rec.last(t)
	assert.Equal(t, "5h", last.QuotaWindow, "the fullest window")
	assert.InDelta(t, 0.95, last.QuotaUtilization, 1e-9)

	windows := h.pool.QuotaWindows(h.pool.Get("a"))
	require.Len(t, windows, 2)
	byName := map[string]float64{}
	for _, w := range windows {
		byName[w.Window] = w.Utilization
		if w.Window == "5h" {
			assert.True(t, w.ResetsAt.Equal(reset), "resets at %v, want %v", w.ResetsAt, reset)
		}
	}
	assert.Equal(t, map[string]float64{"5h": 0.95, "7d": 0.40}, byName)

	warned := logs.FilterMessageSnippet("quota threshold").All()
	require.Len(t, warned, 1, "one warning per window that reached the threshold, not one per answer")
	fields := warned[0].ContextMap()
	assert.Equal(t, "a", fields["credential"])
	assert.Equal(t, "5h", fields["window"])
	for _, e := range logs.All() {
		for k, v := range e.ContextMap() {
			assert.NotContains(t, fmt.Sprint(v), "key-a", "the key was logged in %s", k)
		}
	}
}
