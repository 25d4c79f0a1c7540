package mockupstream

import (
	"net/http"
	"strings"

	"github.com/tidwall/gjson"
)

// Subscription marks an upstream key as the token of a subscription
// (OAuth) account, which the real providers serve only for their own
// client and refuse, with a 400, for anything else.
type Subscription int

// The subscription accounts the mock knows.
const (
	// SubscriptionClaude is a Claude Pro/Max account: a /messages request
	// that is not Claude Code's (User-Agent "claude-cli/…" and X-App: cli)
	// is answered 400 invalid_request_error "This credential is only
	// authorized for use with Claude Code and cannot be used for other API
	// requests."
	SubscriptionClaude Subscription = iota + 1
	// SubscriptionClaudeExtraUsage is SubscriptionClaude with the 2026
	// wording: "Third-party apps now draw from your extra usage, not your
	// plan limits. …"
	SubscriptionClaudeExtraUsage
	// SubscriptionCodex is a ChatGPT account on the Codex backend, which
	// takes only the Codex CLI's Responses bodies: "store" other than
	// false answers 400 {"detail":"Store must be set to false"}, no
	// "instructions" {"detail":"Instructions are required"}, a sampling or
	// limit parameter {"detail":"Unsupported parameter: <name>"}.
	SubscriptionCodex
)

// The refusals' words, as the providers answer them.
const (
	claudeCodeOnlyMessage   = "This credential is only authorized for use with Claude Code and cannot be used for other API requests."
	claudeExtraUsageMessage = "Third-party apps now draw from your extra usage, not your plan limits. We've added a credit to get you started. Claim it at claude.ai/settings/usage and keep going."
)

// codexUnsupported are Responses parameters the Codex backend refuses by
// name.
var codexUnsupported = []string{
	"temperature", "top_p", "max_output_tokens", "presence_penalty",
	"frequency_penalty", "seed", "top_logprobs", "truncation", "service_tier",
}

// SetSubscription makes key a subscription account of kind; 0 makes it a
// plain API key again.
func (s *Server) SetSubscription(key string, kind Subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subscriptions == nil {
		s.subscriptions = map[string]Subscription{}
	}
	if kind == 0 {
		delete(s.subscriptions, key)
		return
	}
	s.subscriptions[key] = kind
}

// refuseForeignClient answers the refusal of a subscription account to a
// request that is not its own client's, and reports whether it did.
func (c *call) refuseForeignClient() bool {
	c.s.mu.Lock()
	kind := c.s.subscriptions[c.key]
	c.s.mu.Unlock()
	switch {
	case (kind == SubscriptionClaude || kind == SubscriptionClaudeExtraUsage) && c.rt.op == opAnthropicMessages:
		h := c.r.Header
		if strings.HasPrefix(h.Get("User-Agent"), "claude-cli/") && strings.EqualFold(h.Get("X-App"), "cli") {
			return false
		}
		msg := claudeCodeOnlyMessage
		if kind == SubscriptionClaudeExtraUsage {
			msg = claudeExtraUsageMessage
		}
		writeProviderError(c.w, familyAnthropic, http.StatusBadRequest, msg)
		return true
	case kind == SubscriptionCodex && c.rt.op == opOpenAIResponses:
		detail := ""
		if st := gjson.GetBytes(c.body, "store"); st.Type != gjson.False {
			detail = "Store must be set to false"
		} else if gjson.GetBytes(c.body, "instructions").String() == "" {
			detail = "Instructions are required"
		} else {
			for _, p := range codexUnsupported {
				if gjson.GetBytes(c.body, p).Exists() {
					detail = "Unsupported parameter: " + p
					break
				}
			}
		}
		if detail == "" {
			return false
		}
		writeJSONStatus(c.w, http.StatusBadRequest, map[string]string{"detail": detail})
		return true
	}
	return false
}
