package auth_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

func header(kv ...string) http.Header {
	h := make(http.Header)
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func windows(t *testing.T, h http.Header, now time.Time) map[string]auth.QuotaWindow {
	t.Helper()
	var q auth.QuotaWindows
	n := auth.ParseQuota(h, now, &q)
	out := make(map[string]auth.QuotaWindow, n)
	for _, w := range q.Slice() {
		out[w.Window] = w
	}
	require.Len(t, out, n, "a window reported twice")
	return out
}

var quotaNow = time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)

func TestParseQuotaAnthropicUnified(t *testing.T) {
	reset5h, reset7d := quotaNow.Add(2*time.Hour).Unix(), quotaNow.Add(90*time.Hour).Unix()
	h := header(
		"anthropic-ratelimit-unified-status", "allowed_warning",
		"anthropic-ratelimit-unified-representative-claim", "five_hour",
		"anthropic-ratelimit-unified-reset", "1",
		"anthropic-ratelimit-unified-5h-utilization", "0.97",
		"anthropic-ratelimit-unified-5h-reset", itoa(reset5h),
		"anthropic-ratelimit-unified-5h-status", "allowed_warning",
		"anthropic-ratelimit-unified-7d-utilization", "0.42",
		"anthropic-ratelimit-unified-7d-reset", itoa(reset7d),
		"anthropic-ratelimit-unified-7d-status", "allowed",
		"anthropic-ratelimit-unified-7d_opus-utilization", "1.0",
		"anthropic-ratelimit-unified-7d_opus-status", "rejected",
		"anthropic-ratelimit-unified-overage-utilization", "0.07",
		"anthropic-ratelimit-unified-overage-status", "allowed",
	)
	ws := windows(t, h, quotaNow)
	require.Len(t, ws, 3, "5h, 7d and 7d_opus; the overage is no quota")
	assert.InDelta(t, 0.97, ws["5h"].Utilization, 1e-9)
	assert.Equal(t, time.Unix(reset5h, 0), ws["5h"].ResetsAt)
	assert.Equal(t, "allowed_warning", ws["5h"].Status)
	assert.InDelta(t, 0.42, ws["7d"].Utilization, 1e-9)
	assert.Equal(t, time.Unix(reset7d, 0), ws["7d"].ResetsAt)
	assert.Equal(t, "allowed", ws["7d"].Status)
	assert.InDelta(t, 1.0, ws["7d_opus"].Utilization, 1e-9)
	assert.Equal(t, "rejected", ws["7d_opus"].Status)
	assert.Equal(t, quotaNow, ws["7d_opus"].Seen)
}

func TestParseQuotaAnthropicAPIKey(t *testing.T) {
	reset := quotaNow.Add(40 * time.Second).Format(time.RFC3339)
	h := header(
		"anthropic-ratelimit-requests-limit", "50",
		"anthropic-ratelimit-requests-remaining", "45",
		"anthropic-ratelimit-requests-reset", reset,
		"anthropic-ratelimit-tokens-limit", "100000",
		"anthropic-ratelimit-tokens-remaining", "1000",
		"anthropic-ratelimit-input-tokens-limit", "80000",
		"anthropic-ratelimit-input-tokens-remaining", "80000",
		"anthropic-ratelimit-output-tokens-limit", "20000",
		"anthropic-ratelimit-output-tokens-remaining", "0",
		"anthropic-ratelimit-output-tokens-reset", reset,
	)
	ws := windows(t, h, quotaNow)
	require.Len(t, ws, 4)
	assert.InDelta(t, 0.1, ws["requests"].Utilization, 1e-9)
	assert.Equal(t, quotaNow.Add(40*time.Second), ws["requests"].ResetsAt.UTC())
	assert.InDelta(t, 0.99, ws["tokens"].Utilization, 1e-9)
	assert.InDelta(t, 0, ws["input-tokens"].Utilization, 1e-9)
	assert.InDelta(t, 1, ws["output-tokens"].Utilization, 1e-9)
}

func TestParseQuotaCodex(t *testing.T) {
	resetAt := quotaNow.Add(3 * 24 * time.Hour).Unix()
	h := header(
		"x-codex-primary-used-percent", "97",
		"x-codex-primary-window-minutes", "300",
		"x-codex-primary-reset-after-seconds", "1800",
		"x-codex-secondary-used-percent", "36.5",
		"x-codex-secondary-window-minutes", "10080",
		"x-codex-secondary-reset-after-seconds", "999999",
		"x-codex-secondary-reset-at", itoa(resetAt),
		"x-codex-plan-type", "pro",
	)
	ws := windows(t, h, quotaNow)
	require.Len(t, ws, 2)
	assert.InDelta(t, 0.97, ws["5h"].Utilization, 1e-9)
	assert.Equal(t, quotaNow.Add(30*time.Minute), ws["5h"].ResetsAt)
	assert.InDelta(t, 0.365, ws["7d"].Utilization, 1e-9)
	assert.Equal(t, time.Unix(resetAt, 0), ws["7d"].ResetsAt, "reset-at wins over reset-after-seconds")

	// without the window's length the window keeps codex's own name
	ws = windows(t, header("x-codex-primary-used-percent", "12"), quotaNow)
	assert.InDelta(t, 0.12, ws["primary"].Utilization, 1e-9)
}

func TestParseQuotaOpenAI(t *testing.T) {
	h := header(
		"x-ratelimit-limit-requests", "5000",
		"x-ratelimit-remaining-requests", "4999",
		"x-ratelimit-reset-requests", "12ms",
		"x-ratelimit-limit-tokens", "160000",
		"x-ratelimit-remaining-tokens", "16000",
		"x-ratelimit-reset-tokens", "6m0s",
	)
	ws := windows(t, h, quotaNow)
	require.Len(t, ws, 2)
	assert.InDelta(t, 0.0002, ws["requests"].Utilization, 1e-9)
	assert.Equal(t, quotaNow.Add(12*time.Millisecond), ws["requests"].ResetsAt)
	assert.InDelta(t, 0.9, ws["tokens"].Utilization, 1e-9)
	assert.Equal(t, quotaNow.Add(6*time.Minute), ws["tokens"].ResetsAt)
}

// What cannot be read is left out, never guessed: a window without a
// utilization, garbage values, more windows than are kept.
func TestParseQuotaIgnoresWhatItCannotRead(t *testing.T) {
	h := header(
		"anthropic-ratelimit-unified-5h-utilization", "lots",
		"anthropic-ratelimit-unified-5h-reset", "soon",
		"anthropic-ratelimit-unified-7d-reset", "1700000000",
		"x-ratelimit-limit-tokens", "0",
		"x-ratelimit-remaining-tokens", "5",
		"x-codex-primary-used-percent", "-3",
		"x-ratelimit-limit-requests", "10",
		"x-ratelimit-remaining-requests", "-1",
		"content-type", "application/json",
	)
	assert.Empty(t, windows(t, h, quotaNow))
	many := make(http.Header)
	for i := range 20 {
		many.Set("anthropic-ratelimit-unified-w"+itoa(int64(i))+"-utilization", "0.5")
	}
	assert.Len(t, windows(t, many, quotaNow), auth.MaxQuotaWindows)
}

// A pool keeps the windows per credential; the fullest window not yet
// reset is its level; a warning is due once per crossing.
func TestPoolRecordQuota(t *testing.T) {
	a, b := &auth.Credential{Name: "a", Provider: auth.Claude, APIKey: "k1"}, &auth.Credential{Name: "b", Provider: auth.Claude, APIKey: "k2"}
	p, err := auth.NewPool([]*auth.Credential{a, b})
	require.NoError(t, err)
	now := quotaNow
	p.Now = func() time.Time { return now }
	assert.False(t, p.QuotaLevel(a).Known)

	w5 := auth.QuotaWindow{Window: "5h", Utilization: 0.5, ResetsAt: now.Add(time.Hour), Seen: now}
	w7 := auth.QuotaWindow{Window: "7d", Utilization: 0.3, ResetsAt: now.Add(48 * time.Hour), Seen: now}
	assert.Nil(t, p.RecordQuota(a, []auth.QuotaWindow{w5, w7}, 0.9))
	lv := p.QuotaLevel(a)
	assert.True(t, lv.Known)
	assert.Equal(t, "5h", lv.Window)
	assert.InDelta(t, 0.5, lv.Utilization, 1e-9)
	assert.False(t, p.QuotaLevel(b).Known, "windows are per credential")

	w5.Utilization = 0.93
	crossed := p.RecordQuota(a, []auth.QuotaWindow{w5}, 0.9)
	require.Len(t, crossed, 1)
	assert.Equal(t, "5h", crossed[0].Window)
	w5.Utilization = 0.95
	assert.Nil(t, p.RecordQuota(a, []auth.QuotaWindow{w5}, 0.9), "one warning per crossing")
	assert.InDelta(t, 0.95, p.QuotaLevel(a).Utilization, 1e-9)

	now = now.Add(2 * time.Hour) // past the 5h window's reset
	lv = p.QuotaLevel(a)
	assert.Equal(t, "7d", lv.Window, "a window past its reset counts as empty")
	assert.InDelta(t, 0.3, lv.Utilization, 1e-9)

	snap := p.Snapshot()
	require.NotNil(t, snap[0].Quota)
	require.Len(t, snap[0].Quota.Windows, 2)
	assert.Equal(t, "5h", snap[0].Quota.Windows[0].Window)
	assert.Zero(t, snap[0].Quota.Windows[0].Utilization)
	assert.Empty(t, snap[1].Quota.Windows, "a credential that never reported a window shows none")

	w5.Utilization, w5.ResetsAt = 0.2, now.Add(5*time.Hour)
	p.RecordQuota(a, []auth.QuotaWindow{w5}, 0.9)
	w5.Utilization = 0.91
	assert.Len(t, p.RecordQuota(a, []auth.QuotaWindow{w5}, 0.9), 1, "a new crossing after the window fell back warns again")
}

// The windows live with the health, so a pool rebuilt by a reload finds
// them, and they travel through a HealthSync to other instances.
func TestQuotaSurvivesReloadAndSyncs(t *testing.T) {
	health := auth.NewHealth()
	sink := &recordingSync{}
	health.SetSync(sink)
	c := &auth.Credential{Name: "a", Provider: auth.Codex, APIKey: "k"}
	p1, err := auth.NewPoolWithHealth([]*auth.Credential{c}, health, auth.Policy{})
	require.NoError(t, err)
	w := auth.QuotaWindow{Window: "5h", Utilization: 0.97, ResetsAt: time.Now().Add(time.Hour), Seen: time.Now()}
	p1.RecordQuota(c, []auth.QuotaWindow{w}, 0)
	p1.RecordQuota(c, []auth.QuotaWindow{w}, 0)
	changes := sink.take()
	require.Len(t, changes, 1, "an unchanged window is not shared again")
	require.Len(t, changes[0].Quota, 1)

	again := &auth.Credential{Name: "a", Provider: auth.Codex, APIKey: "k"}
	p2, err := auth.NewPoolWithHealth([]*auth.Credential{again}, health, auth.Policy{})
	require.NoError(t, err)
	assert.InDelta(t, 0.97, p2.QuotaLevel(again).Utilization, 1e-9)

	other := auth.NewHealth()
	other.Apply(changes[0])
	p3, err := auth.NewPoolWithHealth([]*auth.Credential{again}, other, auth.Policy{})
	require.NoError(t, err)
	assert.InDelta(t, 0.97, p3.QuotaLevel(again).Utilization, 1e-9, "another instance sees the window")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// BenchmarkParseQuota reads a real-sized answer header of each family and,
// as the baseline from the same run, one header lookup; it reports the
// ratio to that baseline.
func BenchmarkParseQuota(b *testing.B) {
	base := func() http.Header {
		return header(
			"content-type", "text/event-stream; charset=utf-8",
			"date", "Sat, 05 Dec 2026 08:00:00 GMT",
			"cache-control", "no-cache",
			"request-id", "req_011CUyLzh4gbz3Xx1YwXq1aD",
			"cf-ray", "90b5f1c2fe9c2b5a-AMS",
			"server", "cloudflare",
			"x-envoy-upstream-service-time", "1123",
			"via", "1.1 google",
			"strict-transport-security", "max-age=31536000",
		)
	}
	families := map[string][]string{
		"anthropic-unified": {
			"anthropic-ratelimit-unified-status", "allowed",
			"anthropic-ratelimit-unified-representative-claim", "five_hour",
			"anthropic-ratelimit-unified-reset", "1765000000",
			"anthropic-ratelimit-unified-5h-utilization", "0.42",
			"anthropic-ratelimit-unified-5h-reset", "1765000000",
			"anthropic-ratelimit-unified-5h-status", "allowed",
			"anthropic-ratelimit-unified-7d-utilization", "0.13",
			"anthropic-ratelimit-unified-7d-reset", "1765500000",
			"anthropic-ratelimit-unified-7d-status", "allowed",
			"anthropic-ratelimit-unified-overage-status", "rejected",
		},
		"anthropic-apikey": {
			"anthropic-ratelimit-requests-limit", "4000",
			"anthropic-ratelimit-requests-remaining", "3999",
			"anthropic-ratelimit-requests-reset", "2026-12-05T08:00:01Z",
			"anthropic-ratelimit-tokens-limit", "400000",
			"anthropic-ratelimit-tokens-remaining", "399000",
			"anthropic-ratelimit-tokens-reset", "2026-12-05T08:00:01Z",
		},
		"codex": {
			"x-codex-primary-used-percent", "42",
			"x-codex-primary-window-minutes", "300",
			"x-codex-primary-reset-after-seconds", "3600",
			"x-codex-secondary-used-percent", "13",
			"x-codex-secondary-window-minutes", "10080",
			"x-codex-secondary-reset-after-seconds", "500000",
		},
		"openai": {
			"x-ratelimit-limit-requests", "5000",
			"x-ratelimit-remaining-requests", "4999",
			"x-ratelimit-reset-requests", "12ms",
			"x-ratelimit-limit-tokens", "160000",
			"x-ratelimit-remaining-tokens", "159976",
			"x-ratelimit-reset-tokens", "6m0s",
		},
	}
	for _, name := range []string{"anthropic-unified", "anthropic-apikey", "codex", "openai"} {
		h := base()
		for i, kv := 0, families[name]; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		b.Run(name, func(b *testing.B) {
			baseline := oneHeaderGet(h)
			var q auth.QuotaWindows
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				auth.ParseQuota(h, now, &q)
			}
			if q.N == 0 {
				b.Fatal("nothing parsed")
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/baseline, "x-one-header-get")
			b.ReportMetric(baseline, "ns/one-header-get")
		})
	}
}

// oneHeaderGet times h.Get of one header, the baseline: ns per call.
// (testing.Benchmark cannot run inside a benchmark.)
func oneHeaderGet(h http.Header) float64 {
	const n = 1 << 20
	var sink int
	start := time.Now()
	for range n {
		sink += len(h.Get("Content-Type"))
	}
	if sink == 0 {
		panic("no header")
	}
	return float64(time.Since(start).Nanoseconds()) / n
}
