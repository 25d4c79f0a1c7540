package mockupstream

import (
	"net/http"

	"github.com/tidwall/gjson"
)

// Gemini Code Assist (cloudcode-pa.googleapis.com): POST
// .../v1internal:generateContent and :streamGenerateContent?alt=sse take
// {"model", "project", "request": <GenerateContentRequest>} and answer each
// GenerateContentResponse wrapped as {"response": …, "traceId": …}.
func codeAssistGenerate(c *call, stream bool) {
	if !c.requireJSON() {
		return
	}
	if gjson.GetBytes(c.body, "project").String() == "" || !gjson.GetBytes(c.body, "request").IsObject() {
		c.fail(http.StatusBadRequest, "Code Assist requests need a project and a request object")
		return
	}
	c.wrapCodeAssist = true
	c.body = []byte(gjson.GetBytes(c.body, "request").Raw)
	geminiGenerate(c, stream)
}

// geminiOut is a Gemini response as the endpoint answers it: as is, or
// wrapped for Code Assist.
func (c *call) geminiOut(resp geminiResponse) any {
	if !c.wrapCodeAssist {
		return resp
	}
	return map[string]any{"response": resp, "traceId": "mock-trace"}
}
