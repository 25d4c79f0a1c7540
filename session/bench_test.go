package session_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-cliproxy/cliproxy/session"
)

// benchText returns about n bytes of text like a coding conversation's:
// prose, and code with quotes, tabs and newlines that JSON must escape.
func benchText(seed, n int) string {
	pieces := []string{
		"The function reads the configuration and returns an error when the file is missing. ",
		"func (s *Server) Start(ctx context.Context) error {\n\tif s.addr == \"\" {\n\t\treturn errors.New(\"no address\")\n\t}\n\treturn nil\n}\n",
		"Let me check the tests in `server_test.go` before changing anything. ",
		"$ go test ./...\nok  \tgithub.com/example/server\t0.412s\n",
		"I'll update the handler so that it logs the \"request_id\" field. ",
	}
	var b strings.Builder
	for i := seed; b.Len() < n; i++ {
		b.WriteString(pieces[i%len(pieces)])
	}
	return b.String()
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// claudeCodeBody is a body shaped like Claude Code's (REAL_CLIENTS.md):
// system as text blocks with cache_control, 12 tools, the messages, and
// metadata.user_id as a JSON string, about 50 KB in all.
func claudeCodeBody(withMetadata bool) []byte {
	tools := make([]any, 12)
	for i := range tools {
		tools[i] = map[string]any{
			"name":        fmt.Sprintf("Tool%d", i),
			"description": benchText(i, 1800),
			"input_schema": map[string]any{
				"type": "object",
				"properties": map[string]any{
					"file_path": map[string]any{"type": "string", "description": "The absolute path to the file"},
					"content":   map[string]any{"type": "string", "description": "The content to write"},
					"limit":     map[string]any{"type": "number", "description": "The number of lines to read"},
				},
				"required":             []string{"file_path"},
				"additionalProperties": false,
				"$schema":              "http://json-schema.org/draft-07/schema#",
			},
		}
	}
	ephemeral := map[string]any{"type": "ephemeral"}
	body := `{"model":"claude-sonnet-4-5","messages":` + mustJSON([]any{
		map[string]any{"role": "user", "content": []any{
			map[string]any{"type": "text", "text": "<system-reminder>\n" + benchText(1, 3000) + "\n</system-reminder>"},
			map[string]any{"type": "text", "text": "Fix the failing test in server_test.go", "cache_control": ephemeral},
		}},
	}) + `,"temperature":1,"system":` + mustJSON([]any{
		map[string]any{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.330; cc_entrypoint=cli;"},
		map[string]any{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.", "cache_control": ephemeral},
		map[string]any{"type": "text", "text": benchText(2, 20000), "cache_control": ephemeral},
	}) + `,"tools":` + mustJSON(tools)
	if withMetadata {
		body += `,"metadata":` + mustJSON(meta(jsonUserID(uuidA)))
	}
	return []byte(body + `,"max_tokens":32000,"thinking":{"type":"enabled","budget_tokens":31999},"stream":true}`)
}

// longConversation is a conversation of about size bytes in the given
// format: a 4 KB system prompt and turns of about 2 KB until the size is
// reached.
func longConversation(f format, size int) []byte {
	var turns []string
	n := 0
	for i := 0; n < size; i++ {
		t := benchText(i, 2000)
		turns = append(turns, t)
		n += len(t) + 250 // about what the format adds around each turn
	}
	return []byte(f.body(benchText(7, 4000), turns))
}

func BenchmarkExtract(b *testing.B) {
	run := func(name string, h http.Header, body []byte, want session.Source) {
		b.Run(name, func(b *testing.B) {
			if got := session.Extract(h, body, "alice").ID.Source; got != want {
				b.Fatalf("source %q, want %q", got, want)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				session.Extract(h, body, "alice")
			}
		})
	}
	cc := claudeCodeBody(true)
	b.Logf("Claude Code body: %d bytes", len(cc))
	run("claude-code-50KB/header", headers("X-Claude-Code-Session-Id", uuidA), cc, session.SourceClaudeCode)
	run("claude-code-50KB/metadata", nil, cc, session.SourceClaudeCode)
	run("claude-code-50KB/hash", nil, claudeCodeBody(false), session.SourceHash)
	for _, f := range formats {
		body := longConversation(f, 1<<20)
		b.Logf("%s body: %d bytes", f.name, len(body))
		run(strings.ReplaceAll(f.name, " ", "-")+"-1MB/hash", nil, body, session.SourceHash)
	}
	// Codex names its session in a header, but a Claude Code user_id in
	// the body would outrank it, so the whole body is still walked.
	responses := longConversation(formats[3], 1<<20)
	run("openai-responses-1MB/codex-header", headers("Session-Id", uuidB), responses, session.SourceCodex)
}
