package mockupstream

// Anthropic Messages API: POST /v1/messages (JSON or SSE) and
// POST /v1/messages/count_tokens.

type anthropicUsage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}

type anthropicText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type anthropicMessage struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Role         string          `json:"role"`
	Model        string          `json:"model"`
	Content      []anthropicText `json:"content"`
	StopReason   *string         `json:"stop_reason"`
	StopSequence *string         `json:"stop_sequence"`
	Usage        anthropicUsage  `json:"usage"`
}

type anthropicEvent struct {
	Type         string            `json:"type"`
	Message      *anthropicMessage `json:"message,omitempty"`
	Index        *int              `json:"index,omitempty"`
	ContentBlock *anthropicText    `json:"content_block,omitempty"`
	Delta        any               `json:"delta,omitempty"`
	Usage        *anthropicDelta   `json:"usage,omitempty"`
}

type anthropicDelta struct {
	OutputTokens int `json:"output_tokens"`
}

type anthropicTextDelta struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type anthropicStopDelta struct {
	StopReason   string  `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

func anthropicMessages(c *call) {
	if !c.requireJSONModel() {
		return
	}
	in, out := tokensOf(len(c.body)), tokensOf(len(c.reply))
	read, creation := c.promptCache()
	// input_tokens excludes what the cache served or stored
	in = max(1, in-read-creation)
	usage := anthropicUsage{InputTokens: in, OutputTokens: out, CacheReadInputTokens: read, CacheCreationInputTokens: creation}
	id := newID("msg_01", 22)
	if !c.stream {
		stop := "end_turn"
		c.writeJSON(anthropicMessage{
			ID: id, Type: "message", Role: "assistant", Model: c.model,
			Content:    []anthropicText{{Type: "text", Text: c.reply}},
			StopReason: &stop,
			Usage:      usage,
		})
		return
	}

	st := c.startStream("text/event-stream; charset=utf-8", "\n\n")
	zero := 0
	send := func(ev anthropicEvent) bool { return st.event(ev.Type, mustJSON(ev)) }
	ok := send(anthropicEvent{Type: "message_start", Message: &anthropicMessage{
		ID: id, Type: "message", Role: "assistant", Model: c.model,
		Content: []anthropicText{},
		Usage:   anthropicUsage{InputTokens: in, OutputTokens: 1, CacheReadInputTokens: read, CacheCreationInputTokens: creation},
	}}) &&
		send(anthropicEvent{Type: "content_block_start", Index: &zero, ContentBlock: &anthropicText{Type: "text", Text: ""}}) &&
		send(anthropicEvent{Type: "ping"})
	for _, piece := range chunks(c.reply) {
		ok = ok && send(anthropicEvent{Type: "content_block_delta", Index: &zero, Delta: anthropicTextDelta{Type: "text_delta", Text: piece}})
	}
	_ = ok &&
		send(anthropicEvent{Type: "content_block_stop", Index: &zero}) &&
		send(anthropicEvent{Type: "message_delta", Delta: anthropicStopDelta{StopReason: "end_turn"}, Usage: &anthropicDelta{OutputTokens: out}}) &&
		send(anthropicEvent{Type: "message_stop"})
}

func anthropicCountTokens(c *call) {
	if !c.requireJSONModel() {
		return
	}
	c.writeJSON(struct {
		InputTokens int `json:"input_tokens"`
	}{tokensOf(len(c.body))})
}
