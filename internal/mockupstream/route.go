package mockupstream

import (
	"net/http"
	"strings"

	"github.com/tidwall/gjson"
)

// Provider families select the error shape, request-id header and default
// reply of an answer.
const (
	familyAnthropic = "anthropic"
	familyOpenAI    = "openai"
	familyGemini    = "gemini"
)

type op int

const (
	opUnknown op = iota
	opAnthropicMessages
	opAnthropicCountTokens
	opOpenAIChat
	opOpenAICompletions
	opOpenAIEmbeddings
	opOpenAIResponses
	opModelsList
	opModelRetrieve
	opGeminiGenerate
	opGeminiStream
	opGeminiCountTokens
	opCodeAssistGenerate
	opCodeAssistStream
	opCodeAssistCountTokens
	opCodeAssistLoad
	opCodeAssistOnboard
	opCodeAssistOperation
)

// route is what the path (and, for model listings, the headers) of a request
// select.
type route struct {
	op       op
	provider string // Recorded.Provider
	family   string
	method   string // the HTTP method the endpoint accepts
	model    string // model named in the URL path, if any
}

// routeOf classifies r by path suffix so any base path prefix works.
func routeOf(r *http.Request) route {
	p := strings.TrimRight(r.URL.Path, "/")
	last := p[strings.LastIndex(p, "/")+1:]

	// Gemini: .../models/{model}:{method}
	if i := strings.LastIndex(last, ":"); i > 0 && strings.HasSuffix(p[:len(p)-len(last)], "/models/") {
		model, method := last[:i], last[i+1:]
		g := route{provider: "gemini", family: familyGemini, method: http.MethodPost, model: model}
		switch method {
		case "generateContent":
			g.op = opGeminiGenerate
		case "streamGenerateContent":
			g.op = opGeminiStream
		case "countTokens":
			g.op = opGeminiCountTokens
		default:
			return route{provider: "unknown"}
		}
		return g
	}

	// Gemini Code Assist: .../v1internal:{method}, the model in the body
	if rest, ok := strings.CutPrefix(last, "v1internal:"); ok {
		ca := route{provider: "code-assist", family: familyGemini, method: http.MethodPost}
		switch rest {
		case "generateContent":
			ca.op = opCodeAssistGenerate
		case "streamGenerateContent":
			ca.op = opCodeAssistStream
		case "countTokens":
			ca.op = opCodeAssistCountTokens
		case "loadCodeAssist":
			ca.op = opCodeAssistLoad
		case "onboardUser":
			ca.op = opCodeAssistOnboard
		default:
			return route{provider: "unknown"}
		}
		return ca
	}
	// a Code Assist long-running operation: .../v1internal/operations/{id}
	if i := strings.Index(p, "/v1internal/operations/"); i >= 0 {
		return route{
			op: opCodeAssistOperation, provider: "code-assist", family: familyGemini,
			method: http.MethodGet, model: p[i+len("/v1internal/"):],
		}
	}

	switch {
	case strings.HasSuffix(p, "/messages/count_tokens"):
		return route{op: opAnthropicCountTokens, provider: "anthropic", family: familyAnthropic, method: http.MethodPost}
	case strings.HasSuffix(p, "/messages"):
		return route{op: opAnthropicMessages, provider: "anthropic", family: familyAnthropic, method: http.MethodPost}
	case strings.HasSuffix(p, "/chat/completions"):
		return route{op: opOpenAIChat, provider: "openai-chat", family: familyOpenAI, method: http.MethodPost}
	case strings.HasSuffix(p, "/completions"):
		return route{op: opOpenAICompletions, provider: "openai-completions", family: familyOpenAI, method: http.MethodPost}
	case strings.HasSuffix(p, "/embeddings"):
		return route{op: opOpenAIEmbeddings, provider: "openai-embeddings", family: familyOpenAI, method: http.MethodPost}
	case strings.HasSuffix(p, "/responses"):
		return route{op: opOpenAIResponses, provider: "openai-responses", family: familyOpenAI, method: http.MethodPost}
	case strings.HasSuffix(p, "/models"):
		return modelsRoute(r, opModelsList, "")
	}
	if i := strings.LastIndex(p, "/models/"); i >= 0 && !strings.Contains(p[i+len("/models/"):], "/") {
		return modelsRoute(r, opModelRetrieve, p[i+len("/models/"):])
	}
	return route{provider: "unknown"}
}

// modelsRoute tells the three model-listing APIs apart: Gemini by its
// versioned path or key placement, Anthropic by its version header or
// x-api-key, OpenAI otherwise.
func modelsRoute(r *http.Request, o op, model string) route {
	rt := route{op: o, method: http.MethodGet, model: model}
	p := r.URL.Path
	switch {
	case strings.Contains(p, "/v1beta/") || strings.Contains(p, "/v1alpha/") ||
		r.Header.Get("x-goog-api-key") != "" || r.URL.Query().Get("key") != "":
		rt.provider, rt.family = "gemini-models", familyGemini
		rt.model = strings.TrimPrefix(model, "models/")
	case r.Header.Get("anthropic-version") != "" || r.Header.Get("x-api-key") != "":
		rt.provider, rt.family = "anthropic-models", familyAnthropic
	default:
		rt.provider, rt.family = "openai-models", familyOpenAI
	}
	return rt
}

// modelAndStream reads the model and the streaming flag a request asks for.
func (rt route) modelAndStream(r *http.Request, body []byte) (string, bool) {
	switch rt.family {
	case "":
		return gjson.GetBytes(body, "model").String(), gjson.GetBytes(body, "stream").Bool()
	case familyGemini:
		switch rt.op {
		case opCodeAssistGenerate, opCodeAssistStream:
			return gjson.GetBytes(body, "model").String(), rt.op == opCodeAssistStream
		case opCodeAssistCountTokens:
			return strings.TrimPrefix(gjson.GetBytes(body, "request.model").String(), "models/"), false
		case opCodeAssistLoad, opCodeAssistOnboard, opCodeAssistOperation:
			return "", false
		}
		return rt.model, rt.op == opGeminiStream
	}
	if rt.model != "" {
		return rt.model, false
	}
	if r.Method != http.MethodPost {
		return "", false
	}
	return gjson.GetBytes(body, "model").String(), gjson.GetBytes(body, "stream").Bool()
}

// handle dispatches to the endpoint's answer.
func (rt route) handle(c *call) {
	switch rt.op {
	case opAnthropicMessages:
		anthropicMessages(c)
	case opAnthropicCountTokens:
		anthropicCountTokens(c)
	case opOpenAIChat:
		openAIChat(c)
	case opOpenAICompletions:
		openAICompletions(c)
	case opOpenAIEmbeddings:
		openAIEmbeddings(c)
	case opOpenAIResponses:
		openAIResponses(c)
	case opModelsList:
		modelsList(c)
	case opModelRetrieve:
		modelRetrieve(c)
	case opGeminiGenerate:
		geminiGenerate(c, false)
	case opGeminiStream:
		geminiGenerate(c, true)
	case opGeminiCountTokens:
		geminiCountTokens(c)
	case opCodeAssistGenerate:
		codeAssistGenerate(c, false)
	case opCodeAssistStream:
		codeAssistGenerate(c, true)
	case opCodeAssistCountTokens:
		codeAssistCountTokens(c)
	case opCodeAssistLoad:
		codeAssistLoad(c)
	case opCodeAssistOnboard:
		codeAssistOnboard(c)
	case opCodeAssistOperation:
		codeAssistOperation(c)
	}
}
