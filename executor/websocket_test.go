package executor

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

func TestWebSocketEventStatus(t *testing.T) {
	cases := []struct {
		name, event string
		status      int
		failsOver   bool
	}{
		{"rate limit with status", `{"type":"error","status":429,"error":{"type":"rate_limit_exceeded","code":"rate_limit_exceeded"}}`, 429, true},
		{"usage limit without status", `{"type":"error","error":{"type":"usage_limit_reached","resets_in_seconds":60}}`, 429, true},
		{"overloaded", `{"type":"error","status":503,"error":{"type":"server_error","code":"server_is_overloaded"}}`, 503, true},
		{"response.failed rate limit", `{"type":"response.failed","response":{"error":{"code":"rate_limit_exceeded"}}}`, 429, true},
		{"response.failed server error", `{"type":"response.failed","response":{"error":{"code":"server_error"}}}`, 500, true},
		{"client fault", `{"type":"error","status":400,"error":{"type":"invalid_request_error","code":"invalid_prompt"}}`, 400, false},
		{"unknown error", `{"type":"error","error":{"message":"no"}}`, 400, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := eventStatus([]byte(tc.event))
			assert.Equal(t, tc.status, st)
			assert.Equal(t, tc.failsOver, failsOver(st))
		})
	}
	assert.Equal(t, "websocket_connection_limit_reached",
		eventCode([]byte(`{"type":"error","status":400,"error":{"code":"websocket_connection_limit_reached"}}`)))
}

func TestWebSocketURL(t *testing.T) {
	for _, tc := range []struct {
		provider auth.Provider
		base     string
		path     string
		want     string
	}{
		{auth.Codex, "", "/v1/responses", "wss://chatgpt.com/backend-api/codex/responses"},
		{auth.Codex, "", "/backend-api/codex/responses", "wss://chatgpt.com/backend-api/codex/responses"},
		{auth.OpenAI, "", "/v1/responses", "wss://api.openai.com/v1/responses"},
		{auth.OpenAI, "http://127.0.0.1:9100/v1", "/v1/responses", "ws://127.0.0.1:9100/v1/responses"},
		{auth.OpenAICompatible, "https://llm.example/api/v1", "/v1/responses", "wss://llm.example/api/v1/responses"},
	} {
		c := &auth.Credential{Name: "c", Provider: tc.provider}
		if tc.base != "" {
			c.BaseURL = mustURL(t, tc.base)
		}
		ep, err := newEndpoint(c)
		assert.NoError(t, err)
		assert.Equal(t, tc.want, ep.wsURL(tc.path))
	}
}

func TestWebSocketDefaults(t *testing.T) {
	on, off := true, false
	assert.True(t, (&auth.Credential{Provider: auth.Codex}).WebSocketUpstream())
	assert.True(t, (&auth.Credential{Provider: auth.OpenAI}).WebSocketUpstream())
	assert.False(t, (&auth.Credential{Provider: auth.OpenAICompatible}).WebSocketUpstream())
	assert.False(t, (&auth.Credential{Provider: auth.Codex, Websockets: &off}).WebSocketUpstream())
	assert.True(t, (&auth.Credential{Provider: auth.OpenAICompatible, Websockets: &on}).WebSocketUpstream())

	r, _ := http.NewRequest(http.MethodGet, "http://gw/v1/responses?key=sk-client", nil)
	r.Header.Set("Authorization", "Bearer sk-client")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Connection", "keep-alive, Upgrade")
	r.Header.Set("Sec-WebSocket-Key", "x")
	r.Header.Set("Session-Id", "s1")
	assert.True(t, isWebSocketUpgrade(r))
	h := upstreamHeader(r)
	assert.Empty(t, h.Get("Authorization"))
	assert.Empty(t, h.Get("Upgrade"))
	assert.Empty(t, h.Get("Sec-Websocket-Key"))
	assert.Equal(t, "s1", h.Get("Session-Id"))
	assert.Equal(t, defaultOpenAIBeta, h.Get("Openai-Beta"))
}

func TestWebSocketHTTPErrorEvent(t *testing.T) {
	ev := httpErrorEvent(429, []byte(`{"error":{"type":"usage_limit_reached","resets_in_seconds":30}}`))
	assert.Equal(t, "error", gjson.GetBytes(ev, "type").String())
	assert.Equal(t, int64(429), gjson.GetBytes(ev, "status").Int())
	assert.Equal(t, int64(30), gjson.GetBytes(ev, "error.resets_in_seconds").Int())
	ev = httpErrorEvent(502, []byte("bad gateway"))
	assert.True(t, gjson.ValidBytes(ev))
	assert.Equal(t, "bad gateway", gjson.GetBytes(ev, "error.message").String())
	items := inputItems([]byte(`{"input":"hi"}`))
	assert.Len(t, items, 1)
	assert.JSONEq(t, `{"type":"message","role":"user","content":"hi"}`, string(items[0]))
}
