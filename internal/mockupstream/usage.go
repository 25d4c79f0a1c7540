package mockupstream

import (
	"net/http"
	"strconv"
	"time"
)

// The header families a provider reports its usage windows in.
const (
	// UsageAnthropicUnified: a Claude subscription (OAuth) account,
	// anthropic-ratelimit-unified-{5h,7d}-{utilization,reset,status}.
	UsageAnthropicUnified = "anthropic-unified"
	// UsageAnthropicAPI: an Anthropic API key,
	// anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-*.
	UsageAnthropicAPI = "anthropic-api"
	// UsageCodex: a ChatGPT account, x-codex-{primary,secondary}-*.
	UsageCodex = "codex"
	// UsageOpenAI: an OpenAI API key, x-ratelimit-*-{requests,tokens}.
	UsageOpenAI = "openai"
)

// Usage is what the mock reports about a key's usage windows on every
// answer (success or fault, and a WebSocket handshake), as the real
// provider does.
type Usage struct {
	// Family is one of the Usage* header families.
	Family string
	// Used is the share of the first window used (5h, primary, requests),
	// 0..1; Weekly that of the second (7d, secondary, tokens).
	Used, Weekly float64
	// ResetIn is when the first window resets from now; the second
	// resets a week from now.
	ResetIn time.Duration
}

// SetUsage makes every answer to key carry u's headers; a zero Usage
// stops them.
func (s *Server) SetUsage(key string, u Usage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.usage == nil {
		s.usage = map[string]Usage{}
	}
	if u.Family == "" {
		delete(s.usage, key)
		return
	}
	s.usage[key] = u
}

// writeUsage sets key's usage headers on h, if any are set.
func (s *Server) writeUsage(key string, h http.Header) {
	s.mu.Lock()
	u, ok := s.usage[key]
	s.mu.Unlock()
	if ok {
		UsageHeaders(u, time.Now(), h)
	}
}

// UsageHeaders writes u in its family's header form to h, in the forms the
// real providers use (see auth.ParseQuota for the sources).
func UsageHeaders(u Usage, now time.Time, h http.Header) {
	frac := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	first, week := now.Add(u.ResetIn), now.Add(7*24*time.Hour)
	status := func(f float64) string {
		switch {
		case f >= 1:
			return "rejected"
		case f >= 0.8:
			return "allowed_warning"
		}
		return "allowed"
	}
	switch u.Family {
	case UsageAnthropicUnified:
		h.Set("anthropic-ratelimit-unified-status", status(max(u.Used, u.Weekly)))
		h.Set("anthropic-ratelimit-unified-representative-claim", "five_hour")
		h.Set("anthropic-ratelimit-unified-reset", strconv.FormatInt(first.Unix(), 10))
		h.Set("anthropic-ratelimit-unified-5h-utilization", frac(u.Used))
		h.Set("anthropic-ratelimit-unified-5h-reset", strconv.FormatInt(first.Unix(), 10))
		h.Set("anthropic-ratelimit-unified-5h-status", status(u.Used))
		h.Set("anthropic-ratelimit-unified-7d-utilization", frac(u.Weekly))
		h.Set("anthropic-ratelimit-unified-7d-reset", strconv.FormatInt(week.Unix(), 10))
		h.Set("anthropic-ratelimit-unified-7d-status", status(u.Weekly))
		h.Set("anthropic-ratelimit-unified-overage-status", "rejected")
	case UsageAnthropicAPI:
		for _, kind := range []string{"requests", "tokens", "input-tokens", "output-tokens"} {
			used, reset := u.Used, first
			if kind != "requests" {
				used = u.Weekly
			}
			const limit = 100000
			h.Set("anthropic-ratelimit-"+kind+"-limit", strconv.Itoa(limit))
			h.Set("anthropic-ratelimit-"+kind+"-remaining", strconv.Itoa(int(limit*(1-used))))
			h.Set("anthropic-ratelimit-"+kind+"-reset", reset.UTC().Format(time.RFC3339))
		}
	case UsageCodex:
		h.Set("x-codex-primary-used-percent", strconv.FormatFloat(u.Used*100, 'f', -1, 64))
		h.Set("x-codex-primary-window-minutes", "300")
		h.Set("x-codex-primary-reset-after-seconds", strconv.Itoa(int(u.ResetIn.Seconds())))
		h.Set("x-codex-secondary-used-percent", strconv.FormatFloat(u.Weekly*100, 'f', -1, 64))
		h.Set("x-codex-secondary-window-minutes", "10080")
		h.Set("x-codex-secondary-reset-at", strconv.FormatInt(week.Unix(), 10))
	case UsageOpenAI:
		const limit = 10000
		h.Set("x-ratelimit-limit-requests", strconv.Itoa(limit))
		h.Set("x-ratelimit-remaining-requests", strconv.Itoa(int(limit*(1-u.Used))))
		h.Set("x-ratelimit-reset-requests", goDuration(u.ResetIn))
		h.Set("x-ratelimit-limit-tokens", strconv.Itoa(limit*100))
		h.Set("x-ratelimit-remaining-tokens", strconv.Itoa(int(limit*100*(1-u.Weekly))))
		h.Set("x-ratelimit-reset-tokens", "6m0s")
	}
}

// goDuration spells d as OpenAI does: "6m0s", "1s", "20ms".
func goDuration(d time.Duration) string {
	return d.Round(time.Millisecond).String()
}
