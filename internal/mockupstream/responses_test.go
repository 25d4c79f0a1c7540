package mockupstream

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenAIResponses(t *testing.T) {
	for _, rc := range replies {
		t.Run(rc.name, func(t *testing.T) {
			m, ts := start(t)
			want := wantReply(m, rc.text, "openai")
			body := `{"model":"gpt-4.1","input":"hello","instructions":"be brief"}`

			resp := send(t, ts, "POST", "/v1/responses", body, "Authorization", "Bearer sk-r")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			js := string(readAll(t, resp))
			checkResponseObject(t, js, want)
			assert.Equal(t, "be brief", field(js, "instructions").String())

			resp = send(t, ts, "POST", "/v1/responses", `{"model":"gpt-4.1","input":"hello","stream":true}`, "Authorization", "Bearer sk-r")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"))
			events, err := parseSSE(resp.Body)
			require.NoError(t, err)
			checkResponsesStream(t, events, want)
		})
	}
}

// checkResponseObject asserts a completed Responses API response object.
func checkResponseObject(t *testing.T, js, want string) {
	t.Helper()
	assert.True(t, strings.HasPrefix(field(js, "id").String(), "resp_"))
	assert.Equal(t, "response", field(js, "object").String())
	assert.Equal(t, "completed", field(js, "status").String())
	assert.Equal(t, "gpt-4.1", field(js, "model").String())
	assert.Equal(t, "message", field(js, "output.0.type").String())
	assert.Equal(t, "completed", field(js, "output.0.status").String())
	assert.Equal(t, "assistant", field(js, "output.0.role").String())
	assert.True(t, strings.HasPrefix(field(js, "output.0.id").String(), "msg_"))
	assert.Equal(t, "output_text", field(js, "output.0.content.0.type").String())
	assert.Equal(t, want, field(js, "output.0.content.0.text").String())
	assert.Equal(t, "[]", field(js, "output.0.content.0.annotations").Raw)
	in, out := field(js, "usage.input_tokens").Int(), field(js, "usage.output_tokens").Int()
	assert.Positive(t, in)
	assert.Equal(t, int64(tokensOf(len(want))), out)
	assert.Equal(t, in+out, field(js, "usage.total_tokens").Int())
	assert.Equal(t, "0", field(js, "usage.input_tokens_details.cached_tokens").Raw)
	assert.Equal(t, "0", field(js, "usage.output_tokens_details.reasoning_tokens").Raw)
}

// checkResponsesStream asserts the Responses stream event order, sequence
// numbers and text.
func checkResponsesStream(t *testing.T, events []sseEvent, want string) {
	t.Helper()
	got := names(events)
	require.GreaterOrEqual(t, len(got), 9, got)
	assert.Equal(t, []string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"}, got[:4])
	assert.Equal(t, []string{"response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"}, got[len(got)-4:])
	for i, e := range events {
		assert.Equal(t, e.Name, field(e.Data, "type").String())
		assert.Equal(t, int64(i), field(e.Data, "sequence_number").Int())
	}
	assert.Equal(t, "in_progress", field(events[0].Data, "response.status").String())
	itemID := field(events[2].Data, "item.id").String()
	var text strings.Builder
	for _, e := range events[4 : len(events)-4] {
		require.Equal(t, "response.output_text.delta", e.Name)
		assert.Equal(t, itemID, field(e.Data, "item_id").String())
		text.WriteString(field(e.Data, "delta").String())
	}
	assert.Equal(t, want, text.String())
	assert.Equal(t, want, field(events[len(events)-4].Data, "text").String())
	assert.Equal(t, want, field(events[len(events)-3].Data, "part.text").String())
	assert.Equal(t, want, field(events[len(events)-2].Data, "item.content.0.text").String())
	completed := field(events[len(events)-1].Data, "response").Raw
	checkResponseObject(t, completed, want)
	assert.Equal(t, field(events[0].Data, "response.id").String(), field(completed, "id").String())
}
