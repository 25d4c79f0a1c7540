package auth

import (
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// maxHint caps any hint an upstream gives: a year is longer than any quota
// window, and the cap keeps time arithmetic far from overflow.
const maxHint = 365 * 24 * time.Hour

// Hint is what an upstream answer says about when to come back.
type Hint struct {
	// RetryAfter is the delay from now; 0 when the answer gives none.
	RetryAfter time.Duration
	// Whole is set when the limit is the account's, not the model's:
	// every model of the credential is out.
	Whole bool
	// Reason names the limit ("unified_5h", "usage_limit_reached",
	// "resource_exhausted"…); "" when the answer does not say.
	Reason string
}

// ParseHint reads every hint the providers give, from the headers and the
// (error) body of an answer, and keeps the latest recovery among them:
//
//   - Retry-After, as seconds or an HTTP-date;
//   - Anthropic's anthropic-ratelimit-unified-*-status "rejected" with the
//     matching -reset (epoch seconds or RFC 3339): the whole credential;
//   - Codex's usage_limit_reached error with resets_at (epoch seconds) or
//     resets_in_seconds: the whole account;
//   - Gemini's google.rpc.RetryInfo retryDelay and the quotaResetDelay /
//     quotaResetTimeStamp of its ErrorInfo metadata.
//
// It never fails: what it cannot read it ignores.
func ParseHint(h http.Header, body []byte, now time.Time) Hint {
	var hint Hint
	hint.RetryAfter = ParseRetryAfter(h.Get("Retry-After"), now)
	parseAnthropicUnified(h, now, &hint)
	if len(body) > 0 && gjson.ValidBytes(body) {
		parseCodexUsageLimit(body, now, &hint)
		parseGeminiRetry(body, now, &hint)
	}
	return hint
}

// ParseRetryAfter reads a Retry-After header value, either delay-seconds or
// an HTTP-date, and returns the delay from now. It returns 0 for an empty,
// malformed or past value.
func ParseRetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	secs, err := strconv.ParseInt(value, 10, 64)
	switch {
	case err == nil && secs <= 0:
		return 0
	case err == nil:
		return seconds(secs)
	case errors.Is(err, strconv.ErrRange) && value[0] != '-':
		return maxHint // RFC 9110 allows any number of digits
	}
	if t, err := http.ParseTime(value); err == nil && t.After(now) {
		return min(t.Sub(now), maxHint)
	}
	return 0
}

// seconds converts a positive count of seconds, capped.
func seconds(secs int64) time.Duration {
	// cap before multiplying so absurd values cannot overflow
	return min(time.Duration(min(secs, int64(maxHint/time.Second)))*time.Second, maxHint)
}

// untilTime is the delay from now to t, capped; 0 if t is not later.
func untilTime(t, now time.Time) time.Duration {
	if !t.After(now) {
		return 0
	}
	return min(t.Sub(now), maxHint)
}

// raise keeps the later of the hint's recovery and d.
func (h *Hint) raise(d time.Duration, reason string) {
	switch {
	case d > h.RetryAfter:
		h.RetryAfter = d
		if reason != "" {
			h.Reason = reason
		}
	case h.Reason == "":
		h.Reason = reason
	}
}

const unifiedPrefix = "Anthropic-Ratelimit-Unified-"

// parseAnthropicUnified reads Anthropic's unified (subscription) limits:
// anthropic-ratelimit-unified-status and per-window
// anthropic-ratelimit-unified-<window>-status, each with a -reset.
func parseAnthropicUnified(h http.Header, now time.Time, hint *Hint) {
	for _, name := range slices.Sorted(maps.Keys(h)) {
		values := h[name]
		window, ok := strings.CutPrefix(http.CanonicalHeaderKey(name), unifiedPrefix)
		if !ok || len(values) == 0 {
			continue
		}
		window, ok = strings.CutSuffix(window, "Status")
		if !ok || strings.EqualFold(window, "Overage-") || !strings.EqualFold(strings.TrimSpace(values[0]), "rejected") {
			continue
		}
		reason := "unified"
		if window = strings.TrimSuffix(window, "-"); window != "" {
			reason += "_" + strings.ToLower(window)
		}
		hint.Whole = true
		hint.raise(parseReset(h.Get(unifiedPrefix+window+resetSuffix(window)), now), reason)
	}
}

func resetSuffix(window string) string {
	if window == "" {
		return "Reset"
	}
	return "-Reset"
}

// parseReset reads a reset time given as epoch seconds or RFC 3339.
func parseReset(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= now.Unix() {
			return 0
		}
		return seconds(secs - now.Unix())
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return untilTime(t, now)
	}
	return 0
}

// parseCodexUsageLimit reads ChatGPT's usage_limit_reached error.
func parseCodexUsageLimit(body []byte, now time.Time, hint *Hint) {
	e := gjson.GetBytes(body, "error")
	if e.Get("type").String() != "usage_limit_reached" && e.Get("code").String() != "usage_limit_reached" {
		return
	}
	hint.Whole = true
	var d time.Duration
	if at := e.Get("resets_at"); at.Exists() && at.Int() > now.Unix() {
		d = seconds(at.Int() - now.Unix())
	}
	if in := e.Get("resets_in_seconds"); in.Exists() && in.Int() > 0 {
		d = max(d, seconds(in.Int()))
	}
	hint.raise(d, "usage_limit_reached")
}

// parseGeminiRetry reads google.rpc details of a Gemini error.
func parseGeminiRetry(body []byte, now time.Time, hint *Hint) {
	e := gjson.GetBytes(body, "error")
	if !e.Get("details").IsArray() {
		return
	}
	reason := ""
	if e.Get("status").String() == "RESOURCE_EXHAUSTED" {
		reason = "resource_exhausted"
	}
	e.Get("details").ForEach(func(_, d gjson.Result) bool {
		switch {
		case strings.HasSuffix(d.Get("@type").String(), "google.rpc.RetryInfo"):
			hint.raise(parseProtoDuration(d.Get("retryDelay").String()), reason)
		case strings.HasSuffix(d.Get("@type").String(), "google.rpc.ErrorInfo"):
			md := d.Get("metadata")
			hint.raise(parseProtoDuration(md.Get("quotaResetDelay").String()), reason)
			if ts := md.Get("quotaResetTimeStamp").String(); ts != "" {
				if t, err := time.Parse(time.RFC3339, ts); err == nil {
					hint.raise(untilTime(t, now), reason)
				}
			}
		}
		return true
	})
}

// parseProtoDuration reads a google.protobuf.Duration in JSON ("35s",
// "1.5s") or Go's form, which Google also uses ("1h2m3.4s").
func parseProtoDuration(v string) time.Duration {
	v = strings.TrimSpace(v)
	d, err := time.ParseDuration(v)
	if err != nil {
		// a google.protobuf.Duration may be longer than a Go duration
		if secs, ok := strings.CutSuffix(v, "s"); ok {
			if f, err := strconv.ParseFloat(secs, 64); err == nil && f >= maxHint.Seconds() {
				return maxHint
			}
		}
		return 0
	}
	if d <= 0 {
		return 0
	}
	return min(d, maxHint)
}
