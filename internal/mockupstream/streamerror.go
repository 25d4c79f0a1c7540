package mockupstream

import "net/http"

// streamError answers a streaming request with a 200 event stream that
// carries only an error event, the way each provider reports a failure
// after the response headers went out; with a Stall the stream stays open
// that long after it.
func (c *call) streamError(errType string) {
	defer sleepCtx(c.r.Context(), c.fault.Stall)
	status := streamErrorCode(errType)
	msg := "mock stream error: " + errType
	switch {
	case c.rt.family == familyAnthropic:
		st := c.startStream("text/event-stream; charset=utf-8", "\n\n")
		st.event("error", mustJSON(map[string]any{
			"type":  "error",
			"error": map[string]string{"type": errType, "message": msg},
		}))
	case c.rt.family == familyGemini:
		st := c.startStream("text/event-stream", "\r\n\r\n")
		st.event("", mustJSON(map[string]any{"error": map[string]any{
			"code": status, "message": msg, "status": geminiStatus(status),
		}}))
	case c.rt.provider == "openai-responses":
		st := c.startStream("text/event-stream; charset=utf-8", "\n\n")
		st.event("response.failed", mustJSON(map[string]any{
			"type":            "response.failed",
			"sequence_number": 0,
			"response": map[string]any{
				"object": "response", "status": "failed",
				"error": map[string]string{"code": errType, "message": msg},
			},
		}))
	default:
		st := c.startStream("text/event-stream; charset=utf-8", "\n\n")
		st.event("", mustJSON(map[string]any{"error": map[string]any{
			"message": msg, "type": errType, "code": errType, "param": nil,
		}}))
	}
}

// streamErrorCode is the HTTP status an error type stands for.
func streamErrorCode(errType string) int {
	switch errType {
	case "overloaded_error":
		return 529
	case "rate_limit_error", "rate_limit_exceeded", "RESOURCE_EXHAUSTED":
		return http.StatusTooManyRequests
	case "invalid_request_error":
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}
