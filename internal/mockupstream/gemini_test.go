package mockupstream

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGeminiGenerate(t *testing.T) {
	const body = `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`
	for _, rc := range replies {
		t.Run(rc.name, func(t *testing.T) {
			m, ts := start(t)
			want := wantReply(m, rc.text, "gemini")

			resp := send(t, ts, "POST", "/v1beta/models/gemini-2.5-flash:generateContent", body, "x-goog-api-key", "g1")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"))
			js := string(readAll(t, resp))
			checkGeminiChunk(t, js, true)
			assert.Equal(t, want, field(js, "candidates.0.content.parts.0.text").String())

			// SSE: "data: {...}\r\n\r\n" per chunk.
			resp = send(t, ts, "POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", body, "x-goog-api-key", "g1")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"))
			raw := readAll(t, resp)
			assert.True(t, bytes.HasSuffix(raw, []byte("}\r\n\r\n")), "CRLF event terminator")
			assert.Equal(t, bytes.Count(raw, []byte("data: ")), bytes.Count(raw, []byte("\r\n\r\n")))
			events, err := parseSSE(bytes.NewReader(raw))
			require.NoError(t, err)
			require.NotEmpty(t, events)
			var text strings.Builder
			for i, e := range events {
				checkGeminiChunk(t, e.Data, i == len(events)-1)
				text.WriteString(field(e.Data, "candidates.0.content.parts.0.text").String())
			}
			assert.Equal(t, want, text.String())

			// No alt=sse: one JSON array streamed element by element.
			resp = send(t, ts, "POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", body, "x-goog-api-key", "g1")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			var arr []json.RawMessage
			require.NoError(t, json.Unmarshal(readAll(t, resp), &arr))
			require.NotEmpty(t, arr)
			text.Reset()
			for i, c := range arr {
				checkGeminiChunk(t, string(c), i == len(arr)-1)
				text.WriteString(field(string(c), "candidates.0.content.parts.0.text").String())
			}
			assert.Equal(t, want, text.String())
		})
	}
}

// checkGeminiChunk asserts one GenerateContentResponse.
func checkGeminiChunk(t *testing.T, js string, final bool) {
	t.Helper()
	assert.Equal(t, "model", field(js, "candidates.0.content.role").String())
	assert.Equal(t, int64(0), field(js, "candidates.0.index").Int())
	assert.Equal(t, "gemini-2.5-flash", field(js, "modelVersion").String())
	assert.NotEmpty(t, field(js, "responseId").String())
	u := field(js, "usageMetadata")
	assert.Positive(t, u.Get("promptTokenCount").Int())
	if final {
		assert.Equal(t, "STOP", field(js, "candidates.0.finishReason").String())
		assert.Positive(t, u.Get("candidatesTokenCount").Int())
		assert.Equal(t, u.Get("promptTokenCount").Int()+u.Get("candidatesTokenCount").Int(), u.Get("totalTokenCount").Int())
	} else {
		assert.False(t, field(js, "candidates.0.finishReason").Exists())
	}
}

func TestGeminiCountTokensAndPaths(t *testing.T) {
	m, ts := start(t)
	body := `{"contents":[{"parts":[{"text":"count these tokens"}]}]}`
	js := string(readAll(t, send(t, ts, "POST", "/v1beta/models/gemini-2.5-pro:countTokens?key=qk", body)))
	assert.Equal(t, int64(tokensOf(len(body))), field(js, "totalTokens").Int())

	// A prefixed, Vertex-style path still routes by its models/{model}:method tail.
	resp := send(t, ts, "POST", "/gw/v1/projects/p/locations/us/publishers/google/models/gemini-2.0-flash:generateContent",
		body, "Authorization", "Bearer ya29.token")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	reqs := m.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "gemini", reqs[0].Provider)
	assert.Equal(t, "gemini-2.5-pro", reqs[0].Model)
	assert.Equal(t, "qk", reqs[0].Key)
	assert.Equal(t, "gemini-2.0-flash", reqs[1].Model)
	assert.Equal(t, "ya29.token", reqs[1].Key)
}
