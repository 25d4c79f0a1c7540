package integration

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// usageEvents returns the cliproxy.usage entries logged so far.
func (g *gateway) usageEvents() []gjson.Result {
	var out []gjson.Result
	sc := bufio.NewScanner(strings.NewReader(g.logs()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if e := gjson.Parse(sc.Text()); e.Get("logger").String() == "cliproxy.usage" {
			out = append(out, e)
		}
	}
	return out
}

// Each request served from the pool logs one usage event whose token
// counts are the ones the upstream reported, in every wire format.
func TestUsageEventsCarryTheUpstreamsTokens(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	cases := []struct {
		name, path string
		header     http.Header
		body       string
		// where the answer reports its tokens
		input, output func(body string) int64
	}{
		{
			"claude json", "/v1/messages", anthropicHeader(), `{"model":"claude-sonnet-4-5","max_tokens":9,"messages":[{"role":"user","content":"count me"}]}`,
			func(b string) int64 { return gjson.Get(b, "usage.input_tokens").Int() },
			func(b string) int64 { return gjson.Get(b, "usage.output_tokens").Int() },
		},
		{
			"claude sse", "/v1/messages", anthropicHeader(), claudeBody,
			func(b string) int64 { return sseField(b, "message_start", "message.usage.input_tokens") },
			func(b string) int64 { return sseField(b, "message_delta", "usage.output_tokens") },
		},
		{
			"chat json", "/v1/chat/completions", bearer(), `{"model":"gpt-5","messages":[{"role":"user","content":"count me"}]}`,
			func(b string) int64 { return gjson.Get(b, "usage.prompt_tokens").Int() },
			func(b string) int64 { return gjson.Get(b, "usage.completion_tokens").Int() },
		},
		{
			"responses sse", "/v1/responses", bearer(), `{"model":"gpt-5","stream":true,"input":"count me"}`,
			func(b string) int64 { return sseField(b, "response.completed", "response.usage.input_tokens") },
			func(b string) int64 { return sseField(b, "response.completed", "response.usage.output_tokens") },
		},
		{
			"gemini json", "/v1beta/models/gemini-2.5-pro:generateContent", geminiHeader(), `{"contents":[{"parts":[{"text":"count me"}]}]}`,
			func(b string) int64 { return gjson.Get(b, "usageMetadata.promptTokenCount").Int() },
			func(b string) int64 { return gjson.Get(b, "usageMetadata.candidatesTokenCount").Int() },
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, body := g.do(http.MethodPost, tc.path, tc.header, tc.body)
			require.Equal(t, http.StatusOK, res.StatusCode, body)
			// the event is logged once the handler returns, which can be
			// just after the client has read the whole answer
			var events []gjson.Result
			require.Eventually(t, func() bool {
				events = g.usageEvents()
				return len(events) > i
			}, 5*time.Second, 10*time.Millisecond)
			require.Len(t, events, i+1)
			e := events[i]
			assert.Equal(t, "alice", e.Get("client").String())
			assert.Equal(t, int64(200), e.Get("status").Int())
			assert.Equal(t, int64(1), e.Get("attempts").Int())
			assert.NotEmpty(t, e.Get("credential").String())
			assert.Positive(t, tc.input(body))
			assert.Equal(t, tc.input(body), e.Get("input_tokens").Int(), e.Raw)
			assert.Equal(t, tc.output(body), e.Get("output_tokens").Int(), e.Raw)
			for _, k := range upstreamKeys {
				assert.NotContains(t, e.Raw, k)
			}
			assert.NotContains(t, e.Raw, clientKey)
		})
	}
}

// sseField reads path from the data of the first event called name.
func sseField(stream, name, path string) int64 {
	for _, block := range strings.Split(stream, "\n\n") {
		if strings.Contains(block, "event: "+name+"\n") {
			_, data, _ := strings.Cut(block, "data: ")
			return gjson.Get(data, path).Int()
		}
	}
	return -1
}
