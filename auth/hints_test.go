package auth_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// hintCap is the longest delay a hint may ask for.
const hintCap = 365 * 24 * time.Hour

var hintNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func TestParseRetryAfter(t *testing.T) {
	now := hintNow
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	tests := []struct {
		name  string
		value string
		want  time.Duration
	}{
		{"seconds", "120", 120 * time.Second},
		{"one second", "1", time.Second},
		{"seconds with spaces", "  30 ", 30 * time.Second},
		{"zero", "0", 0},
		{"negative", "-5", 0},
		{"hugely negative", "-99999999999999999999999", 0},
		{"empty", "", 0},
		{"blank", "   ", 0},
		{"garbage", "soon", 0},
		{"fraction", "1.5", 0},
		{"number with unit", "30s", 0},
		{"hex", "0x10", 0},
		{"two numbers", "10, 20", 0},
		{"date in the future", date(90 * time.Second), 90 * time.Second},
		{"date an hour ahead", date(time.Hour), time.Hour},
		{"date in the past", date(-time.Hour), 0},
		{"date now", date(0), 0},
		{"date in another zone is not an HTTP-date", now.Add(time.Hour).Format(time.RFC1123Z), 0},
		{"RFC 3339 is not an HTTP-date", now.Add(time.Hour).Format(time.RFC3339), 0},
		{"RFC 850 date", now.Add(10 * time.Second).Format("Monday, 02-Jan-06 15:04:05 GMT"), 10 * time.Second},
		{"asctime date", now.Add(10 * time.Second).Format(time.ANSIC), 10 * time.Second},
		{"a year of seconds", "31536000", hintCap},
		{"a year and a day of seconds is capped", "31622400", hintCap},
		{"max int64 seconds is capped", "9223372036854775807", hintCap},
		// delay-seconds is 1*DIGIT (RFC 9110 §10.2.3): a value too long for
		// an int64 is still a (very long) delay, not a missing hint.
		{"seconds beyond int64 are capped", "99999999999999999999999", hintCap},
		{"far-future date is capped like seconds", "Fri, 31 Dec 9999 23:59:59 GMT", hintCap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, auth.ParseRetryAfter(tt.value, now), "ParseRetryAfter(%q)", tt.value)
		})
	}
}

// epoch is the Unix time d from hintNow, as a header value.
func epoch(d time.Duration) string { return fmt.Sprint(hintNow.Add(d).Unix()) }

func TestParseHint(t *testing.T) {
	now := hintNow
	rfc := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	gemini := func(details string) string {
		return `{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED","details":[` + details + `]}}`
	}
	const retryInfo = `{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":%q}`
	const errorInfo = `{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED","domain":"cloudcode-pa.googleapis.com","metadata":{%s}}`

	tests := []struct {
		name   string
		header http.Header
		body   string
		want   auth.Hint
	}{
		{"nothing", nil, "", auth.Hint{}},
		{"unrelated headers and body", h("Content-Type", "application/json"), `{"error":{"type":"rate_limit_error","message":"slow down"}}`, auth.Hint{}},

		// Retry-After
		{"retry-after seconds", h("Retry-After", "30"), "", auth.Hint{RetryAfter: 30 * time.Second}},
		{"retry-after date", h("Retry-After", now.Add(2*time.Minute).Format(http.TimeFormat)), "", auth.Hint{RetryAfter: 2 * time.Minute}},
		{"retry-after past date", h("Retry-After", now.Add(-time.Minute).Format(http.TimeFormat)), "", auth.Hint{}},
		{"retry-after malformed", h("Retry-After", "later"), "", auth.Hint{}},
		{"retry-after huge", h("Retry-After", "99999999999999999999"), "", auth.Hint{RetryAfter: hintCap}},
		{"retry-after lower-case header name", h("retry-after", "7"), "", auth.Hint{RetryAfter: 7 * time.Second}},

		// Anthropic unified limits
		{
			"unified rejected", h("Anthropic-Ratelimit-Unified-Status", "rejected", "Anthropic-Ratelimit-Unified-Reset", epoch(3*time.Hour)), "",
			auth.Hint{RetryAfter: 3 * time.Hour, Whole: true, Reason: "unified"},
		},
		{
			"unified 5h rejected", h("anthropic-ratelimit-unified-5h-status", "rejected", "anthropic-ratelimit-unified-5h-reset", epoch(90*time.Minute)), "",
			auth.Hint{RetryAfter: 90 * time.Minute, Whole: true, Reason: "unified_5h"},
		},
		{
			"unified 7d rejected, RFC 3339 reset", h("anthropic-ratelimit-unified-7d-status", "rejected", "anthropic-ratelimit-unified-7d-reset", rfc(50*time.Hour)), "",
			auth.Hint{RetryAfter: 50 * time.Hour, Whole: true, Reason: "unified_7d"},
		},
		{
			"unified rejected in capitals", h("Anthropic-Ratelimit-Unified-5h-Status", " REJECTED ", "Anthropic-Ratelimit-Unified-5h-Reset", epoch(time.Hour)), "",
			auth.Hint{RetryAfter: time.Hour, Whole: true, Reason: "unified_5h"},
		},
		{
			"unified rejected without reset", h("Anthropic-Ratelimit-Unified-5h-Status", "rejected"), "",
			auth.Hint{Whole: true, Reason: "unified_5h"},
		},
		{
			"unified rejected with a past reset", h("Anthropic-Ratelimit-Unified-5h-Status", "rejected", "Anthropic-Ratelimit-Unified-5h-Reset", epoch(-time.Hour)), "",
			auth.Hint{Whole: true, Reason: "unified_5h"},
		},
		{
			"unified rejected with a reset of now", h("Anthropic-Ratelimit-Unified-5h-Status", "rejected", "Anthropic-Ratelimit-Unified-5h-Reset", epoch(0)), "",
			auth.Hint{Whole: true, Reason: "unified_5h"},
		},
		{
			"unified rejected with a garbage reset", h("Anthropic-Ratelimit-Unified-5h-Status", "rejected", "Anthropic-Ratelimit-Unified-5h-Reset", "tomorrow"), "",
			auth.Hint{Whole: true, Reason: "unified_5h"},
		},
		{
			"unified rejected with a huge reset", h("Anthropic-Ratelimit-Unified-7d-Status", "rejected", "Anthropic-Ratelimit-Unified-7d-Reset", "9223372036854775807"), "",
			auth.Hint{RetryAfter: hintCap, Whole: true, Reason: "unified_7d"},
		},
		{
			"unified rejected with another window's reset", h("Anthropic-Ratelimit-Unified-5h-Status", "rejected", "Anthropic-Ratelimit-Unified-7d-Reset", epoch(time.Hour)), "",
			auth.Hint{Whole: true, Reason: "unified_5h"},
		},
		{"unified allowed", h("Anthropic-Ratelimit-Unified-Status", "allowed", "Anthropic-Ratelimit-Unified-Reset", epoch(time.Hour)), "", auth.Hint{}},
		{"unified allowed_warning", h("Anthropic-Ratelimit-Unified-5h-Status", "allowed_warning", "Anthropic-Ratelimit-Unified-5h-Reset", epoch(time.Hour)), "", auth.Hint{}},
		{"unified reset alone", h("Anthropic-Ratelimit-Unified-Reset", epoch(time.Hour)), "", auth.Hint{}},
		{"unified rejected with retry-after later", h("Anthropic-Ratelimit-Unified-5h-Status", "rejected", "Anthropic-Ratelimit-Unified-5h-Reset", epoch(time.Hour),
			"Retry-After", "7200"), "", auth.Hint{RetryAfter: 2 * time.Hour, Whole: true, Reason: "unified_5h"}},
		{"unified rejected with retry-after sooner", h("Anthropic-Ratelimit-Unified-5h-Status", "rejected", "Anthropic-Ratelimit-Unified-5h-Reset", epoch(time.Hour),
			"Retry-After", "60"), "", auth.Hint{RetryAfter: time.Hour, Whole: true, Reason: "unified_5h"}},
		{"other anthropic rate-limit headers are not unified", h("Anthropic-Ratelimit-Requests-Remaining", "0", "Anthropic-Ratelimit-Requests-Reset", rfc(time.Minute),
			"Retry-After", "20"), "", auth.Hint{RetryAfter: 20 * time.Second}},

		// Codex
		{
			"codex resets_at", nil, fmt.Sprintf(`{"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","resets_at":%s}}`, epoch(2*time.Hour)),
			auth.Hint{RetryAfter: 2 * time.Hour, Whole: true, Reason: "usage_limit_reached"},
		},
		{
			"codex resets_in_seconds", nil, `{"error":{"type":"usage_limit_reached","resets_in_seconds":1800}}`,
			auth.Hint{RetryAfter: 30 * time.Minute, Whole: true, Reason: "usage_limit_reached"},
		},
		{
			"codex both, the later wins", nil, fmt.Sprintf(`{"error":{"type":"usage_limit_reached","resets_at":%s,"resets_in_seconds":1800}}`, epoch(time.Hour)),
			auth.Hint{RetryAfter: time.Hour, Whole: true, Reason: "usage_limit_reached"},
		},
		{
			"codex both, the later wins (2)", nil, fmt.Sprintf(`{"error":{"type":"usage_limit_reached","resets_at":%s,"resets_in_seconds":7200}}`, epoch(time.Hour)),
			auth.Hint{RetryAfter: 2 * time.Hour, Whole: true, Reason: "usage_limit_reached"},
		},
		{
			"codex code instead of type", nil, `{"error":{"code":"usage_limit_reached","resets_in_seconds":60}}`,
			auth.Hint{RetryAfter: time.Minute, Whole: true, Reason: "usage_limit_reached"},
		},
		{
			"codex without a reset", nil, `{"error":{"type":"usage_limit_reached"}}`,
			auth.Hint{Whole: true, Reason: "usage_limit_reached"},
		},
		{
			"codex past resets_at", nil, fmt.Sprintf(`{"error":{"type":"usage_limit_reached","resets_at":%s}}`, epoch(-time.Hour)),
			auth.Hint{Whole: true, Reason: "usage_limit_reached"},
		},
		{
			"codex negative resets_in_seconds", nil, `{"error":{"type":"usage_limit_reached","resets_in_seconds":-50}}`,
			auth.Hint{Whole: true, Reason: "usage_limit_reached"},
		},
		{
			"codex garbage resets", nil, `{"error":{"type":"usage_limit_reached","resets_at":"soon","resets_in_seconds":{}}}`,
			auth.Hint{Whole: true, Reason: "usage_limit_reached"},
		},
		{
			"codex huge resets_in_seconds", nil, `{"error":{"type":"usage_limit_reached","resets_in_seconds":1000000000000}}`,
			auth.Hint{RetryAfter: hintCap, Whole: true, Reason: "usage_limit_reached"},
		},
		{
			"codex huge resets_at", nil, `{"error":{"type":"usage_limit_reached","resets_at":9000000000000}}`,
			auth.Hint{RetryAfter: hintCap, Whole: true, Reason: "usage_limit_reached"},
		},
		{
			"codex with retry-after", h("Retry-After", "10"), `{"error":{"type":"usage_limit_reached","resets_in_seconds":600}}`,
			auth.Hint{RetryAfter: 10 * time.Minute, Whole: true, Reason: "usage_limit_reached"},
		},
		{"another openai error", nil, `{"error":{"type":"rate_limit_exceeded","resets_in_seconds":600}}`, auth.Hint{}},
		{"usage_limit_reached outside an error", nil, `{"type":"usage_limit_reached","resets_in_seconds":600}`, auth.Hint{}},

		// Gemini
		{
			"gemini retry delay", nil, gemini(fmt.Sprintf(retryInfo, "35s")),
			auth.Hint{RetryAfter: 35 * time.Second, Reason: "resource_exhausted"},
		},
		{
			"gemini fractional retry delay", nil, gemini(fmt.Sprintf(retryInfo, "1.5s")),
			auth.Hint{RetryAfter: 1500 * time.Millisecond, Reason: "resource_exhausted"},
		},
		{
			"gemini quotaResetDelay", nil, gemini(fmt.Sprintf(errorInfo, `"quotaResetDelay":"1h2m3s"`)),
			auth.Hint{RetryAfter: time.Hour + 2*time.Minute + 3*time.Second, Reason: "resource_exhausted"},
		},
		{
			"gemini quotaResetTimeStamp", nil, gemini(fmt.Sprintf(errorInfo, `"quotaResetTimeStamp":"`+rfc(4*time.Hour)+`"`)),
			auth.Hint{RetryAfter: 4 * time.Hour, Reason: "resource_exhausted"},
		},
		{
			"gemini past quotaResetTimeStamp", nil, gemini(fmt.Sprintf(errorInfo, `"quotaResetTimeStamp":"`+rfc(-4*time.Hour)+`"`)),
			auth.Hint{Reason: "resource_exhausted"},
		},
		{
			"gemini every detail, the latest wins", nil,
			gemini(fmt.Sprintf(retryInfo, "35s") + "," + fmt.Sprintf(errorInfo, `"quotaResetDelay":"10m","quotaResetTimeStamp":"`+rfc(time.Hour)+`"`)),
			auth.Hint{RetryAfter: time.Hour, Reason: "resource_exhausted"},
		},
		{
			"gemini every detail, the latest wins (2)", nil,
			gemini(fmt.Sprintf(errorInfo, `"quotaResetDelay":"2h","quotaResetTimeStamp":"`+rfc(time.Hour)+`"`) + "," + fmt.Sprintf(retryInfo, "35s")),
			auth.Hint{RetryAfter: 2 * time.Hour, Reason: "resource_exhausted"},
		},
		{
			"gemini malformed delays", nil,
			gemini(fmt.Sprintf(retryInfo, "soon") + "," + fmt.Sprintf(retryInfo, "35") + "," + fmt.Sprintf(retryInfo, "-5s") + "," +
				fmt.Sprintf(errorInfo, `"quotaResetDelay":"x","quotaResetTimeStamp":"tomorrow"`)),
			auth.Hint{Reason: "resource_exhausted"},
		},
		{
			"gemini huge delay", nil, gemini(fmt.Sprintf(retryInfo, "876000h")),
			auth.Hint{RetryAfter: hintCap, Reason: "resource_exhausted"},
		},
		{
			"gemini with retry-after", h("Retry-After", "60"), gemini(fmt.Sprintf(retryInfo, "35s")),
			auth.Hint{RetryAfter: time.Minute, Reason: "resource_exhausted"},
		},
		{
			"gemini other status", nil, `{"error":{"code":503,"status":"UNAVAILABLE","details":[` + fmt.Sprintf(retryInfo, "5s") + `]}}`,
			auth.Hint{RetryAfter: 5 * time.Second},
		},
		{
			"gemini unknown detail", nil, gemini(`{"@type":"type.googleapis.com/google.rpc.Help","retryDelay":"35s"}`),
			auth.Hint{},
		},
		{"gemini details not an array", nil, `{"error":{"status":"RESOURCE_EXHAUSTED","details":{"retryDelay":"35s"}}}`, auth.Hint{}},

		// bodies that are not JSON errors
		{"invalid JSON body", h("Retry-After", "5"), `{"error":{"type":"usage_limit_reached","resets_in_seconds":60`, auth.Hint{RetryAfter: 5 * time.Second}},
		{"event stream body", nil, "event: error\ndata: {\"error\":{\"type\":\"usage_limit_reached\"}}\n\n", auth.Hint{}},
		{"error is a string", nil, `{"error":"usage_limit_reached"}`, auth.Hint{}},
		{"array body", nil, `[{"error":{"type":"usage_limit_reached","resets_in_seconds":60}}]`, auth.Hint{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := tt.header
			if header == nil {
				header = http.Header{}
			}
			got := auth.ParseHint(header, []byte(tt.body), now)
			assert.Equal(t, tt.want, got)
		})
	}
	assert.Equal(t, auth.Hint{}, auth.ParseHint(nil, nil, now), "a nil header")
}

// When several windows are rejected, the hint is the latest recovery and its
// reason is the window that recovers last, every time (header maps are
// iterated in random order).
func TestParseHintSeveralUnifiedWindows(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   auth.Hint
	}{
		{"5h and 7d rejected", http.Header{
			"Anthropic-Ratelimit-Unified-5h-Status": {"rejected"},
			"Anthropic-Ratelimit-Unified-5h-Reset":  {epoch(time.Hour)},
			"Anthropic-Ratelimit-Unified-7d-Status": {"rejected"},
			"Anthropic-Ratelimit-Unified-7d-Reset":  {epoch(72 * time.Hour)},
		}, auth.Hint{RetryAfter: 72 * time.Hour, Whole: true, Reason: "unified_7d"}},
		{"5h rejected later than 7d", http.Header{
			"Anthropic-Ratelimit-Unified-5h-Status": {"rejected"},
			"Anthropic-Ratelimit-Unified-5h-Reset":  {epoch(4 * time.Hour)},
			"Anthropic-Ratelimit-Unified-7d-Status": {"rejected"},
			"Anthropic-Ratelimit-Unified-7d-Reset":  {epoch(time.Hour)},
		}, auth.Hint{RetryAfter: 4 * time.Hour, Whole: true, Reason: "unified_5h"}},
		{"5h rejected, 7d allowed", http.Header{
			"Anthropic-Ratelimit-Unified-Status":    {"rejected"},
			"Anthropic-Ratelimit-Unified-Reset":     {epoch(2 * time.Hour)},
			"Anthropic-Ratelimit-Unified-5h-Status": {"rejected"},
			"Anthropic-Ratelimit-Unified-5h-Reset":  {epoch(2 * time.Hour)},
			"Anthropic-Ratelimit-Unified-7d-Status": {"allowed"},
			"Anthropic-Ratelimit-Unified-7d-Reset":  {epoch(100 * time.Hour)},
		}, auth.Hint{RetryAfter: 2 * time.Hour, Whole: true, Reason: "unified_5h"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 64 {
				got := auth.ParseHint(tt.header, nil, hintNow)
				if !assert.Equal(t, tt.want, got) {
					return
				}
			}
		})
	}
}

// Anthropic sends the overage (extra usage) headers on every answer of a
// subscription account; "anthropic-ratelimit-unified-overage-status:
// rejected" only says extra usage is off (see its -disabled-reason), not
// that the plan's quota is spent. A short-term 429 of such an account must
// not take the whole credential out.
func TestParseHintOverageRejectedIsNotWhole(t *testing.T) {
	header := http.Header{
		"Retry-After":                                         {"30"},
		"Anthropic-Ratelimit-Unified-Status":                  {"allowed"},
		"Anthropic-Ratelimit-Unified-5h-Status":               {"allowed"},
		"Anthropic-Ratelimit-Unified-5h-Utilization":          {"0.13"},
		"Anthropic-Ratelimit-Unified-7d-Status":               {"allowed"},
		"Anthropic-Ratelimit-Unified-7d-Utilization":          {"0.10"},
		"Anthropic-Ratelimit-Unified-Overage-Status":          {"rejected"},
		"Anthropic-Ratelimit-Unified-Overage-Disabled-Reason": {"org_level_disabled"},
	}
	got := auth.ParseHint(header, []byte(`{"type":"error","error":{"type":"rate_limit_error","message":"Rate limited"}}`), hintNow)
	assert.Equal(t, auth.Hint{RetryAfter: 30 * time.Second}, got)

	// and recorded, it blocks the model, not the credential
	p, _ := newTestPool(t, "a")
	c := p.Get("a")
	p.Now = func() time.Time { return hintNow }
	p.RecordFailure(c, "claude-opus-4-1", auth.Outcome{Status: 429, Hint: got})
	ok, _ := p.Available(c, "claude-sonnet-4-5")
	assert.True(t, ok, "a model's short rate limit took the whole credential out")
}

// Huge hints in a body are capped like a huge Retry-After, not ignored.
func TestParseHintHugeBodyValuesAreCapped(t *testing.T) {
	tests := []struct{ name, body string }{
		{"codex resets_in_seconds beyond int64", `{"error":{"type":"usage_limit_reached","resets_in_seconds":99999999999999999999}}`},
		{"codex resets_in_seconds as a float", `{"error":{"type":"usage_limit_reached","resets_in_seconds":1e30}}`},
		{"gemini retryDelay beyond a Go duration", `{"error":{"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"315576000000s"}]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := auth.ParseHint(http.Header{}, []byte(tt.body), hintNow)
			assert.Equal(t, hintCap, got.RetryAfter, "a huge hint was taken as no hint")
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	now := hintNow
	for _, seed := range []string{
		"", "0", "1", "-1", "120", " 30 ", "1.5", "+7", "9223372036854775807",
		"99999999999999999999999", "-9223372036854775808",
		"Sun, 01 Jun 2025 12:01:00 GMT", "Sun, 01 Jun 2025 11:00:00 GMT",
		"Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT",
		"Sunday, 01-Jun-25 12:01:00 GMT", "Sun Jun  1 12:01:00 2025", "soon",
	} {
		f.Add(seed, int64(0))
	}
	f.Fuzz(func(t *testing.T, value string, offset int64) {
		d := auth.ParseRetryAfter(value, now.Add(time.Duration(offset)))
		if d < 0 || d > hintCap {
			t.Fatalf("ParseRetryAfter(%q) = %v, outside [0, %v]", value, d, hintCap)
		}
	})
}

func FuzzParseHint(f *testing.F) {
	now := hintNow
	bodies := []string{
		"",
		`{"error":{"type":"usage_limit_reached","resets_at":1748786400,"resets_in_seconds":3600}}`,
		`{"error":{"code":"usage_limit_reached","resets_at":9223372036854775807,"resets_in_seconds":-1}}`,
		`{"error":{"type":"usage_limit_reached","resets_at":1e300,"resets_in_seconds":99999999999999999999}}`,
		`{"error":{"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"35s"}]}}`,
		`{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","metadata":{"quotaResetDelay":"9999999999h","quotaResetTimeStamp":"9999-12-31T23:59:59Z"}}]}}`,
		`{"error":{"details":[{"@type":"google.rpc.RetryInfo","retryDelay":"-1s"},{"@type":"google.rpc.ErrorInfo","metadata":{"quotaResetTimeStamp":"0001-01-01T00:00:00Z"}}]}}`,
		`{"error":`, `[]`, `null`, "\xff\xfe",
	}
	headers := [][3]string{
		{"", "", ""},
		{"120", "rejected", "1748786400"},
		{"Sun, 01 Jun 2025 12:01:00 GMT", "REJECTED", "2025-06-01T13:00:00Z"},
		{"99999999999999999999999", "rejected", "9223372036854775807"},
		{"-1", "rejected", "-9223372036854775808"},
		{"Fri, 31 Dec 9999 23:59:59 GMT", "allowed", "9999-12-31T23:59:59Z"},
		{"soon", "rejected", "0001-01-01T00:00:00Z"},
	}
	for i, b := range bodies {
		hd := headers[i%len(headers)]
		f.Add(hd[0], hd[1], hd[2], []byte(b), int64(0))
	}
	f.Fuzz(func(t *testing.T, retryAfter, status, reset string, body []byte, offset int64) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		h.Set("Anthropic-Ratelimit-Unified-Status", status)
		h.Set("Anthropic-Ratelimit-Unified-Reset", reset)
		h.Set("Anthropic-Ratelimit-Unified-5h-Status", status)
		h.Set("Anthropic-Ratelimit-Unified-5h-Reset", retryAfter)
		h.Set("Anthropic-Ratelimit-Unified-7d-Status", status)
		h.Set("Anthropic-Ratelimit-Unified-7d-Reset", reset)
		// the clock is any time within a century of now
		at := now.Add(time.Duration(offset % int64(100*hintCap)))
		hint := auth.ParseHint(h, body, at)
		if hint.RetryAfter < 0 || hint.RetryAfter > hintCap {
			t.Fatalf("ParseHint(%q, %q, %q, %q) = %v, outside [0, %v]", retryAfter, status, reset, body, hint.RetryAfter, hintCap)
		}
		if hint.Reason != "" && !hint.Whole && hint.Reason != "resource_exhausted" {
			t.Fatalf("reason %q without a whole-credential limit", hint.Reason)
		}
	})
}
