package mockupstream

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// A repeated system prompt is reported as cached, per key, in each
// provider's own usage fields; Anthropic caches only with cache_control.
func TestPromptCacheReportsCachedTokens(t *testing.T) {
	_, ts := start(t)
	post := func(path, body string, headers ...string) gjson.Result {
		t.Helper()
		res := send(t, ts, http.MethodPost, path, body, headers...)
		out := readAll(t, res)
		require.Equal(t, http.StatusOK, res.StatusCode, string(out))
		return gjson.ParseBytes(out)
	}
	system := `"you are a careful reviewer of long diffs"`
	want := int64(tokensOf(len(system)))

	claude := `{"model":"claude-sonnet-4-5","max_tokens":8,"system":[{"type":"text","text":` + system + `,"cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"hi"}]}`
	claudeSystem := gjson.Get(claude, "system").Raw
	first := post("/v1/messages", claude, "x-api-key", "sk-ant-a")
	assert.Equal(t, int64(tokensOf(len(claudeSystem))), first.Get("usage.cache_creation_input_tokens").Int())
	assert.Zero(t, first.Get("usage.cache_read_input_tokens").Int())
	second := post("/v1/messages", claude, "x-api-key", "sk-ant-a")
	assert.Equal(t, int64(tokensOf(len(claudeSystem))), second.Get("usage.cache_read_input_tokens").Int())
	assert.Zero(t, second.Get("usage.cache_creation_input_tokens").Int())
	other := post("/v1/messages", claude, "x-api-key", "sk-ant-b")
	assert.Zero(t, other.Get("usage.cache_read_input_tokens").Int(), "the cache is per key")
	noBreakpoint := `{"model":"claude-sonnet-4-5","max_tokens":8,"system":` + system + `,"messages":[{"role":"user","content":"hi"}]}`
	post("/v1/messages", noBreakpoint, "x-api-key", "sk-ant-c")
	again := post("/v1/messages", noBreakpoint, "x-api-key", "sk-ant-c")
	assert.Zero(t, again.Get("usage.cache_read_input_tokens").Int(), "no cache_control, no cache")

	chat := `{"model":"gpt-5","messages":[{"role":"system","content":` + system + `},{"role":"user","content":"hi"}]}`
	assert.Zero(t, post("/v1/chat/completions", chat, "Authorization", "Bearer sk-o").Get("usage.prompt_tokens_details.cached_tokens").Int())
	assert.Equal(t, want, post("/v1/chat/completions", chat, "Authorization", "Bearer sk-o").Get("usage.prompt_tokens_details.cached_tokens").Int())

	responses := `{"model":"gpt-5","instructions":` + system + `,"input":"hi"}`
	post("/v1/responses", responses, "Authorization", "Bearer sk-r")
	assert.Equal(t, want, post("/v1/responses", responses, "Authorization", "Bearer sk-r").Get("usage.input_tokens_details.cached_tokens").Int())

	gemini := `{"systemInstruction":{"parts":[{"text":` + system + `}]},"contents":[{"parts":[{"text":"hi"}]}]}`
	gemSystem := gjson.Get(gemini, "systemInstruction").Raw
	post("/v1beta/models/gemini-2.5-pro:generateContent", gemini, "x-goog-api-key", "g")
	assert.Equal(t, int64(tokensOf(len(gemSystem))), post("/v1beta/models/gemini-2.5-pro:generateContent", gemini, "x-goog-api-key", "g").Get("usageMetadata.cachedContentTokenCount").Int())
}
