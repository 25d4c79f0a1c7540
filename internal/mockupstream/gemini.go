package mockupstream

// Gemini API: POST .../models/{model}:generateContent,
// :streamGenerateContent (SSE with ?alt=sse, else a streamed JSON array) and
// :countTokens.

type geminiPart struct {
	Text string `json:"text"`
}

type geminiContent struct {
	Parts []geminiPart `json:"parts"`
	Role  string       `json:"role"`
}

type geminiCandidate struct {
	Content      geminiContent `json:"content"`
	FinishReason string        `json:"finishReason,omitempty"`
	Index        int           `json:"index"`
}

type modalityCount struct {
	Modality   string `json:"modality"`
	TokenCount int    `json:"tokenCount"`
}

type geminiUsage struct {
	PromptTokenCount     int `json:"promptTokenCount"`
	CandidatesTokenCount int `json:"candidatesTokenCount,omitempty"`
	// CachedContentTokenCount is the part of the prompt the cache served.
	CachedContentTokenCount int             `json:"cachedContentTokenCount,omitempty"`
	TotalTokenCount         int             `json:"totalTokenCount"`
	PromptTokensDetails     []modalityCount `json:"promptTokensDetails"`
}

type geminiResponse struct {
	Candidates    []geminiCandidate `json:"candidates"`
	UsageMetadata geminiUsage       `json:"usageMetadata"`
	ModelVersion  string            `json:"modelVersion"`
	ResponseID    string            `json:"responseId"`
}

// geminiChunk builds one GenerateContentResponse carrying text; the final
// one has finishReason STOP and the full usage.
func (c *call) geminiChunk(id, text string, final bool) geminiResponse {
	in := tokensOf(len(c.body))
	resp := geminiResponse{
		Candidates: []geminiCandidate{{Content: geminiContent{Parts: []geminiPart{{Text: text}}, Role: "model"}}},
		UsageMetadata: geminiUsage{
			PromptTokenCount: in, TotalTokenCount: in,
			PromptTokensDetails: []modalityCount{{Modality: "TEXT", TokenCount: in}},
		},
		ModelVersion: c.model,
		ResponseID:   id,
	}
	resp.UsageMetadata.CachedContentTokenCount, _ = c.promptCache()
	if final {
		out := tokensOf(len(c.reply))
		resp.Candidates[0].FinishReason = "STOP"
		resp.UsageMetadata.CandidatesTokenCount = out
		resp.UsageMetadata.TotalTokenCount = in + out
	}
	return resp
}

func geminiGenerate(c *call, stream bool) {
	if !c.requireJSON() {
		return
	}
	c.reply = geminiReplyText(c.body, c.reply)
	id := newID("", 22)
	if !stream {
		c.writeJSON(c.geminiOut(c.geminiChunk(id, c.reply, true)))
		return
	}

	pieces := chunks(c.reply)
	if c.r.URL.Query().Get("alt") == "sse" {
		st := c.startStream("text/event-stream", "\r\n\r\n")
		for i, p := range pieces {
			if !st.event("", mustJSON(c.geminiOut(c.geminiChunk(id, p, i == len(pieces)-1)))) {
				return
			}
		}
		return
	}

	// Without alt=sse the API streams one JSON array, element by element.
	st := c.startStream("application/json; charset=UTF-8", "")
	for i, p := range pieces {
		last := i == len(pieces)-1
		b := []byte(",\r\n")
		if i == 0 {
			b = []byte("[")
		}
		b = append(b, mustJSON(c.geminiOut(c.geminiChunk(id, p, last)))...)
		if last {
			b = append(b, ']')
		}
		if !st.piece(b) {
			return
		}
	}
}

func geminiCountTokens(c *call) {
	if !c.requireJSON() {
		return
	}
	n := tokensOf(len(c.body))
	c.writeJSON(struct {
		TotalTokens         int             `json:"totalTokens"`
		PromptTokensDetails []modalityCount `json:"promptTokensDetails"`
	}{n, []modalityCount{{Modality: "TEXT", TokenCount: n}}})
}
