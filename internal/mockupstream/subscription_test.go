package mockupstream

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/tidwall/gjson"
)

// A Claude subscription token answers anything but Claude Code with the
// real API's 400; Claude Code is served.
func TestClaudeSubscriptionRefusesOtherClients(t *testing.T) {
	m, ts := start(t)
	m.SetSubscription("sk-ant-oat01-x", SubscriptionClaude)
	m.SetSubscription("sk-ant-oat01-y", SubscriptionClaudeExtraUsage)
	body := `{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`

	resp := send(t, ts, http.MethodPost, "/v1/messages", body, "Authorization", "Bearer sk-ant-oat01-x", "User-Agent", "Anthropic/JS 0.71.0")
	b := readAll(t, resp)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "invalid_request_error", gjson.GetBytes(b, "error.type").String())
	assert.Equal(t, claudeCodeOnlyMessage, gjson.GetBytes(b, "error.message").String())

	resp = send(t, ts, http.MethodPost, "/v1/messages", body, "Authorization", "Bearer sk-ant-oat01-y")
	b = readAll(t, resp)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, gjson.GetBytes(b, "error.message").String(), "Third-party apps now draw from your extra usage")

	resp = send(t, ts, http.MethodPost, "/v1/messages", body, "Authorization", "Bearer sk-ant-oat01-x",
		"User-Agent", "claude-cli/2.1.330 (external, cli)", "X-App", "cli")
	assert.Equal(t, http.StatusOK, resp.StatusCode, string(readAll(t, resp)))

	m.SetSubscription("sk-ant-oat01-x", 0)
	resp = send(t, ts, http.MethodPost, "/v1/messages", body, "Authorization", "Bearer sk-ant-oat01-x")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a plain key again")
}

// A ChatGPT account on the Codex backend takes only Codex CLI bodies.
func TestCodexSubscriptionRefusesGenericBodies(t *testing.T) {
	m, ts := start(t)
	m.SetSubscription("codex-tok", SubscriptionCodex)
	for body, detail := range map[string]string{
		`{"model":"gpt-5.5","input":"hi"}`:                                                        "Store must be set to false",
		`{"model":"gpt-5.5","input":"hi","store":true,"instructions":"x"}`:                        "Store must be set to false",
		`{"model":"gpt-5.5","input":"hi","store":false}`:                                          "Instructions are required",
		`{"model":"gpt-5.5","input":"hi","store":false,"instructions":"x","temperature":0.2}`:     "Unsupported parameter: temperature",
		`{"model":"gpt-5.5","input":"hi","store":false,"instructions":"x","max_output_tokens":9}`: "Unsupported parameter: max_output_tokens",
	} {
		resp := send(t, ts, http.MethodPost, "/backend-api/codex/responses", body, "Authorization", "Bearer codex-tok")
		b := readAll(t, resp)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
		assert.JSONEq(t, `{"detail":"`+detail+`"}`, string(b), body)
	}
	resp := send(t, ts, http.MethodPost, "/backend-api/codex/responses",
		`{"model":"gpt-5.5","input":"hi","store":false,"instructions":"x","stream":true}`, "Authorization", "Bearer codex-tok")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the Codex CLI's body is served")
}
