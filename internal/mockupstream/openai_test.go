package mockupstream

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenAIChat(t *testing.T) {
	for _, rc := range replies {
		t.Run(rc.name, func(t *testing.T) {
			m, ts := start(t)
			want := wantReply(m, rc.text, "openai")
			body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`

			resp := send(t, ts, "POST", "/compat/v1/chat/completions", body, "Authorization", "Bearer sk-1")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.True(t, strings.HasPrefix(resp.Header.Get("x-request-id"), "req_"))
			js := string(readAll(t, resp))
			assert.True(t, strings.HasPrefix(field(js, "id").String(), "chatcmpl-"))
			assert.Equal(t, "chat.completion", field(js, "object").String())
			assert.Equal(t, "gpt-4o-mini", field(js, "model").String())
			assert.Positive(t, field(js, "created").Int())
			assert.Equal(t, "assistant", field(js, "choices.0.message.role").String())
			assert.Equal(t, want, field(js, "choices.0.message.content").String())
			assert.Equal(t, "stop", field(js, "choices.0.finish_reason").String())
			in, out := field(js, "usage.prompt_tokens").Int(), field(js, "usage.completion_tokens").Int()
			assert.Equal(t, int64(tokensOf(len(body))), in)
			assert.Equal(t, int64(tokensOf(len(want))), out)
			assert.Equal(t, in+out, field(js, "usage.total_tokens").Int())

			for _, withUsage := range []bool{false, true} {
				stream := `{"model":"gpt-4o-mini","stream":true,"messages":[]}`
				if withUsage {
					stream = `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[]}`
				}
				resp := send(t, ts, "POST", "/v1/chat/completions", stream, "Authorization", "Bearer sk-1")
				require.Equal(t, http.StatusOK, resp.StatusCode)
				assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"))
				events, err := parseSSE(resp.Body)
				require.NoError(t, err)
				checkChatStream(t, events, want, withUsage)
			}
		})
	}
}

// checkChatStream asserts the chunk sequence of a Chat Completions stream.
func checkChatStream(t *testing.T, events []sseEvent, want string, withUsage bool) {
	t.Helper()
	require.GreaterOrEqual(t, len(events), 4)
	require.Equal(t, "[DONE]", events[len(events)-1].Data)
	chunks := events[:len(events)-1]
	if withUsage {
		last := chunks[len(chunks)-1].Data
		assert.Equal(t, "[]", field(last, "choices").Raw)
		assert.Positive(t, field(last, "usage.total_tokens").Int())
		chunks = chunks[:len(chunks)-1]
		for _, c := range chunks {
			assert.Equal(t, "null", field(c.Data, "usage").Raw)
		}
	} else {
		for _, c := range chunks {
			assert.False(t, field(c.Data, "usage").Exists())
		}
	}
	assert.Equal(t, "assistant", field(chunks[0].Data, "choices.0.delta.role").String())
	id := field(chunks[0].Data, "id").String()
	var text strings.Builder
	for i, c := range chunks {
		assert.Equal(t, "", c.Name)
		assert.Equal(t, "chat.completion.chunk", field(c.Data, "object").String())
		assert.Equal(t, id, field(c.Data, "id").String(), "one id per stream")
		text.WriteString(field(c.Data, "choices.0.delta.content").String())
		if i < len(chunks)-1 {
			assert.Equal(t, "null", field(c.Data, "choices.0.finish_reason").Raw)
		}
	}
	assert.Equal(t, "stop", field(chunks[len(chunks)-1].Data, "choices.0.finish_reason").String())
	assert.Equal(t, want, text.String())
}

func TestOpenAICompletions(t *testing.T) {
	m, ts := start(t)
	m.SetReply("k", "legacy text completion reply")
	resp := send(t, ts, "POST", "/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":"Say"}`, "Authorization", "Bearer k")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	js := string(readAll(t, resp))
	assert.Equal(t, "text_completion", field(js, "object").String())
	assert.Equal(t, "legacy text completion reply", field(js, "choices.0.text").String())
	assert.Equal(t, "stop", field(js, "choices.0.finish_reason").String())
	assert.Positive(t, field(js, "usage.total_tokens").Int())

	resp = send(t, ts, "POST", "/v1/completions",
		`{"model":"gpt-3.5-turbo-instruct","prompt":"Say","stream":true,"stream_options":{"include_usage":true}}`,
		"Authorization", "Bearer k")
	events, err := parseSSE(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "[DONE]", events[len(events)-1].Data)
	var text strings.Builder
	for _, e := range events[:len(events)-2] {
		assert.Equal(t, "text_completion", field(e.Data, "object").String())
		text.WriteString(field(e.Data, "choices.0.text").String())
	}
	assert.Equal(t, "legacy text completion reply", text.String())
	assert.Equal(t, "stop", field(events[len(events)-3].Data, "choices.0.finish_reason").String())
	assert.Positive(t, field(events[len(events)-2].Data, "usage.completion_tokens").Int())
}

func TestOpenAIEmbeddings(t *testing.T) {
	_, ts := start(t)
	cases := []struct {
		name, input string
		want        int
	}{
		{"string", `"hello"`, 1},
		{"strings", `["a","b","c"]`, 3},
		{"tokens", `[1,2,3]`, 1},
		{"token lists", `[[1,2],[3]]`, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"model":"text-embedding-3-small","input":` + tc.input + `}`
			js := string(readAll(t, send(t, ts, "POST", "/v1/embeddings", body, "Authorization", "Bearer k")))
			assert.Equal(t, "list", field(js, "object").String())
			assert.Equal(t, "text-embedding-3-small", field(js, "model").String())
			data := field(js, "data").Array()
			require.Len(t, data, tc.want)
			for i, d := range data {
				assert.Equal(t, "embedding", d.Get("object").String())
				assert.Equal(t, int64(i), d.Get("index").Int())
				assert.Len(t, d.Get("embedding").Array(), embeddingDims)
			}
			assert.Positive(t, field(js, "usage.prompt_tokens").Int())
		})
	}

	again := string(readAll(t, send(t, ts, "POST", "/v1/embeddings", `{"model":"e","input":"hello"}`, "Authorization", "Bearer k")))
	first := string(readAll(t, send(t, ts, "POST", "/v1/embeddings", `{"model":"e","input":"hello"}`, "Authorization", "Bearer k")))
	assert.Equal(t, field(first, "data.0.embedding").Raw, field(again, "data.0.embedding").Raw, "deterministic")

	js := string(readAll(t, send(t, ts, "POST", "/v1/embeddings",
		`{"model":"e","input":"hello","encoding_format":"base64","dimensions":16}`, "Authorization", "Bearer k")))
	raw, err := base64.StdEncoding.DecodeString(field(js, "data.0.embedding").String())
	require.NoError(t, err)
	assert.Len(t, raw, 16*4)
}

func TestModels(t *testing.T) {
	m, ts := start(t)
	openai := string(readAll(t, send(t, ts, "GET", "/v1/models", "", "Authorization", "Bearer k")))
	assert.Equal(t, "list", field(openai, "object").String())
	assert.Equal(t, "model", field(openai, "data.0.object").String())
	assert.True(t, field(openai, "data.0.owned_by").Exists())
	assert.Positive(t, field(openai, "data.0.created").Int())

	anth := string(readAll(t, send(t, ts, "GET", "/v1/models", "", "x-api-key", "k", "anthropic-version", "2023-06-01")))
	assert.Equal(t, "model", field(anth, "data.0.type").String())
	assert.Equal(t, "Claude Opus 4.1", field(anth, "data.0.display_name").String())
	assert.Equal(t, "false", field(anth, "has_more").Raw)
	assert.Equal(t, field(anth, "data.0.id").String(), field(anth, "first_id").String())
	assert.True(t, field(anth, "data.0.created_at").Exists())

	gem := string(readAll(t, send(t, ts, "GET", "/v1beta/models", "", "x-goog-api-key", "k")))
	assert.Equal(t, "models/gemini-2.5-pro", field(gem, "models.0.name").String())
	assert.Equal(t, "Gemini 2.5 Pro", field(gem, "models.0.displayName").String())

	m.SetModels("openai", "my-model")
	one := string(readAll(t, send(t, ts, "GET", "/v1/models/my-model", "", "Authorization", "Bearer k")))
	assert.Equal(t, "my-model", field(one, "id").String())
	resp := send(t, ts, "GET", "/v1/models/gpt-4o", "", "Authorization", "Bearer k")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "model_not_found", field(string(readAll(t, resp)), "error.code").String())
}
