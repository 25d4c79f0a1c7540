package executor

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

func TestCodeAssistBody(t *testing.T) {
	out := codeAssistBody("gemini-2.5-pro", "proj \"q\"\n", []byte(`{"contents":[]}`))
	require.True(t, gjson.ValidBytes(out), string(out))
	assert.Equal(t, "gemini-2.5-pro", gjson.GetBytes(out, "model").String())
	assert.Equal(t, "proj \"q\"\n", gjson.GetBytes(out, "project").String())
	assert.JSONEq(t, `{"contents":[]}`, gjson.GetBytes(out, "request").Raw)
	assert.JSONEq(t, `{}`, gjson.GetBytes(codeAssistBody("m", "p", nil), "request").Raw)
}

func TestCodeAssistWriterPassesErrorsAndSplitLines(t *testing.T) {
	t.Run("error json untouched", func(t *testing.T) {
		spy := newSpy()
		w := newCodeAssistWriter(spy, false)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}`))
		require.NoError(t, w.finish())
		assert.Equal(t, http.StatusTooManyRequests, spy.Code)
		assert.JSONEq(t, `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}`, spy.Body.String())
	})
	t.Run("sse split across writes", func(t *testing.T) {
		spy := newSpy()
		w := newCodeAssistWriter(spy, false)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Content-Length", "999")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`data: {"response":{"a":`))
		_, _ = w.Write([]byte("1}}\r\n\r\ndata: {\"response\":{\"b\":2}}"))
		require.NoError(t, w.finish())
		assert.Empty(t, spy.Header().Get("Content-Length"))
		// each line keeps its ending, so events stay "\r\n\r\n"-separated
		// as Code Assist sent them (a "\n\r\n" separator is none to the
		// @google/genai SDK: the Gemini CLI failed with "Incomplete JSON
		// segment at the end")
		assert.Equal(t, "data: {\"a\":1}\r\n\r\ndata: {\"b\":2}\n", spy.Body.String())
	})
}
