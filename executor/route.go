package executor

import (
	"net/http"
	gopath "path"
	"strings"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// Family is the API protocol a client speaks. It decides which providers may
// serve the request and the shape of the errors the client is sent.
type Family uint8

// The protocol families the gateway serves.
const (
	FamilyAnthropic Family = iota + 1
	FamilyOpenAI
	FamilyGemini
)

// String names the family.
func (f Family) String() string {
	switch f {
	case FamilyAnthropic:
		return "anthropic"
	case FamilyOpenAI:
		return "openai"
	case FamilyGemini:
		return "gemini"
	}
	return "unknown"
}

// Providers lists the credential providers that can serve f.
func (f Family) Providers() []auth.Provider {
	switch f {
	case FamilyAnthropic:
		return []auth.Provider{auth.Claude}
	case FamilyOpenAI:
		return []auth.Provider{auth.OpenAI, auth.OpenAICompatible, auth.Codex}
	case FamilyGemini:
		return []auth.Provider{auth.Gemini, auth.GeminiCLI}
	}
	return nil
}

// Route is what the gateway made of a request's method and path.
type Route struct {
	Family Family
	// Endpoint names the operation, e.g. "messages", "chat/completions",
	// "generateContent".
	Endpoint string
	// Model is the model named by the path (Gemini), else "".
	Model string
	// HasBody is whether the operation carries a JSON body to inspect.
	HasBody bool
	// WebSocket is set for the Responses API's WebSocket mode: a GET with
	// Upgrade: websocket, then one message per turn.
	WebSocket bool
	// Client is the official CLI the request comes from, if any (see
	// auth.ClientOf): it decides which subscription accounts may serve it.
	Client auth.Client
}

// servedBy reports whether a provider of the route's family serves the
// route's endpoint: the Codex backend speaks only the Responses API, Code
// Assist only content generation.
func (r Route) servedBy(p auth.Provider) bool {
	switch p {
	case auth.Codex:
		return r.Endpoint == "responses" || r.Endpoint == "responses/compact"
	case auth.GeminiCLI:
		return codeAssistActions[r.Endpoint]
	}
	return true
}

// Resolve maps a request to the route that serves it. It returns false for
// a path the gateway does not serve, which the caller passes on.
func Resolve(r *http.Request) (Route, bool) {
	rt, ok := resolve(r)
	if ok {
		rt.Client = auth.ClientOf(r.Header)
	}
	return rt, ok
}

func resolve(r *http.Request) (Route, bool) {
	path := r.URL.Path
	if gopath.Clean(path) != path {
		// dot segments or doubled slashes could walk a served prefix onto
		// an upstream path nobody meant to expose with a pooled key
		return Route{}, false
	}
	post := r.Method == http.MethodPost
	switch {
	case post && (path == "/v1/messages" || path == "/v1/messages/count_tokens"):
		return Route{Family: FamilyAnthropic, Endpoint: strings.TrimPrefix(path, "/v1/"), HasBody: true}, true
	case post && (path == "/v1/chat/completions" || path == "/v1/completions" ||
		path == "/v1/embeddings" || path == "/v1/responses" || path == "/v1/responses/compact"):
		return Route{Family: FamilyOpenAI, Endpoint: strings.TrimPrefix(path, "/v1/"), HasBody: true}, true
	case (path == "/v1/responses" || path == "/backend-api/codex/responses") && isWebSocketUpgrade(r):
		return Route{Family: FamilyOpenAI, Endpoint: "responses", WebSocket: true}, true
	case post && path == "/backend-api/codex/responses":
		// Codex CLI's own path when pointed at a ChatGPT-style base URL
		return Route{Family: FamilyOpenAI, Endpoint: "responses", HasBody: true}, true
	case r.Method == http.MethodGet && (path == "/v1/models" || strings.HasPrefix(path, "/v1/models/")):
		// both Anthropic and OpenAI serve this path; Anthropic clients
		// send anthropic-version, and their key in x-api-key
		id := strings.TrimPrefix(strings.TrimPrefix(path, "/v1/models"), "/")
		if r.Header.Get("Anthropic-Version") != "" || r.Header.Get("X-Api-Key") != "" {
			return Route{Family: FamilyAnthropic, Endpoint: "models", Model: id}, true
		}
		return Route{Family: FamilyOpenAI, Endpoint: "models", Model: id}, true
	case r.Method == http.MethodGet && (path == "/v1beta/models" || strings.HasPrefix(path, "/v1beta/models/")):
		id := strings.TrimPrefix(strings.TrimPrefix(path, "/v1beta/models"), "/")
		if strings.Contains(id, ":") {
			return Route{}, false
		}
		return Route{Family: FamilyGemini, Endpoint: "models", Model: id}, true
	}
	return resolveGemini(r)
}

// resolveGemini matches /v1beta/models/{model}:{action} (and /v1/…), the
// Gemini API's way of naming the model in the path.
func resolveGemini(r *http.Request) (Route, bool) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1beta/models/")
	if !ok {
		rest, ok = strings.CutPrefix(r.URL.Path, "/v1/models/")
	}
	if !ok || r.Method != http.MethodPost {
		return Route{}, false
	}
	model, action, ok := strings.Cut(rest, ":")
	if !ok || !pathModel(model) {
		return Route{}, false
	}
	switch action {
	case "generateContent", "streamGenerateContent", "countTokens", "embedContent", "batchEmbedContents":
		return Route{Family: FamilyGemini, Endpoint: action, Model: model, HasBody: true}, true
	}
	return Route{}, false
}

// pathServes reports whether c may serve a model the route's path names:
// a name with a slash there ("team-a/gemini-2.5-pro") is for a credential
// with that prefix alone, so that no upstream path gets a segment the
// client chose.
func (r Route) pathServes(c *auth.Credential) bool {
	return c.Prefix != "" || !strings.Contains(r.Model, "/")
}

// pathModel reports whether a Gemini path names a model: one segment, or a
// credential prefix and one segment ("team-a/gemini-2.5-pro").
func pathModel(model string) bool {
	prefix, name, prefixed := strings.Cut(model, "/")
	if !prefixed {
		return model != ""
	}
	return prefix != "" && name != "" && !strings.Contains(name, "/")
}
