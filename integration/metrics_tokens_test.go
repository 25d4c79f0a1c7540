package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

const tokensPool = `
		client_key ` + clientKey + ` alice
		request_log off
		credential t-claude {
			provider claude
			api_key ` + claudeKeyA + `
			base_url MOCK
		}
		credential t-openai {
			provider openai
			api_key ` + openAIKey + `
			base_url MOCK/v1
		}
		credential t-gemini {
			provider gemini
			api_key ` + geminiKeyA + `
			base_url MOCK
		}
`

// tokenCounts are the four kinds of tokens, as the metric labels them.
type tokenCounts map[string]int64

// lastWith returns the data of the last SSE event of stream whose data has
// path, parsed.
func lastWith(t *testing.T, stream, path string) gjson.Result {
	var out gjson.Result
	for _, ev := range parseSSE(t, stream) {
		if r := gjson.Get(ev.Data, path); r.Exists() {
			out = gjson.Parse(ev.Data)
		}
	}
	return out
}

// The token counters and usage events carry exactly what the upstream
// reported, cache reads and creations included, for Anthropic, OpenAI
// chat, OpenAI Responses and Gemini, streamed and not.
func TestTokenMetricsMatchWhatTheUpstreamReported(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: tokensPool})
	system := "you review long diffs carefully and answer briefly"
	cases := []struct {
		name, credential, path string
		header                 http.Header
		body                   string
		reported               func(t *testing.T, body string) tokenCounts
	}{
		{
			"anthropic sse", "t-claude", "/v1/messages", anthropicHeader(),
			`{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"system":[{"type":"text","text":"` + system + `","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"hi"}]}`,
			func(t *testing.T, b string) tokenCounts {
				start := lastWith(t, b, "message.usage").Get("message.usage")
				return tokenCounts{
					"input":          start.Get("input_tokens").Int(),
					"output":         lastWith(t, b, "usage.output_tokens").Get("usage.output_tokens").Int(),
					"cache_read":     start.Get("cache_read_input_tokens").Int(),
					"cache_creation": start.Get("cache_creation_input_tokens").Int(),
				}
			},
		},
		{
			"anthropic json", "t-claude", "/v1/messages", anthropicHeader(),
			`{"model":"claude-sonnet-4-5","max_tokens":64,"system":[{"type":"text","text":"` + system + ` (json)","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"hi"}]}`,
			func(t *testing.T, b string) tokenCounts {
				u := gjson.Get(b, "usage")
				return tokenCounts{
					"input": u.Get("input_tokens").Int(), "output": u.Get("output_tokens").Int(),
					"cache_read": u.Get("cache_read_input_tokens").Int(), "cache_creation": u.Get("cache_creation_input_tokens").Int(),
				}
			},
		},
		{
			"openai chat sse", "t-openai", "/v1/chat/completions", bearer(),
			`{"model":"gpt-5","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"` + system + `"},{"role":"user","content":"hi"}]}`,
			func(t *testing.T, b string) tokenCounts {
				u := lastWith(t, b, "usage.prompt_tokens").Get("usage")
				return tokenCounts{
					"input": u.Get("prompt_tokens").Int(), "output": u.Get("completion_tokens").Int(),
					"cache_read": u.Get("prompt_tokens_details.cached_tokens").Int(),
				}
			},
		},
		{
			"openai responses sse", "t-openai", "/v1/responses", bearer(),
			`{"model":"gpt-5","stream":true,"instructions":"` + system + `","input":"hi"}`,
			func(t *testing.T, b string) tokenCounts {
				u := lastWith(t, b, "response.usage.input_tokens").Get("response.usage")
				return tokenCounts{
					"input": u.Get("input_tokens").Int(), "output": u.Get("output_tokens").Int(),
					"cache_read": u.Get("input_tokens_details.cached_tokens").Int(),
				}
			},
		},
		{
			"openai responses json", "t-openai", "/v1/responses", bearer(),
			`{"model":"gpt-5","instructions":"` + system + ` (json)","input":"hi"}`,
			func(t *testing.T, b string) tokenCounts {
				u := gjson.Get(b, "usage")
				return tokenCounts{
					"input": u.Get("input_tokens").Int(), "output": u.Get("output_tokens").Int(),
					"cache_read": u.Get("input_tokens_details.cached_tokens").Int(),
				}
			},
		},
		{
			"gemini sse", "t-gemini", "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", geminiHeader(),
			`{"systemInstruction":{"parts":[{"text":"` + system + `"}]},"contents":[{"parts":[{"text":"hi"}]}]}`,
			func(t *testing.T, b string) tokenCounts {
				u := lastWith(t, b, "usageMetadata").Get("usageMetadata")
				return tokenCounts{
					"input":      u.Get("promptTokenCount").Int(),
					"output":     u.Get("candidatesTokenCount").Int() + u.Get("thoughtsTokenCount").Int(),
					"cache_read": u.Get("cachedContentTokenCount").Int(),
				}
			},
		},
		{
			"gemini json", "t-gemini", "/v1beta/models/gemini-2.5-pro:generateContent", geminiHeader(),
			`{"systemInstruction":{"parts":[{"text":"` + system + ` (json)"}]},"contents":[{"parts":[{"text":"hi"}]}]}`,
			func(t *testing.T, b string) tokenCounts {
				u := gjson.Get(b, "usageMetadata")
				return tokenCounts{
					"input":  u.Get("promptTokenCount").Int(),
					"output": u.Get("candidatesTokenCount").Int(), "cache_read": u.Get("cachedContentTokenCount").Int(),
				}
			},
		},
	}
	before := g.scrape()
	want := map[string]tokenCounts{}
	for _, tc := range cases {
		// the second request of a prompt reads what the first cached
		for turn := range 2 {
			res, body := g.do(http.MethodPost, tc.path, tc.header, tc.body)
			require.Equal(t, http.StatusOK, res.StatusCode, "%s turn %d: %s", tc.name, turn, body)
			got := tc.reported(t, body)
			require.Positive(t, got["input"], "%s: %s", tc.name, body)
			require.Positive(t, got["output"], "%s: %s", tc.name, body)
			if turn == 1 {
				require.Positive(t, got["cache_read"], "%s: the mock reported no cache read: %s", tc.name, body)
			}
			if want[tc.credential] == nil {
				want[tc.credential] = tokenCounts{}
			}
			for k, v := range got {
				want[tc.credential][k] += v
			}
		}
	}
	require.Positive(t, want["t-claude"]["cache_creation"])

	s := g.scrapeAfter(before, 2*len(cases))
	for cred, counts := range want {
		for _, kind := range []string{"input", "output", "cache_read", "cache_creation"} {
			labels := []string{"credential", cred, "member", "alice", "kind", kind}
			got := s.value("caddy_cliproxy_tokens_total", labels...) - before.value("caddy_cliproxy_tokens_total", labels...)
			assert.Equal(t, float64(counts[kind]), got, "%s %s", cred, kind)
		}
	}

	// the usage events carry the same counts
	var events []gjson.Result
	require.Eventually(t, func() bool {
		events = nil
		for _, e := range g.usageEvents() {
			if _, ok := want[e.Get("credential").String()]; ok {
				events = append(events, e)
			}
		}
		return len(events) == 2*len(cases)
	}, 5*time.Second, 10*time.Millisecond)
	fromEvents := map[string]tokenCounts{}
	for _, e := range events {
		c := e.Get("credential").String()
		if fromEvents[c] == nil {
			fromEvents[c] = tokenCounts{}
		}
		fromEvents[c]["input"] += e.Get("input_tokens").Int()
		fromEvents[c]["output"] += e.Get("output_tokens").Int()
		fromEvents[c]["cache_read"] += e.Get("cache_read_tokens").Int()
		fromEvents[c]["cache_creation"] += e.Get("cache_creation_tokens").Int()
	}
	for cred, counts := range want {
		for k, v := range counts {
			assert.Equal(t, v, fromEvents[cred][k], "usage events: %s %s", cred, k)
		}
	}

	// a member whose client key is gone takes their token series along
	g.reload(gatewayOptions{Handler: strings.Replace(tokensPool, clientKey+" alice", bobKey+" bob", 1)})
	s = g.scrape()
	assert.Empty(t, s.series("caddy_cliproxy_tokens_total", "member", "alice"))
	assert.NotEmpty(t, s.series("caddy_cliproxy_credential_available", "credential", "t-claude"))
}

// Each turn of a Codex WebSocket session counts as a request, with the
// tokens its response.completed reported.
func TestTokenMetricsOfWebSocketTurns(t *testing.T) {
	// credentials of its own: the collectors outlive the tests, and a
	// turn of another test that ends late must not count here
	g := startGateway(t, gatewayOptions{Handler: strings.ReplaceAll(wsTiered, "credential ws-", "credential wst-")})
	before := g.scrape()
	conn := g.mustDialWS(codexHeader("sess-metrics"))
	var input, output int64
	for _, q := range []string{"first", "second turn, a longer one"} {
		sendWS(t, conn, turnMsg("gpt-5.5", q, ""))
		events := readTurn(t, conn)
		done := events[len(events)-1]
		input += gjson.Get(done, "response.usage.input_tokens").Int()
		output += gjson.Get(done, "response.usage.output_tokens").Int()
	}
	require.Positive(t, input)
	s := g.scrapeAfter(before, 2, "credential", "wst-a")
	delta := func(name string, labels ...string) float64 {
		return s.value(name, labels...) - before.value(name, labels...)
	}
	assert.Equal(t, 2.0, delta("caddy_cliproxy_requests_total", "credential", "wst-a", "status", "2xx"))
	assert.Equal(t, float64(input), delta("caddy_cliproxy_tokens_total", "credential", "wst-a", "member", "alice", "kind", "input"))
	assert.Equal(t, float64(output), delta("caddy_cliproxy_tokens_total", "credential", "wst-a", "member", "alice", "kind", "output"))
}

// A WebSocket turn that fails over counts its attempts like an HTTP
// request: one refused on the first credential, one served by the next.
func TestAttemptMetricsOfAWebSocketFailover(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: strings.ReplaceAll(wsTiered, "credential ws-", "credential wsf-")})
	before := g.scrape()
	g.mock.SetFault(wsKeyA, mockupstream.Fault{WSError: "rate_limit_exceeded", Times: 1})
	conn := g.mustDialWS(codexHeader("sess-attempts"))
	sendWS(t, conn, turnMsg("gpt-5.5", "fail over, please", ""))
	events := readTurn(t, conn)
	require.Equal(t, "response.completed", gjson.Get(events[len(events)-1], "type").String())
	s := g.scrapeAfter(before, 1, "credential", "wsf-b")
	delta := func(name string, labels ...string) float64 {
		return s.value(name, labels...) - before.value(name, labels...)
	}
	assert.Equal(t, 1.0, delta("caddy_cliproxy_attempts_total", "credential", "wsf-a", "status", "4xx"))
	assert.Equal(t, 1.0, delta("caddy_cliproxy_attempts_total", "credential", "wsf-b", "status", "2xx"))
	assert.Equal(t, 1.0, delta("caddy_cliproxy_requests_total", "credential", "wsf-b", "status", "2xx"))
	ttfb := "caddy_cliproxy_upstream_ttfb_seconds"
	assert.Equal(t, uint64(1), s.observations(ttfb, "credential", "wsf-b")-before.observations(ttfb, "credential", "wsf-b"))
}
