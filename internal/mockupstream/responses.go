package mockupstream

import (
	"encoding/json"
	"time"

	"github.com/tidwall/gjson"
)

// OpenAI Responses API: POST /v1/responses, JSON or named SSE events each
// carrying "type" and "sequence_number".

type outputText struct {
	Type        string `json:"type"`
	Text        string `json:"text"`
	Annotations []any  `json:"annotations"`
}

type outputMessage struct {
	Type    string       `json:"type"`
	ID      string       `json:"id"`
	Status  string       `json:"status"`
	Role    string       `json:"role"`
	Content []outputText `json:"content"`
}

type responseUsage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}

type responseObject struct {
	ID                 string          `json:"id"`
	Object             string          `json:"object"`
	CreatedAt          int64           `json:"created_at"`
	Status             string          `json:"status"`
	Error              any             `json:"error"`
	IncompleteDetails  any             `json:"incomplete_details"`
	Instructions       json.RawMessage `json:"instructions"`
	MaxOutputTokens    json.RawMessage `json:"max_output_tokens"`
	Model              string          `json:"model"`
	Output             []outputMessage `json:"output"`
	ParallelToolCalls  bool            `json:"parallel_tool_calls"`
	PreviousResponseID json.RawMessage `json:"previous_response_id"`
	Store              bool            `json:"store"`
	Temperature        float64         `json:"temperature"`
	Text               any             `json:"text"`
	ToolChoice         string          `json:"tool_choice"`
	Tools              []any           `json:"tools"`
	TopP               float64         `json:"top_p"`
	Truncation         string          `json:"truncation"`
	Usage              *responseUsage  `json:"usage"`
	Metadata           map[string]any  `json:"metadata"`
}

// responseEvent is one Responses stream event; unused fields are omitted.
type responseEvent struct {
	Type           string          `json:"type"`
	SequenceNumber int             `json:"sequence_number"`
	Response       *responseObject `json:"response,omitempty"`
	OutputIndex    *int            `json:"output_index,omitempty"`
	ItemID         string          `json:"item_id,omitempty"`
	ContentIndex   *int            `json:"content_index,omitempty"`
	Item           *outputMessage  `json:"item,omitempty"`
	Part           *outputText     `json:"part,omitempty"`
	Delta          *string         `json:"delta,omitempty"`
	Text           *string         `json:"text,omitempty"`
	Logprobs       json.RawMessage `json:"logprobs,omitempty"`
}

// emptyList is a JSON [] that survives omitempty.
var emptyList = json.RawMessage("[]")

// rawOrNull echoes a request field, or JSON null when it is absent.
func rawOrNull(body []byte, path string) json.RawMessage {
	if v := gjson.GetBytes(body, path); v.Exists() {
		return json.RawMessage(v.Raw)
	}
	return json.RawMessage("null")
}

// newResponse builds the response object in its initial (in_progress) state.
func (c *call) newResponse() *responseObject {
	store := true
	if v := gjson.GetBytes(c.body, "store"); v.Exists() {
		store = v.Bool()
	}
	return &responseObject{
		ID: newID("resp_", 48), Object: "response", CreatedAt: time.Now().Unix(),
		Status: "in_progress", Instructions: rawOrNull(c.body, "instructions"),
		MaxOutputTokens: rawOrNull(c.body, "max_output_tokens"), Model: c.model,
		Output: []outputMessage{}, ParallelToolCalls: true,
		PreviousResponseID: rawOrNull(c.body, "previous_response_id"), Store: store,
		Temperature: 1, Text: map[string]any{"format": map[string]string{"type": "text"}},
		ToolChoice: "auto", Tools: []any{}, TopP: 1, Truncation: "disabled",
		Metadata: map[string]any{},
	}
}

// complete fills in the finished output and usage.
func (c *call) complete(resp *responseObject, msg outputMessage) *responseObject {
	done := *resp
	done.Status = "completed"
	done.Output = []outputMessage{msg}
	u := &responseUsage{InputTokens: tokensOf(len(c.body)), OutputTokens: tokensOf(len(c.reply))}
	u.InputTokensDetails.CachedTokens, _ = c.promptCache()
	u.TotalTokens = u.InputTokens + u.OutputTokens
	done.Usage = u
	return &done
}

func openAIResponses(c *call) {
	if !c.requireJSONModel() {
		return
	}
	resp := c.newResponse()
	if !c.stream {
		final := outputText{Type: "output_text", Text: c.reply, Annotations: []any{}}
		c.writeJSON(c.complete(resp, outputMessage{Type: "message", ID: newID("msg_", 48), Status: "completed", Role: "assistant", Content: []outputText{final}}))
		return
	}

	st := c.startStream("text/event-stream; charset=utf-8", "\n\n")
	c.responseEvents(resp, func(ev responseEvent) bool { return st.event(ev.Type, mustJSON(ev)) })
}

// responseEvents emits the events of a streamed answer in order, numbering
// them, until emit returns false. The SSE and the WebSocket mode share it.
func (c *call) responseEvents(resp *responseObject, emit func(responseEvent) bool) {
	msgID := newID("msg_", 48)
	final := outputText{Type: "output_text", Text: c.reply, Annotations: []any{}}
	doneMsg := outputMessage{Type: "message", ID: msgID, Status: "completed", Role: "assistant", Content: []outputText{final}}
	seq := 0
	send := func(ev responseEvent) bool {
		ev.SequenceNumber = seq
		seq++
		return emit(ev)
	}
	zero := 0
	text := c.reply
	empty := outputText{Type: "output_text", Text: "", Annotations: []any{}}
	ok := send(responseEvent{Type: "response.created", Response: resp}) &&
		send(responseEvent{Type: "response.in_progress", Response: resp}) &&
		send(responseEvent{Type: "response.output_item.added", OutputIndex: &zero, Item: &outputMessage{
			Type: "message", ID: msgID, Status: "in_progress", Role: "assistant", Content: []outputText{},
		}}) &&
		send(responseEvent{Type: "response.content_part.added", ItemID: msgID, OutputIndex: &zero, ContentIndex: &zero, Part: &empty})
	for _, piece := range chunks(c.reply) {
		ok = ok && send(responseEvent{Type: "response.output_text.delta", ItemID: msgID, OutputIndex: &zero, ContentIndex: &zero, Delta: &piece, Logprobs: emptyList})
	}
	_ = ok &&
		send(responseEvent{Type: "response.output_text.done", ItemID: msgID, OutputIndex: &zero, ContentIndex: &zero, Text: &text, Logprobs: emptyList}) &&
		send(responseEvent{Type: "response.content_part.done", ItemID: msgID, OutputIndex: &zero, ContentIndex: &zero, Part: &final}) &&
		send(responseEvent{Type: "response.output_item.done", OutputIndex: &zero, Item: &doneMsg}) &&
		send(responseEvent{Type: "response.completed", Response: c.complete(resp, doneMsg)})
}
