package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// clientKey is the key the load generator presents to both Caddys; plain
// Caddy replaces it with its static upstream key, cliproxy checks it and
// injects one of its credentials' keys.
const clientKey = "sk-bench-client-key"

// workload is one kind of request the load generator sends: a body per
// session, so cliproxy sees as many conversations as there are sessions.
type workload struct {
	Name   string
	bodies [][]byte
	ids    []string
}

// newWorkload builds sessions bodies of about size bytes, each a Claude
// Code request of its own session: the system prompt as text blocks with
// cache_control, tools, the conversation, thinking settings and
// metadata.user_id in Claude Code's JSON form.
func newWorkload(name string, size, sessions int) workload {
	w := workload{Name: name}
	for i := 0; i < sessions; i++ {
		id := fmt.Sprintf("5d3c6a1e-%04x-4b7e-9f21-%012x", i, 0xbe4c0000+i)
		w.ids = append(w.ids, id)
		w.bodies = append(w.bodies, claudeCodeRequest(id, size))
	}
	return w
}

// size is the body size of the workload's first session.
func (w workload) size() int { return len(w.bodies[0]) }

// prose is text like a coding conversation's, with the quotes, tabs and
// newlines that JSON escapes.
func prose(seed, n int) string {
	parts := []string{
		"The loader reads the configuration and returns an error when the file is missing. ",
		"func (s *Server) Start(ctx context.Context) error {\n\tif s.addr == \"\" {\n\t\treturn errors.New(\"no address\")\n\t}\n\treturn s.listen(ctx)\n}\n",
		"Let me read `server_test.go` before I change anything. ",
		"$ go test ./...\nok  \texample.com/server\t0.412s\n",
		"I'll make the handler log the \"request_id\" field as well. ",
	}
	var b strings.Builder
	for i := seed; b.Len() < n; i++ {
		b.WriteString(parts[i%len(parts)])
	}
	return b.String()
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func claudeCodeRequest(sessionID string, size int) []byte {
	cache := map[string]any{"type": "ephemeral"}
	system := []any{
		map[string]any{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.330; cc_entrypoint=cli;"},
		map[string]any{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.", "cache_control": cache},
		map[string]any{"type": "text", "text": prose(2, 14000), "cache_control": cache},
	}
	tools := make([]any, 12)
	for i := range tools {
		tools[i] = map[string]any{
			"name":        fmt.Sprintf("Tool%d", i),
			"description": prose(i, 1900),
			"input_schema": map[string]any{
				"type":                 "object",
				"properties":           map[string]any{"file_path": map[string]any{"type": "string", "description": "The absolute path to the file"}},
				"required":             []string{"file_path"},
				"additionalProperties": false,
				"$schema":              "http://json-schema.org/draft-07/schema#",
			},
		}
	}
	userID := jsonOf(map[string]any{
		"device_id":    strings.Repeat("a1b2c3d4", 8),
		"account_uuid": "",
		"session_id":   sessionID,
	})
	head := `{"model":"claude-sonnet-4-5","max_tokens":32000,"stream":true,"thinking":{"type":"enabled","budget_tokens":31999},` +
		`"metadata":` + jsonOf(map[string]any{"user_id": userID}) +
		`,"system":` + jsonOf(system) + `,"tools":` + jsonOf(tools) + `,"messages":[`
	var msgs []string
	n := len(head)
	for i := 0; n < size-2 || len(msgs) == 0; i++ {
		role, text := "user", prose(i, 2000)
		if i == 0 {
			text = "<system-reminder>\n" + prose(1, 1500) + "\n</system-reminder>\nFix the failing test in server_test.go"
		}
		if i%2 == 1 {
			role = "assistant"
		}
		m := jsonOf(map[string]any{"role": role, "content": []any{map[string]any{"type": "text", "text": text}}})
		if n+len(m)+1 > size-2 && len(msgs) > 0 && i%2 == 1 {
			break // the conversation ends on a user turn
		}
		msgs = append(msgs, m)
		n += len(m) + 1
	}
	return []byte(head + strings.Join(msgs, ",") + "]}")
}

// setClaudeCodeHeaders sets the headers Claude Code sends (REAL_CLIENTS.md).
func setClaudeCodeHeaders(h http.Header, sessionID string) {
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	h.Set("X-Api-Key", clientKey)
	h.Set("Anthropic-Version", "2023-06-01")
	h.Set("Anthropic-Beta", "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14,context-management-2025-06-27")
	h.Set("Anthropic-Dangerous-Direct-Browser-Access", "true")
	h.Set("User-Agent", "claude-cli/2.1.330 (external, sdk-cli)")
	h.Set("X-App", "cli")
	h.Set("X-Claude-Code-Session-Id", sessionID)
	h.Set("X-Stainless-Lang", "js")
	h.Set("X-Stainless-Package-Version", "0.70.0")
	h.Set("X-Stainless-Os", "Linux")
	h.Set("X-Stainless-Arch", "x64")
	h.Set("X-Stainless-Runtime", "node")
	h.Set("X-Stainless-Runtime-Version", "v20.19.0")
	h.Set("X-Stainless-Retry-Count", "0")
	h.Set("X-Stainless-Timeout", "600")
}
