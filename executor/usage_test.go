package executor

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const anthropicSSE = `event: message_start
data: {"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello \"usage\": {\"output_tokens\": 999} ]}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}

event: message_stop
data: {"type":"message_stop"}

`

// A gateway that reports input only at the end, with zeros in message_start.
const anthropicSSEGateway = "event: message_start\r\n" +
	`data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"usage":{"input_tokens":0,"output_tokens":0}}}` + "\r\n\r\n" +
	"event: content_block_delta\r\n" +
	`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}` + "\r\n\r\n" +
	"event: message_delta\r\n" +
	`data:{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":30,"cache_read_input_tokens":5,"output_tokens":12}}` + "\r\n\r\n"

const anthropicJSON = `{"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hi! {\"usage\":{\"input_tokens\":1}} \\"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":48,"output_tokens":7}}`

const anthropicJSONPretty = `{
  "id": "msg_1",
  "type": "message",
  "content": [ { "type": "text", "text": "[{\"a\":\"}\"}]" } ],
  "usage": {
    "input_tokens": 3,
    "cache_creation_input_tokens": 1500,
    "cache_read_input_tokens": 0,
    "output_tokens": 42
  }
}
`

const openAIChatJSON = `{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I assist you today?","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1200,"completion_tokens":35,"total_tokens":1235,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}},"service_tier":"default"}`

const openAIChatSSE = `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}

data: [DONE]

`

const openAIResponsesJSON = `{"id":"resp_67ccd2bed1ec8190","object":"response","created_at":1741476542,"status":"completed","model":"gpt-4.1-2025-04-14","output":[{"type":"message","id":"msg_67ccd2bf","status":"completed","role":"assistant","content":[{"type":"output_text","text":"In a peaceful grove...","annotations":[]}]}],"usage":{"input_tokens":328,"input_tokens_details":{"cached_tokens":256},"output_tokens":52,"output_tokens_details":{"reasoning_tokens":16},"total_tokens":380}}`

const openAIResponsesSSE = `event: response.created
data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","output":[],"usage":null}}

event: response.output_text.delta
data: {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}

event: response.completed
data: {"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","object":"response","status":"completed","output":[{"type":"message","id":"msg_1","role":"assistant","content":[{"type":"output_text","text":"Hi","annotations":[]}]}],"usage":{"input_tokens":37,"input_tokens_details":{"cached_tokens":0},"output_tokens":11,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":48}}}

`

const geminiJSON = `{
  "candidates": [
    {
      "content": { "parts": [ { "text": "Hi there" } ], "role": "model" },
      "finishReason": "STOP",
      "index": 0
    }
  ],
  "usageMetadata": {
    "promptTokenCount": 100,
    "candidatesTokenCount": 20,
    "totalTokenCount": 150,
    "cachedContentTokenCount": 64,
    "promptTokensDetails": [ { "modality": "TEXT", "tokenCount": 100 } ],
    "thoughtsTokenCount": 30
  },
  "modelVersion": "gemini-2.5-pro",
  "responseId": "abc123"
}
`

const geminiSSE = "data: " + `{"candidates": [{"content": {"parts": [{"text": "The"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 8,"candidatesTokenCount": 1,"totalTokenCount": 9},"modelVersion": "gemini-2.5-flash"}` + "\r\n\r\n" +
	"data: " + `{"candidates": [{"content": {"parts": [{"text": " end"}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 8,"candidatesTokenCount": 40,"totalTokenCount": 58,"thoughtsTokenCount": 10,"cachedContentTokenCount": 4},"modelVersion": "gemini-2.5-flash"}` + "\r\n\r\n"

const geminiArray = `[{
  "candidates": [ { "content": { "parts": [ { "text": "a ] } \" [ { \\" } ], "role": "model" }, "index": 0 } ],
  "usageMetadata": { "promptTokenCount": 7, "candidatesTokenCount": 2, "totalTokenCount": 9 }
}
,
{
  "candidates": [ { "content": { "parts": [ { "text": "b" } ], "role": "model" }, "finishReason": "STOP", "index": 0 } ],
  "usageMetadata": { "promptTokenCount": 7, "candidatesTokenCount": 5, "totalTokenCount": 12, "cachedContentTokenCount": 3 }
}
]`

const geminiCodeAssistSSE = "data: " + `{"response": {"candidates": [{"content": {"parts": [{"text": "x"}],"role": "model"},"finishReason": "STOP"}],"usageMetadata": {"promptTokenCount": 5,"candidatesTokenCount": 6,"thoughtsTokenCount": 1}},"traceId": "t1"}` + "\n\n"

type usageCase struct {
	name     string
	family   Family
	endpoint string
	sse      bool
	body     string
	want     Usage
}

var usageCases = []usageCase{
	{"anthropic sse", FamilyAnthropic, "messages", true, anthropicSSE, Usage{Input: 25, Output: 15, CacheRead: 2000, CacheCreation: 100}},
	{"anthropic sse gateway crlf", FamilyAnthropic, "messages", true, anthropicSSEGateway, Usage{Input: 30, Output: 12, CacheRead: 5}},
	{"anthropic json", FamilyAnthropic, "messages", false, anthropicJSON, Usage{Input: 12, Output: 7, CacheRead: 48}},
	{"anthropic json pretty", FamilyAnthropic, "messages", false, anthropicJSONPretty, Usage{Input: 3, Output: 42, CacheCreation: 1500}},
	{"openai chat json", FamilyOpenAI, "chat/completions", false, openAIChatJSON, Usage{Input: 1200, Output: 35, CacheRead: 1024}},
	{"openai chat sse", FamilyOpenAI, "chat/completions", true, openAIChatSSE, Usage{Input: 9, Output: 12}},
	{"openai responses json", FamilyOpenAI, "responses", false, openAIResponsesJSON, Usage{Input: 328, Output: 52, CacheRead: 256, Reasoning: 16}},
	{"openai responses sse", FamilyOpenAI, "responses", true, openAIResponsesSSE, Usage{Input: 37, Output: 11}},
	{"gemini json", FamilyGemini, "generateContent", false, geminiJSON, Usage{Input: 100, Output: 50, CacheRead: 64, Reasoning: 30}},
	{"gemini sse", FamilyGemini, "streamGenerateContent", true, geminiSSE, Usage{Input: 8, Output: 50, CacheRead: 4, Reasoning: 10}},
	{"gemini json array", FamilyGemini, "streamGenerateContent", false, geminiArray, Usage{Input: 7, Output: 5, CacheRead: 3}},
	{"gemini code assist sse", FamilyGemini, "streamGenerateContent", true, geminiCodeAssistSSE, Usage{Input: 5, Output: 7, Reasoning: 1}},
	// No usage reported at all.
	{"openai chat sse without usage", FamilyOpenAI, "chat/completions", true, strings.Replace(openAIChatSSE, `"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}`, `"usage":null`, 1), Usage{}},
	{"anthropic json without usage", FamilyAnthropic, "messages", false, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, Usage{}},
	{"anthropic sse error event", FamilyAnthropic, "messages", true, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"usage\"}}\n\n", Usage{}},
	{"gemini array without usage", FamilyGemini, "streamGenerateContent", false, `[{"candidates":[]},{"candidates":[]}]`, Usage{}},
	// Garbage.
	{"garbage sse", FamilyAnthropic, "messages", true, "data: {\"usage\":\ndata: [DONE]\ndata: not json \"usage\"\n:comment\n\n\x00\xff}}]]", Usage{}},
	{"garbage json", FamilyOpenAI, "chat/completions", false, "}}]]{\"usage\"<html>\x00\xff", Usage{}},
	{"html error page", FamilyGemini, "generateContent", false, "<html><body>502 Bad Gateway</body></html>", Usage{}},
	{"unknown family", Family(0), "x", true, openAIChatSSE, Usage{}},
}

// feed writes chunks to a fresh reader and returns what it read.
func feed(t testing.TB, c usageCase, chunks [][]byte) Usage {
	r := newUsageReader(c.family, c.endpoint, c.sse)
	for _, ch := range chunks {
		n, err := r.Write(ch)
		if n != len(ch) || err != nil {
			t.Fatalf("Write(%d bytes) = %d, %v", len(ch), n, err)
		}
	}
	return r.Usage()
}

// randomSplit cuts b into pieces of 1..maxPiece bytes.
func randomSplit(rng *rand.Rand, b []byte, maxPiece int) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := min(1+rng.IntN(maxPiece), len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func TestUsageReaderFormats(t *testing.T) {
	for _, c := range usageCases {
		t.Run(c.name, func(t *testing.T) {
			b := []byte(c.body)
			require.Equal(t, c.want, feed(t, c, [][]byte{b}), "single write")

			for i := 0; i <= len(b); i++ {
				if got := feed(t, c, [][]byte{b[:i], b[i:]}); got != c.want {
					t.Fatalf("split at %d: got %+v, want %+v", i, got, c.want)
				}
			}

			oneByOne := make([][]byte, len(b))
			for i := range b {
				oneByOne[i] = b[i : i+1]
			}
			require.Equal(t, c.want, feed(t, c, oneByOne), "byte by byte")

			rng := rand.New(rand.NewPCG(1, uint64(len(b))))
			for i := 0; i < 200; i++ {
				if got := feed(t, c, randomSplit(rng, b, 1+rng.IntN(64))); got != c.want {
					t.Fatalf("random split %d: got %+v, want %+v", i, got, c.want)
				}
			}
		})
	}
}

// longAnthropicStream builds an Anthropic stream of about size bytes.
func longAnthropicStream(size int) []byte {
	var b bytes.Buffer
	b.WriteString("event: message_start\n" +
		`data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"usage":{"input_tokens":1234,"cache_creation_input_tokens":10,"cache_read_input_tokens":20,"output_tokens":1}}}` + "\n\n" +
		"event: content_block_start\n" +
		`data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}` + "\n\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "event: content_block_delta\n"+
			`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"token %d of a long answer, with some \"quoted\" text"}}`+"\n\n", i)
	}
	b.WriteString("event: content_block_stop\n" +
		`data: {"type":"content_block_stop","index":0}` + "\n\n" +
		"event: message_delta\n" +
		`data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":4321}}` + "\n\n" +
		"event: message_stop\n" +
		`data: {"type":"message_stop"}` + "\n\n")
	return b.Bytes()
}

var longAnthropicCase = usageCase{
	name: "long anthropic sse", family: FamilyAnthropic, endpoint: "messages", sse: true,
	want: Usage{Input: 1234, Output: 4321, CacheRead: 20, CacheCreation: 10},
}

func TestUsageReaderLongStream(t *testing.T) {
	b := longAnthropicStream(100 << 10)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 50; i++ {
		require.Equal(t, longAnthropicCase.want, feed(t, longAnthropicCase, randomSplit(rng, b, 1+rng.IntN(8192))))
	}
}

func TestUsageReaderRandomGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range usageCases {
		// Mostly JSON and SSE punctuation, to reach odd states.
		const alphabet = "{}[]\"\\:\n\r data,usage0"
		junk := make([]byte, 4096)
		for i := range junk {
			junk[i] = alphabet[rng.IntN(len(alphabet))]
		}
		// Must not panic, nor fail a write.
		feed(t, c, randomSplit(rng, junk, 100))
	}
}

func TestUsageReaderOversized(t *testing.T) {
	pad := strings.Repeat("x", usageMaxLine+10)

	t.Run("sse line dropped", func(t *testing.T) {
		big := "event: message_delta\n" +
			`data: {"type":"message_delta","pad":"` + pad + `","usage":{"output_tokens":999,"input_tokens":999}}` + "\n\n"
		body := []byte(anthropicSSE[:strings.Index(anthropicSSE, "event: message_delta")] + big +
			"event: message_delta\n" + `data: {"type":"message_delta","usage":{"output_tokens":7}}` + "\n\n")
		c := usageCase{family: FamilyAnthropic, endpoint: "messages", sse: true}
		want := Usage{Input: 25, Output: 7, CacheRead: 2000, CacheCreation: 100}
		assert.Equal(t, want, feed(t, c, [][]byte{body}), "single write")
		rng := rand.New(rand.NewPCG(5, 5))
		assert.Equal(t, want, feed(t, c, randomSplit(rng, body, 4096)), "4 KB chunks")
	})

	t.Run("unfinished sse line dropped", func(t *testing.T) {
		body := []byte(`data: {"usage":{"output_tokens":5},"pad":"` + pad + `"}`)
		c := usageCase{family: FamilyAnthropic, endpoint: "messages", sse: true}
		r := newUsageReader(c.family, c.endpoint, c.sse)
		for _, ch := range randomSplit(rand.New(rand.NewPCG(1, 1)), body, 4096) {
			_, _ = r.Write(ch)
		}
		assert.Equal(t, Usage{}, r.Usage())
		assert.LessOrEqual(t, cap(r.line), usageMaxLine, "pending line stays bounded")
	})

	t.Run("json body over cap", func(t *testing.T) {
		huge := strings.Repeat("y", usageMaxJSON)
		body := []byte(`{"type":"message","content":[{"type":"text","text":"` + huge + `"}],"usage":{"input_tokens":1,"output_tokens":2}}`)
		c := usageCase{family: FamilyAnthropic, endpoint: "messages"}
		assert.Equal(t, Usage{}, feed(t, c, [][]byte{body}), "single write")
		assert.Equal(t, Usage{}, feed(t, c, randomSplit(rand.New(rand.NewPCG(2, 2)), body, 32<<10)), "chunks")
	})

	t.Run("gemini array element over cap", func(t *testing.T) {
		body := []byte(`[{"candidates":[{"content":{"parts":[{"text":"` + pad + `"}]}}],"usageMetadata":{"promptTokenCount":99,"candidatesTokenCount":99}},` +
			`{"candidates":[],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":6}}]`)
		c := usageCase{family: FamilyGemini, endpoint: "streamGenerateContent"}
		want := Usage{Input: 4, Output: 6}
		assert.Equal(t, want, feed(t, c, [][]byte{body}), "single write")
		assert.Equal(t, want, feed(t, c, randomSplit(rand.New(rand.NewPCG(3, 3)), body, 4096)), "chunks")
	})
}

// Allocations are a function of the longest line, not of the stream length.
func TestUsageReaderAllocsDoNotGrow(t *testing.T) {
	allocs := func(size int) float64 {
		b := longAnthropicStream(size)
		return testing.AllocsPerRun(20, func() {
			r := newUsageReader(FamilyAnthropic, "messages", true)
			for p := b; len(p) > 0; {
				n := min(4096, len(p))
				_, _ = r.Write(p[:n])
				p = p[n:]
			}
		})
	}
	small, large := allocs(100<<10), allocs(1<<20)
	assert.LessOrEqual(t, large, small, "allocs: 100 KB stream %v, 1 MB stream %v", small, large)
}

func BenchmarkUsageReaderAnthropicSSE(b *testing.B) {
	body := longAnthropicStream(100 << 10)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r := newUsageReader(FamilyAnthropic, "messages", true)
		for p := body; len(p) > 0; {
			n := min(4096, len(p))
			_, _ = r.Write(p[:n])
			p = p[n:]
		}
		if r.Usage() != longAnthropicCase.want {
			b.Fatal(r.Usage())
		}
	}
}

func TestUsageTotal(t *testing.T) {
	u := Usage{Input: 10, Output: 5, CacheRead: 100, CacheCreation: 20}
	assert.Equal(t, int64(135), u.Total(FamilyAnthropic.String()), "Anthropic's input excludes the cache")
	assert.Equal(t, int64(15), u.Total(FamilyOpenAI.String()), "OpenAI's input includes the cached part")
	assert.Equal(t, int64(15), u.Total(FamilyGemini.String()))
}
