package mockupstream

import (
	"time"

	"github.com/tidwall/gjson"
)

// OpenAI Chat Completions (POST /v1/chat/completions) and legacy Completions
// (POST /v1/completions), JSON or "data:" SSE ending in [DONE].

const systemFingerprint = "fp_mock0001"

type openAIUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

type chatMessage struct {
	Role        string  `json:"role"`
	Content     string  `json:"content"`
	Refusal     *string `json:"refusal"`
	Annotations []any   `json:"annotations"`
}

type chatChoice struct {
	Index        int         `json:"index"`
	Message      chatMessage `json:"message"`
	Logprobs     any         `json:"logprobs"`
	FinishReason string      `json:"finish_reason"`
}

type chatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []chatChoice `json:"choices"`
	Usage             openAIUsage  `json:"usage"`
	ServiceTier       string       `json:"service_tier"`
	SystemFingerprint string       `json:"system_fingerprint"`
}

type chatDelta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

type chunkChoice struct {
	Index        int       `json:"index"`
	Delta        chatDelta `json:"delta"`
	Logprobs     any       `json:"logprobs"`
	FinishReason *string   `json:"finish_reason"`
}

type chatChunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	ServiceTier       string        `json:"service_tier"`
	SystemFingerprint string        `json:"system_fingerprint"`
	Choices           []chunkChoice `json:"choices"`
	// Usage is null on every chunk but the last when the client asked for
	// stream_options.include_usage, and absent otherwise.
	Usage any `json:"usage,omitempty"`
}

// includeUsage reports whether a streaming request asked for a final usage
// chunk.
func (c *call) includeUsage() bool {
	return gjson.GetBytes(c.body, "stream_options.include_usage").Bool()
}

func (c *call) openAIUsage() openAIUsage {
	in, out := tokensOf(len(c.body)), tokensOf(len(c.reply))
	u := openAIUsage{PromptTokens: in, CompletionTokens: out, TotalTokens: in + out}
	u.PromptTokensDetails.CachedTokens, _ = c.promptCache()
	return u
}

// nullUsage marks a field that must encode as JSON null rather than be
// omitted.
type nullUsage struct{}

func (nullUsage) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

func openAIChat(c *call) {
	if !c.requireJSONModel() {
		return
	}
	id := newID("chatcmpl-", 29)
	created := time.Now().Unix()
	usage := c.openAIUsage()
	if !c.stream {
		c.writeJSON(chatCompletion{
			ID: id, Object: "chat.completion", Created: created, Model: c.model,
			Choices: []chatChoice{{
				Message:      chatMessage{Role: "assistant", Content: c.reply, Annotations: []any{}},
				FinishReason: "stop",
			}},
			Usage: usage, ServiceTier: "default", SystemFingerprint: systemFingerprint,
		})
		return
	}

	st := c.startStream("text/event-stream; charset=utf-8", "\n\n")
	withUsage := c.includeUsage()
	send := func(choices []chunkChoice, u any) bool {
		ch := chatChunk{
			ID: id, Object: "chat.completion.chunk", Created: created, Model: c.model,
			ServiceTier: "default", SystemFingerprint: systemFingerprint, Choices: choices,
		}
		if withUsage {
			ch.Usage = u
			if u == nil {
				ch.Usage = nullUsage{}
			}
		}
		return st.event("", mustJSON(ch))
	}
	empty := ""
	ok := send([]chunkChoice{{Delta: chatDelta{Role: "assistant", Content: &empty}}}, nil)
	for _, piece := range chunks(c.reply) {
		ok = ok && send([]chunkChoice{{Delta: chatDelta{Content: &piece}}}, nil)
	}
	stop := "stop"
	ok = ok && send([]chunkChoice{{FinishReason: &stop}}, nil)
	if withUsage {
		ok = ok && send([]chunkChoice{}, usage)
	}
	_ = ok && st.event("", []byte("[DONE]"))
}

type textChoice struct {
	Text         string  `json:"text"`
	Index        int     `json:"index"`
	Logprobs     any     `json:"logprobs"`
	FinishReason *string `json:"finish_reason"`
}

type textCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint,omitempty"`
	Choices           []textChoice `json:"choices"`
	Usage             any          `json:"usage,omitempty"`
}

func openAICompletions(c *call) {
	if !c.requireJSONModel() {
		return
	}
	id := newID("cmpl-", 29)
	created := time.Now().Unix()
	usage := c.openAIUsage()
	stop := "stop"
	if !c.stream {
		c.writeJSON(textCompletion{
			ID: id, Object: "text_completion", Created: created, Model: c.model,
			Choices: []textChoice{{Text: c.reply, FinishReason: &stop}},
			Usage:   usage,
		})
		return
	}

	st := c.startStream("text/event-stream; charset=utf-8", "\n\n")
	withUsage := c.includeUsage()
	send := func(choices []textChoice, u any) bool {
		tc := textCompletion{ID: id, Object: "text_completion", Created: created, Model: c.model, Choices: choices}
		if withUsage {
			tc.Usage = u
			if u == nil {
				tc.Usage = nullUsage{}
			}
		}
		return st.event("", mustJSON(tc))
	}
	ok := true
	for _, piece := range chunks(c.reply) {
		ok = ok && send([]textChoice{{Text: piece}}, nil)
	}
	ok = ok && send([]textChoice{{Text: "", FinishReason: &stop}}, nil)
	if withUsage {
		ok = ok && send([]textChoice{}, usage)
	}
	_ = ok && st.event("", []byte("[DONE]"))
}
