package integration

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

const (
	clientKey  = "sk-client-alice-0123456789"
	claudeKeyA = "sk-ant-upstream-aaaa-secret"
	claudeKeyB = "sk-ant-upstream-bbbb-secret"
	openAIKey  = "sk-openai-upstream-cccc-secret"
	compatKey  = "sk-compat-upstream-dddd-secret"
	geminiKeyA = "AIza-upstream-eeee-secret"
	geminiKeyB = "AIza-upstream-ffff-secret"
)

// poolConfig has two Claude, one OpenAI, one OpenAI-compatible and two
// Gemini credentials, all pointing at the mock.
const poolConfig = `
		client_key ` + clientKey + ` alice
		credential claude-a {
			provider claude
			api_key ` + claudeKeyA + `
			base_url MOCK
		}
		credential claude-b {
			provider claude
			api_key ` + claudeKeyB + `
			base_url MOCK
		}
		credential openai-a {
			provider openai
			api_key ` + openAIKey + `
			base_url MOCK/v1
			models gpt-*
		}
		credential compat-a {
			provider openai-compatible
			api_key ` + compatKey + `
			base_url MOCK/compat/v1
			models llama-*
		}
		credential gemini-a {
			provider gemini
			api_key ` + geminiKeyA + `
			base_url MOCK
		}
		credential gemini-b {
			provider gemini
			api_key ` + geminiKeyB + `
			base_url MOCK
		}
`

var upstreamKeys = []string{claudeKeyA, claudeKeyB, openAIKey, compatKey, geminiKeyA, geminiKeyB}

func anthropicHeader() http.Header {
	return hdr("X-Api-Key", clientKey, "Anthropic-Version", "2023-06-01", "Content-Type", "application/json")
}

func bearer() http.Header {
	return hdr("Authorization", "Bearer "+clientKey, "Content-Type", "application/json")
}

func geminiHeader() http.Header {
	return hdr("X-Goog-Api-Key", clientKey, "Content-Type", "application/json")
}

func TestEveryProviderStreamingAndNot(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	g.mock.SetReply("*", "pooled reply 42")

	cases := []struct {
		name     string
		path     string
		header   http.Header
		body     string
		wantPath string
		wantKeys []string
		check    func(t *testing.T, res *http.Response, body string)
	}{
		{
			name:     "claude messages",
			path:     "/v1/messages",
			header:   anthropicHeader(),
			body:     `{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`,
			wantPath: "/v1/messages",
			wantKeys: []string{claudeKeyA, claudeKeyB},
			check: func(t *testing.T, res *http.Response, body string) {
				assert.Equal(t, "pooled reply 42", gjson.Get(body, "content.0.text").String())
			},
		},
		{
			name:     "claude messages stream",
			path:     "/v1/messages?beta=true",
			header:   anthropicHeader(),
			body:     `{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			wantPath: "/v1/messages",
			wantKeys: []string{claudeKeyA, claudeKeyB},
			check: func(t *testing.T, res *http.Response, body string) {
				assert.Contains(t, res.Header.Get("Content-Type"), "text/event-stream")
				var text strings.Builder
				var types []string
				for _, ev := range parseSSE(t, body) {
					types = append(types, ev.Event)
					if ev.Event == "content_block_delta" {
						text.WriteString(gjson.Get(ev.Data, "delta.text").String())
					}
				}
				assert.Equal(t, "pooled reply 42", text.String())
				assert.Equal(t, "message_start", types[0])
				assert.Equal(t, "message_stop", types[len(types)-1])
			},
		},
		{
			name:     "openai chat",
			path:     "/v1/chat/completions",
			header:   bearer(),
			body:     `{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}`,
			wantPath: "/v1/chat/completions",
			wantKeys: []string{openAIKey},
			check: func(t *testing.T, res *http.Response, body string) {
				assert.Equal(t, "pooled reply 42", gjson.Get(body, "choices.0.message.content").String())
			},
		},
		{
			name:     "openai chat stream",
			path:     "/v1/chat/completions",
			header:   bearer(),
			body:     `{"model":"gpt-5","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			wantPath: "/v1/chat/completions",
			wantKeys: []string{openAIKey},
			check: func(t *testing.T, res *http.Response, body string) {
				var text strings.Builder
				events := parseSSE(t, body)
				for _, ev := range events {
					text.WriteString(gjson.Get(ev.Data, "choices.0.delta.content").String())
				}
				assert.Equal(t, "pooled reply 42", text.String())
				assert.Equal(t, "[DONE]", events[len(events)-1].Data)
			},
		},
		{
			name:     "openai-compatible chat under a base path",
			path:     "/v1/chat/completions",
			header:   bearer(),
			body:     `{"model":"llama-4","messages":[{"role":"user","content":"hi"}]}`,
			wantPath: "/compat/v1/chat/completions",
			wantKeys: []string{compatKey},
			check: func(t *testing.T, res *http.Response, body string) {
				assert.Equal(t, "pooled reply 42", gjson.Get(body, "choices.0.message.content").String())
			},
		},
		{
			name:     "openai responses stream",
			path:     "/v1/responses",
			header:   bearer(),
			body:     `{"model":"gpt-5","stream":true,"input":"hi"}`,
			wantPath: "/v1/responses",
			wantKeys: []string{openAIKey},
			check: func(t *testing.T, res *http.Response, body string) {
				events := parseSSE(t, body)
				require.NotEmpty(t, events)
				assert.Equal(t, "response.created", events[0].Event)
				last := events[len(events)-1]
				assert.Equal(t, "response.completed", last.Event)
				assert.Equal(t, "pooled reply 42", gjson.Get(last.Data, "response.output.0.content.0.text").String())
			},
		},
		{
			name:     "gemini generateContent",
			path:     "/v1beta/models/gemini-2.5-pro:generateContent",
			header:   geminiHeader(),
			body:     `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`,
			wantPath: "/v1beta/models/gemini-2.5-pro:generateContent",
			wantKeys: []string{geminiKeyA, geminiKeyB},
			check: func(t *testing.T, res *http.Response, body string) {
				assert.Equal(t, "pooled reply 42", gjson.Get(body, "candidates.0.content.parts.0.text").String())
			},
		},
		{
			name:     "gemini streamGenerateContent sse with key in query",
			path:     "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=" + clientKey,
			header:   hdr("Content-Type", "application/json"),
			body:     `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`,
			wantPath: "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
			wantKeys: []string{geminiKeyA, geminiKeyB},
			check: func(t *testing.T, res *http.Response, body string) {
				var text strings.Builder
				for _, ev := range parseSSE(t, body) {
					text.WriteString(gjson.Get(ev.Data, "candidates.0.content.parts.0.text").String())
				}
				assert.Equal(t, "pooled reply 42", text.String())
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g.mock.Reset()
			g.mock.SetReply("*", "pooled reply 42")
			res, body := g.do(http.MethodPost, tc.path, tc.header, tc.body)
			require.Equal(t, http.StatusOK, res.StatusCode, body)
			tc.check(t, res, body)
			reqs := g.mock.Requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, tc.wantPath, reqs[0].Path)
			assert.Contains(t, tc.wantKeys, reqs[0].Key)
			assert.Equal(t, tc.body, string(reqs[0].Body), "body forwarded unchanged")
			assert.NotContains(t, reqs[0].RawQuery, "key=")
			assert.Equal(t, strings.TrimPrefix(g.mockURL, "http://"), reqs[0].Host)
		})
	}
}

func TestRoundRobinSpreadsAcrossCredentials(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	for range 4 {
		res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(),
			`{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
	}
	var keys []string
	for _, r := range g.mock.Requests() {
		keys = append(keys, r.Key)
	}
	assert.Equal(t, []string{claudeKeyA, claudeKeyB, claudeKeyA, claudeKeyB}, keys)
}
