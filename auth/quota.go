package auth

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// QuotaWindow is one usage window of a credential as its upstream last
// reported it, normalised across providers.
type QuotaWindow struct {
	// Window names the window: "5h", "7d", "7d_opus" (Anthropic unified
	// and Codex), "requests", "tokens", "input-tokens", "output-tokens"
	// (API-key rate limits).
	Window string `json:"window"`
	// Utilization is the share of the window used, 0..1 (an upstream may
	// report a little over 1).
	Utilization float64 `json:"utilization"`
	// ResetsAt is when the window starts afresh; zero when unknown.
	ResetsAt time.Time `json:"resets_at,omitzero"`
	// Status is the provider's own word for the window ("allowed",
	// "allowed_warning", "rejected"), "" when it gives none.
	Status string `json:"status,omitempty"`
	// Seen is when the answer that reported it arrived.
	Seen time.Time `json:"seen"`
}

// MaxQuotaWindows bounds the windows one answer or one credential keeps:
// providers report a handful, and a hostile upstream must not make more.
const MaxQuotaWindows = 8

// QuotaWindows holds the windows ParseQuota read, without allocating.
type QuotaWindows struct {
	W [MaxQuotaWindows]QuotaWindow
	N int
	// what a window is computed from before finish
	part [MaxQuotaWindows]partial
}

// partial is what a window is worked out from: remaining of limit for
// rate limits, the length of a Codex window.
type partial struct {
	limit, remaining float64
	minutes          int
}

// Slice is the windows read.
func (q *QuotaWindows) Slice() []QuotaWindow { return q.W[:q.N] }

// window returns the window called name and its parts, adding it when
// there is room; nil when there is none.
func (q *QuotaWindows) window(name string) (*QuotaWindow, *partial) {
	for i := range q.N {
		if q.W[i].Window == name {
			return &q.W[i], &q.part[i]
		}
	}
	if q.N == MaxQuotaWindows {
		return nil, nil
	}
	q.W[q.N] = QuotaWindow{Window: name, Utilization: -1}
	q.part[q.N] = partial{remaining: -1}
	q.N++
	return &q.W[q.N-1], &q.part[q.N-1]
}

// ParseQuota reads the usage windows an answer's headers report, from any
// status (providers send them on successes too), into q, and returns how
// many it read. It walks the header map once and allocates nothing for
// the headers the providers send today. Windows without a utilization are
// dropped. The forms read:
//
//   - Anthropic subscriptions (Claude Code OAuth):
//     anthropic-ratelimit-unified-<window>-utilization (a fraction, e.g.
//     "0.42"), -<window>-reset (Unix seconds), -<window>-status
//     ("allowed", "allowed_warning", "rejected"), for the windows 5h, 7d and
//     the per-model weekly ones (7d_opus, 7d_sonnet…); the overall
//     anthropic-ratelimit-unified-status and -representative-claim
//     ("five_hour", "seven_day"…) name the binding window, and the
//     overage window (extra paid usage) is not a quota and is skipped.
//     Forms as captured from api.anthropic.com in claude-code's usage
//     display and in CLIProxyAPI-style proxies' tests.
//   - Anthropic API keys (docs.anthropic.com, "Rate limits", response
//     headers): anthropic-ratelimit-{requests,tokens,input-tokens,
//     output-tokens}-{limit,remaining,reset}, the reset in RFC 3339.
//   - ChatGPT (Codex) accounts, as codex-rs reads them
//     (codex-rs/core/src/client.rs, parse_rate_limit_snapshot):
//     x-codex-{primary,secondary}-used-percent (0..100),
//     -window-minutes, -reset-after-seconds, and -reset-at (Unix seconds)
//     where sent; the window is named by its length (300 minutes: "5h",
//     10080: "7d"), else "primary" / "secondary".
//   - OpenAI API keys (platform.openai.com/docs/guides/rate-limits):
//     x-ratelimit-{limit,remaining,reset}-{requests,tokens}, the reset a
//     Go-style duration ("6m0s", "1s", "20ms").
func ParseQuota(h http.Header, now time.Time, q *QuotaWindows) int {
	q.N = 0
	for name, values := range h {
		if len(values) == 0 || len(name) < 20 {
			continue
		}
		v := values[0]
		switch name[0] {
		case 'A':
			if rest, ok := strings.CutPrefix(name, "Anthropic-Ratelimit-"); ok {
				anthropicHeader(rest, v, now, q)
			}
		case 'X':
			if rest, ok := strings.CutPrefix(name, "X-Codex-"); ok {
				codexHeader(rest, v, now, q)
			} else if rest, ok := strings.CutPrefix(name, "X-Ratelimit-"); ok {
				openAIHeader(rest, v, now, q)
			}
		}
	}
	return q.finish(now)
}

// finish turns the partial windows into normalised ones: remaining/limit
// pairs into a utilization, Codex windows named by their length; windows
// without a utilization are dropped.
func (q *QuotaWindows) finish(now time.Time) int {
	n := 0
	for i := range q.N {
		w, p := q.W[i], q.part[i]
		switch {
		case p.limit > 0 && p.remaining >= 0:
			w.Utilization = 1 - min(p.remaining, p.limit)/p.limit
		case w.Utilization < 0:
			continue
		}
		if p.minutes > 0 {
			w.Window = windowName(p.minutes, w.Window)
		}
		w.Seen = now
		q.W[n] = w
		n++
	}
	q.N = n
	return n
}

// anthropicHeader reads one anthropic-ratelimit-* header, rest being the
// name after that prefix in canonical form.
func anthropicHeader(rest, v string, now time.Time, q *QuotaWindows) {
	if unified, ok := strings.CutPrefix(rest, "Unified-"); ok {
		// Unified-<window>-Utilization|Reset|Status; the overall
		// Unified-Status and Unified-Reset carry no utilization
		i := strings.LastIndexByte(unified, '-')
		if i <= 0 {
			return
		}
		window, field := unified[:i], unified[i+1:]
		if strings.EqualFold(window, "overage") || strings.EqualFold(window, "fallback") {
			return
		}
		switch field {
		case "Utilization":
			if w, _ := q.window(lowerWindow(window)); w != nil {
				w.Utilization = parseFraction(v)
			}
		case "Reset":
			if w, _ := q.window(lowerWindow(window)); w != nil {
				w.ResetsAt = unixTime(v)
			}
		case "Status":
			if w, _ := q.window(lowerWindow(window)); w != nil {
				w.Status = strings.TrimSpace(v)
			}
		}
		return
	}
	// <kind>-Limit|Remaining|Reset of an API key
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 {
		return
	}
	var window string
	switch rest[:i] {
	case "Requests":
		window = "requests"
	case "Tokens":
		window = "tokens"
	case "Input-Tokens":
		window = "input-tokens"
	case "Output-Tokens":
		window = "output-tokens"
	default:
		return
	}
	w, p := q.window(window)
	if w == nil {
		return
	}
	switch rest[i+1:] {
	case "Limit":
		p.limit = parseCount(v)
	case "Remaining":
		p.remaining = parseCount(v)
	case "Reset":
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(v)); err == nil {
			w.ResetsAt = t
		}
	}
}

// codexHeader reads one x-codex-* header, rest being the name after that
// prefix in canonical form.
func codexHeader(rest, v string, now time.Time, q *QuotaWindows) {
	var window string
	switch {
	case strings.HasPrefix(rest, "Primary-"):
		window, rest = "primary", rest[len("Primary-"):]
	case strings.HasPrefix(rest, "Secondary-"):
		window, rest = "secondary", rest[len("Secondary-"):]
	default:
		return
	}
	w, p := q.window(window)
	if w == nil {
		return
	}
	switch rest {
	case "Used-Percent":
		if f := parseFraction(v); f >= 0 {
			w.Utilization = f / 100
		}
	case "Window-Minutes":
		p.minutes = int(parseCount(v))
	case "Reset-After-Seconds":
		if secs := parseCount(v); secs >= 0 && w.ResetsAt.IsZero() {
			w.ResetsAt = now.Add(seconds(int64(secs)))
		}
	case "Reset-At":
		// an absolute time wins over the relative one
		if t := unixTime(v); !t.IsZero() {
			w.ResetsAt = t
		}
	}
}

// openAIHeader reads one x-ratelimit-* header, rest being the name after
// that prefix in canonical form: {Limit,Remaining,Reset}-{Requests,Tokens}.
func openAIHeader(rest, v string, now time.Time, q *QuotaWindows) {
	field, kind, ok := strings.Cut(rest, "-")
	if !ok {
		return
	}
	var window string
	switch kind {
	case "Requests":
		window = "requests"
	case "Tokens":
		window = "tokens"
	default:
		return
	}
	w, p := q.window(window)
	if w == nil {
		return
	}
	switch field {
	case "Limit":
		p.limit = parseCount(v)
	case "Remaining":
		p.remaining = parseCount(v)
	case "Reset":
		if d, err := time.ParseDuration(strings.TrimSpace(v)); err == nil && d >= 0 {
			w.ResetsAt = now.Add(min(d, maxHint))
		}
	}
}

// windowName names a Codex window by its length.
func windowName(minutes int, fallback string) string {
	switch {
	case minutes == 300:
		return "5h"
	case minutes == 10080:
		return "7d"
	case minutes%1440 == 0:
		return strconv.Itoa(minutes/1440) + "d"
	case minutes%60 == 0:
		return strconv.Itoa(minutes/60) + "h"
	}
	return fallback
}

// lowerWindow is an Anthropic window name as the provider spells it:
// canonical header keys capitalise its first letter ("7d_opus" stays,
// "Opus" would not), so only such a name costs an allocation.
func lowerWindow(w string) string {
	for i := 0; i < len(w); i++ {
		if c := w[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(w)
		}
	}
	return w
}

// parseFraction reads a non-negative decimal; -1 when it is not one.
func parseFraction(v string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 || f != f {
		return -1
	}
	return min(f, 100)
}

// parseCount reads a non-negative count; -1 when it is not one.
func parseCount(v string) float64 {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return float64(n)
}

// unixTime reads Unix seconds (or RFC 3339, which Anthropic uses for its
// API-key resets); zero when it is neither.
func unixTime(v string) time.Time {
	v = strings.TrimSpace(v)
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs > 0 && secs < 1<<40 {
		return time.Unix(secs, 0)
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t
	}
	return time.Time{}
}
