package auth

import (
	"fmt"
	"strings"
)

// Provider names the upstream API family a credential talks to.
type Provider string

// The providers a credential may name.
const (
	Claude           Provider = "claude"
	OpenAI           Provider = "openai"
	OpenAICompatible Provider = "openai-compatible"
	Gemini           Provider = "gemini"
	// Codex is a ChatGPT account used through the Codex backend (OAuth).
	Codex Provider = "codex"
	// GeminiCLI is a Google account used through Gemini Code Assist
	// (OAuth), one credential per Cloud project.
	GeminiCLI Provider = "gemini-cli"
)

// Providers lists every provider a configured credential may name (API
// keys); Codex and GeminiCLI come from OAuth credential files.
var Providers = []Provider{Claude, OpenAI, OpenAICompatible, Gemini}

// ParseProvider returns the provider called name (case-insensitive).
func ParseProvider(name string) (Provider, error) {
	p := Provider(strings.ToLower(strings.TrimSpace(name)))
	for _, known := range Providers {
		if p == known {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown provider %q (want one of claude, openai, openai-compatible, gemini)", name)
}

// DefaultBaseURL is the upstream a credential of this provider talks to when
// it sets no base URL of its own. OpenAI-compatible hosts have none.
func (p Provider) DefaultBaseURL() string {
	switch p {
	case Claude:
		return "https://api.anthropic.com"
	case OpenAI:
		return "https://api.openai.com/v1"
	case Gemini:
		return "https://generativelanguage.googleapis.com"
	case Codex:
		return "https://chatgpt.com/backend-api/codex"
	case GeminiCLI:
		return "https://cloudcode-pa.googleapis.com"
	}
	return ""
}
