package executor

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// failsOver reports whether an upstream status says this credential cannot
// serve the request now while another one might: rate limits, quota and
// auth failures of the key, and transient upstream faults. The client's own
// faults (400, 404, 409, 413, 422) do not: every credential would answer
// them the same way.
func failsOver(status int) bool {
	switch status {
	case http.StatusTooManyRequests,
		http.StatusUnauthorized,
		http.StatusPaymentRequired,
		http.StatusForbidden,
		http.StatusRequestTimeout,
		529:
		return true
	}
	return status >= 500
}

// terminal reports whether an upstream status says the credential itself
// is unusable (revoked, unpaid, forbidden), not just busy: a session bound
// to it should find a new home rather than wait.
func terminal(status int) bool {
	return status == http.StatusUnauthorized || status == http.StatusPaymentRequired || status == http.StatusForbidden
}

// firstEvent returns the first server-sent event of stream and whether it
// is complete (its blank line has arrived).
func firstEvent(stream []byte) ([]byte, bool) {
	for i := 0; i < len(stream); i++ {
		if stream[i] != '\n' {
			continue
		}
		rest := stream[i+1:]
		if len(rest) > 0 && rest[0] == '\n' {
			return stream[:i], true
		}
		if len(rest) > 1 && rest[0] == '\r' && rest[1] == '\n' {
			return stream[:i], true
		}
	}
	return stream, false
}

// streamErrorStatus reads the first event of a stream and, if it is an
// error, returns the HTTP status it stands for (0 if it is no error):
// Anthropic's "event: error", OpenAI's "response.failed" and "error"
// events or a chunk carrying "error", and Gemini's error JSON.
func streamErrorStatus(event []byte) int {
	var name string
	var data []byte
	for _, line := range bytes.Split(event, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		switch {
		case bytes.HasPrefix(line, []byte("event:")):
			name = strings.TrimSpace(string(line[len("event:"):]))
		case bytes.HasPrefix(line, []byte("data:")):
			data = append(data, bytes.TrimSpace(line[len("data:"):])...)
		}
	}
	typ := gjson.GetBytes(data, "type").String()
	var e gjson.Result
	switch {
	case name == "response.failed" || typ == "response.failed":
		e = gjson.GetBytes(data, "response.error")
	case gjson.GetBytes(data, "error").Exists():
		e = gjson.GetBytes(data, "error")
	case name == "error" || typ == "error":
		e = gjson.ParseBytes(data)
	default:
		return 0
	}
	return errorStatus(e)
}

// errorStatus maps a provider error object to the HTTP status it stands
// for.
func errorStatus(e gjson.Result) int {
	if code := e.Get("code"); code.Type == gjson.Number && code.Int() >= 400 && code.Int() < 600 {
		return int(code.Int())
	}
	words := strings.ToLower(e.Get("type").String() + " " + e.Get("code").String() + " " + e.Get("status").String())
	switch {
	case strings.Contains(words, "overloaded"):
		return 529
	case strings.Contains(words, "rate_limit"), strings.Contains(words, "usage_limit"),
		strings.Contains(words, "insufficient_quota"), strings.Contains(words, "resource_exhausted"),
		strings.Contains(words, "too_many_requests"):
		return http.StatusTooManyRequests
	case strings.Contains(words, "authentication"), strings.Contains(words, "invalid_api_key"),
		strings.Contains(words, "unauthenticated"):
		return http.StatusUnauthorized
	case strings.Contains(words, "permission"):
		return http.StatusForbidden
	case strings.Contains(words, "invalid_request"), strings.Contains(words, "invalid_argument"),
		strings.Contains(words, "context_length"), strings.Contains(words, "not_found"):
		return http.StatusBadRequest
	case strings.Contains(words, "unavailable"):
		return http.StatusServiceUnavailable
	case strings.Contains(words, "api_error"), strings.Contains(words, "server_error"),
		strings.Contains(words, "internal"), strings.Contains(words, "timeout"):
		return http.StatusInternalServerError
	}
	// an error the gateway does not know (a content policy, a prompt the
	// model refused) is the client's to see, not a reason to fail over
	return 0
}

// modelNotFound reports whether a 404 body says the model does not exist
// (for this credential), as opposed to an unknown item of the client's.
func modelNotFound(body []byte) bool {
	if !gjson.ValidBytes(body) {
		return false
	}
	e := gjson.GetBytes(body, "error")
	if e.Get("code").String() == "model_not_found" {
		return true
	}
	msg := strings.ToLower(e.Get("message").String())
	if e.Get("type").String() == "not_found_error" && strings.HasPrefix(msg, "model:") {
		return true // Anthropic: "model: <id>"
	}
	return strings.Contains(msg, "model") &&
		(strings.Contains(msg, "not found") || strings.Contains(msg, "not_found") || strings.Contains(msg, "does not exist"))
}

// refusesForeignClients reports whether c is a subscription account whose
// provider answers 400 to requests that do not come from its own client,
// so such an answer is held back to be read by wrongClient.
func refusesForeignClients(c *auth.Credential) bool {
	return c.OfficialClient() != auth.ClientOther && (c.Provider == auth.Claude || c.Provider == auth.Codex)
}

// wrongClient reports whether a 400 from subscription account c says the
// account refused the request because it does not come from its own
// client, not because the request is wrong: another credential (an API
// key) would serve it. The refusals, as the providers word them:
//
//   - Anthropic, Claude OAuth: "This credential is only authorized for use
//     with Claude Code and cannot be used for other API requests.", and
//     since 2026 "Third-party apps now draw from your extra usage, not
//     your plan limits. …" (both invalid_request_error);
//   - ChatGPT's Codex backend: {"detail": "Store must be set to false"},
//     "Instructions are required", "Unsupported parameter: <name>"
//     (temperature, top_p, max_output_tokens, …), bodies the Codex CLI
//     never sends.
func wrongClient(c *auth.Credential, body []byte) bool {
	if !gjson.ValidBytes(body) {
		return false
	}
	switch c.Provider {
	case auth.Claude:
		msg := strings.ToLower(gjson.GetBytes(body, "error.message").String())
		return strings.Contains(msg, "only authorized for use with claude code") ||
			strings.Contains(msg, "third-party apps now draw from your extra usage")
	case auth.Codex:
		msg := gjson.GetBytes(body, "detail").String()
		if msg == "" {
			msg = gjson.GetBytes(body, "error.message").String()
		}
		return msg == "Store must be set to false" || msg == "Instructions are required" ||
			strings.HasPrefix(msg, "Unsupported parameter: ")
	}
	return false
}
