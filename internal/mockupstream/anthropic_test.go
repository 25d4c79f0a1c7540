package mockupstream

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replies are the assistant texts every provider test runs with; "" means
// the default reply.
var replies = []struct {
	name, text string
}{
	{"default", ""},
	{"one word", "Hi"},
	{"many words", "The quick brown fox jumps over the lazy dog, twice and again."},
	{"unicode and html", "Ünïcödé – <b>bold</b> & \"quoted\" 日本語 text"},
}

// wantReply is the text the mock should answer for a replies entry.
func wantReply(m *Server, text, family string) string {
	if text == "" {
		return "Hello from the mock " + family + " upstream."
	}
	m.SetReply("*", text)
	return text
}

func TestAnthropicMessages(t *testing.T) {
	for _, rc := range replies {
		t.Run(rc.name, func(t *testing.T) {
			m, ts := start(t)
			want := wantReply(m, rc.text, "anthropic")
			body := `{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hello"}]}`

			resp := send(t, ts, "POST", "/v1/messages?beta=true", body, "x-api-key", "k1", "anthropic-version", "2023-06-01")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			assert.True(t, strings.HasPrefix(resp.Header.Get("request-id"), "req_"))
			js := string(readAll(t, resp))
			require.True(t, json.Valid([]byte(js)), js)
			assert.True(t, strings.HasPrefix(field(js, "id").String(), "msg_"))
			assert.Equal(t, "message", field(js, "type").String())
			assert.Equal(t, "assistant", field(js, "role").String())
			assert.Equal(t, "claude-sonnet-4-5", field(js, "model").String())
			assert.Equal(t, "text", field(js, "content.0.type").String())
			assert.Equal(t, want, field(js, "content.0.text").String())
			assert.Equal(t, "end_turn", field(js, "stop_reason").String())
			assert.Equal(t, "null", field(js, "stop_sequence").Raw)
			assert.Equal(t, int64(tokensOf(len(body))), field(js, "usage.input_tokens").Int())
			assert.Equal(t, int64(tokensOf(len(want))), field(js, "usage.output_tokens").Int())
			assert.Equal(t, "0", field(js, "usage.cache_creation_input_tokens").Raw)
			assert.Equal(t, "0", field(js, "usage.cache_read_input_tokens").Raw)

			stream := `{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hello"}]}`
			resp = send(t, ts, "POST", "/v1/messages", stream, "x-api-key", "k1")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"))
			events, err := parseSSE(resp.Body)
			require.NoError(t, err)
			checkAnthropicStream(t, events, "claude-sonnet-4-5", want)
		})
	}
}

// checkAnthropicStream asserts the Messages stream event order and payloads.
func checkAnthropicStream(t *testing.T, events []sseEvent, model, want string) {
	t.Helper()
	got := names(events)
	require.GreaterOrEqual(t, len(got), 7, got)
	assert.Equal(t, []string{"message_start", "content_block_start", "ping"}, got[:3])
	assert.Equal(t, []string{"content_block_stop", "message_delta", "message_stop"}, got[len(got)-3:])
	var text strings.Builder
	for _, e := range events[3 : len(events)-3] {
		require.Equal(t, "content_block_delta", e.Name)
		assert.Equal(t, "text_delta", field(e.Data, "delta.type").String())
		assert.Equal(t, int64(0), field(e.Data, "index").Int())
		text.WriteString(field(e.Data, "delta.text").String())
	}
	assert.Equal(t, want, text.String())
	for _, e := range events {
		assert.Equal(t, e.Name, field(e.Data, "type").String(), "data type matches event name")
	}
	start := events[0].Data
	assert.Equal(t, model, field(start, "message.model").String())
	assert.Equal(t, "assistant", field(start, "message.role").String())
	assert.Equal(t, "[]", field(start, "message.content").Raw)
	assert.Positive(t, field(start, "message.usage.input_tokens").Int())
	assert.Equal(t, "text", field(events[1].Data, "content_block.type").String())
	delta := events[len(events)-2].Data
	assert.Equal(t, "end_turn", field(delta, "delta.stop_reason").String())
	assert.Equal(t, int64(tokensOf(len(want))), field(delta, "usage.output_tokens").Int())
}

func TestAnthropicCountTokens(t *testing.T) {
	_, ts := start(t)
	body := `{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"count me please"}]}`
	resp := send(t, ts, "POST", "/anthropic/v1/messages/count_tokens", body, "x-api-key", "k")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	js := string(readAll(t, resp))
	assert.Equal(t, int64(tokensOf(len(body))), field(js, "input_tokens").Int())
}
