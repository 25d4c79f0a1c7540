package access_test

import (
	"net/http"
	"testing"

	"github.com/caddy-cliproxy/cliproxy/access"
)

// BenchmarkStripClientCredentials strips Claude Code's request headers,
// as every request through the gateway does.
func BenchmarkStripClientCredentials(b *testing.B) {
	h := http.Header{}
	for _, name := range []string{
		"Accept", "Anthropic-Beta", "Anthropic-Dangerous-Direct-Browser-Access", "Anthropic-Version",
		"Content-Type", "User-Agent", "X-Api-Key", "X-App", "X-Claude-Code-Session-Id",
		"X-Stainless-Arch", "X-Stainless-Lang", "X-Stainless-Os", "X-Stainless-Package-Version",
		"X-Stainless-Retry-Count", "X-Stainless-Runtime", "X-Stainless-Runtime-Version", "X-Stainless-Timeout",
	} {
		h.Set(name, "v")
	}
	r, _ := http.NewRequest(http.MethodPost, "http://gateway/v1/messages", nil)
	b.ReportAllocs()
	for b.Loop() {
		r.Header = h.Clone()
		access.StripClientCredentials(r)
	}
}
