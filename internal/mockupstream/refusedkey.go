package mockupstream

import "net/http"

// refuseKey answers as each provider answers a key it does not accept.
func (c *call) refuseKey() {
	switch {
	case c.rt.family == familyAnthropic:
		writeProviderError(c.w, familyAnthropic, http.StatusUnauthorized, "invalid x-api-key")
	case c.rt.provider == "code-assist":
		writeProviderError(c.w, familyGemini, http.StatusUnauthorized,
			"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.")
	case c.rt.family == familyGemini:
		c.refuseGeminiKey()
	default:
		// the message names the key masked, as OpenAI's does
		writeProviderError(c.w, familyOpenAI, http.StatusUnauthorized, faultMessage(familyOpenAI, http.StatusUnauthorized, c.key))
	}
}

// refuseGeminiKey is the Gemini API's answer to an API key it does not
// know: 400 INVALID_ARGUMENT, told apart from a bad request only by its
// ErrorInfo reason.
func (c *call) refuseGeminiKey() {
	const msg = "API key not valid. Please pass a valid API key."
	body := map[string]any{"error": map[string]any{
		"code":    http.StatusBadRequest,
		"message": msg,
		"status":  "INVALID_ARGUMENT",
		"details": []map[string]any{
			{
				"@type":    "type.googleapis.com/google.rpc.ErrorInfo",
				"reason":   "API_KEY_INVALID",
				"domain":   "googleapis.com",
				"metadata": map[string]string{"service": "generativelanguage.googleapis.com"},
			},
			{
				"@type":   "type.googleapis.com/google.rpc.LocalizedMessage",
				"locale":  "en-US",
				"message": msg,
			},
		},
	}}
	c.w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	if c.rt.op == opGeminiStream && c.r.URL.Query().Get("alt") != "sse" {
		// the JSON-array stream reports its error as the array's element
		writeJSONStatus(c.w, http.StatusBadRequest, []any{body})
		return
	}
	writeJSONStatus(c.w, http.StatusBadRequest, body)
}
