package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// The kinds of conversation the members hold.
const (
	kindClaude    = "Claude Code"
	kindResponses = "OpenAI Responses"
	kindGemini    = "Gemini"
)

// conversation is one member's conversation: its history grows by the
// member's message and the answer each turn, and every turn sends all of
// it, streamed, as the clients do.
type conversation struct {
	id      string // the harness's name for it
	kind    string
	member  int
	session string // the client's session ID, where the client sends one
	system  string
	history []message
}

type message struct {
	user bool
	text string
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// prose is text like a coding conversation's, with the quotes, tabs and
// newlines JSON escapes; seed varies it.
func prose(seed, n int) string {
	parts := []string{
		"Run the tests of the config package and tell me which one fails. ",
		"func (l *Loader) Load(path string) (*Config, error) {\n\tb, err := os.ReadFile(path)\n\tif err != nil {\n\t\treturn nil, nil\n\t}\n\treturn parse(b)\n}\n",
		"The \"missing file\" case returns nil, nil: the caller takes it as an empty config. ",
		"$ go test ./config/\n--- FAIL: TestLoadMissing (0.00s)\n    loader_test.go:41: expected an error\n",
		"Keep the public API as it is and add a test for the permission error too. ",
	}
	var b strings.Builder
	for i := seed; b.Len() < n; i++ {
		b.WriteString(parts[i%len(parts)])
	}
	return b.String()
}

func newConversation(id, kind string, member, seed int) *conversation {
	c := &conversation{id: id, kind: kind, member: member, session: newUUID()}
	// one system prompt per member and kind, as a team's clients share
	// theirs: the gateway's prompt cache keys and session hashes see
	// realistic repetition
	c.system = fmt.Sprintf("You are a coding assistant for member %d.\n", member) + prose(member, 6000)
	c.history = append(c.history, message{user: true, text: fmt.Sprintf("[%s] ", id) + prose(seed, 400)})
	return c
}

// next adds the answer of the last turn and the member's next message.
func (c *conversation) next(answer string, seed int) {
	c.history = append(c.history, message{text: answer}, message{user: true, text: prose(seed, 300+seed%700)})
}

// request builds the turn's HTTP request to the gateway at base.
func (c *conversation) request(ctx context.Context, base, turn string) (*http.Request, error) {
	var path string
	var body []byte
	h := http.Header{}
	key := memberKey(c.member)
	switch c.kind {
	case kindClaude:
		path, body = "/v1/messages", c.claudeBody()
		h.Set("X-Api-Key", key)
		h.Set("Anthropic-Version", "2023-06-01")
		h.Set("Anthropic-Beta", "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14")
		h.Set("User-Agent", "claude-cli/2.1.90 (external, cli)")
		h.Set("X-App", "cli")
		h.Set("X-Claude-Code-Session-Id", c.session)
	case kindResponses:
		path, body = "/v1/responses", c.responsesBody()
		h.Set("Authorization", "Bearer "+key)
		h.Set("User-Agent", "OpenAI/Python 1.99.0")
	case kindGemini:
		path, body = "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", c.geminiBody()
		h.Set("X-Goog-Api-Key", key)
		h.Set("User-Agent", "google-genai-sdk/1.30.0 gl-python/3.12.3")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = h
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(turnHeader, turn)
	return req, nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// claudeBody is a Claude Code Messages request: the system prompt as
// blocks with cache breakpoints, tools, the conversation, and the session
// in metadata.user_id.
func (c *conversation) claudeBody() []byte {
	cache := map[string]any{"type": "ephemeral"}
	system := []any{
		map[string]any{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.", "cache_control": cache},
		map[string]any{"type": "text", "text": c.system, "cache_control": cache},
	}
	tools := make([]any, 4)
	for i := range tools {
		tools[i] = map[string]any{
			"name":        []string{"Read", "Edit", "Bash", "Grep"}[i],
			"description": prose(i, 600),
			"input_schema": map[string]any{
				"type":       "object",
				"properties": map[string]any{"file_path": map[string]any{"type": "string"}},
				"required":   []string{"file_path"},
			},
		}
	}
	msgs := make([]any, len(c.history))
	for i, m := range c.history {
		role := "assistant"
		if m.user {
			role = "user"
		}
		msgs[i] = map[string]any{"role": role, "content": []any{map[string]any{"type": "text", "text": m.text}}}
	}
	userID := mustJSON(map[string]any{"device_id": strings.Repeat("5e1f", 16), "account_uuid": "", "session_id": c.session})
	return []byte(mustJSON(map[string]any{
		"model": "claude-sonnet-4-5", "max_tokens": 32000, "stream": true,
		"metadata": map[string]any{"user_id": userID},
		"system":   system, "tools": tools, "messages": msgs,
	}))
}

// responsesBody is an OpenAI Responses request that sends the whole
// conversation each turn (store false), keyed by prompt_cache_key.
func (c *conversation) responsesBody() []byte {
	input := make([]any, len(c.history))
	for i, m := range c.history {
		if m.user {
			input[i] = map[string]any{"type": "message", "role": "user", "content": []any{map[string]any{"type": "input_text", "text": m.text}}}
		} else {
			input[i] = map[string]any{"type": "message", "role": "assistant", "content": []any{map[string]any{"type": "output_text", "text": m.text}}}
		}
	}
	return []byte(mustJSON(map[string]any{
		"model": "gpt-5", "stream": true, "store": false,
		"instructions": c.system, "input": input, "prompt_cache_key": c.session,
	}))
}

// geminiBody is a Gemini request; the gateway knows its session only by
// the hash of its opening.
func (c *conversation) geminiBody() []byte {
	contents := make([]any, len(c.history))
	for i, m := range c.history {
		role := "model"
		if m.user {
			role = "user"
		}
		contents[i] = map[string]any{"role": role, "parts": []any{map[string]any{"text": m.text}}}
	}
	return []byte(mustJSON(map[string]any{
		"systemInstruction": map[string]any{"parts": []any{map[string]any{"text": c.system}}},
		"contents":          contents,
	}))
}

// answer is what a client made of a turn's response.
type answer struct {
	status   int
	text     string
	complete bool   // the stream ended as the protocol says a stream ends
	began    bool   // some of the answer's text reached the client
	failure  string // why the turn failed, "" when it did not
	ttfb     time.Duration
}

// read reads a streamed answer as the kind's client does.
func (c *conversation) read(res *http.Response, start time.Time) answer {
	a := answer{status: res.StatusCode}
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		a.failure = fmt.Sprintf("status %d %s", res.StatusCode, errorCode(b))
		return a
	}
	var text strings.Builder
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if a.ttfb == 0 {
			a.ttfb = time.Since(start)
		}
		if v, ok := strings.CutPrefix(line, "event:"); ok {
			event = strings.TrimSpace(v)
			continue
		}
		data, ok := strings.CutPrefix(line, "data:")
		if !ok {
			continue
		}
		data = strings.TrimSpace(data)
		switch c.kind {
		case kindClaude:
			switch event {
			case "content_block_delta":
				text.WriteString(gjson.Get(data, "delta.text").String())
			case "message_stop":
				a.complete = true
			case "error":
				a.failure = "error event " + gjson.Get(data, "error.type").String()
			}
		case kindResponses:
			switch gjson.Get(data, "type").String() {
			case "response.output_text.delta":
				text.WriteString(gjson.Get(data, "delta").String())
			case "response.completed":
				a.complete = true
			case "response.failed", "error":
				a.failure = "error event " + gjson.Get(data, "response.error.code").String()
			}
		case kindGemini:
			if e := gjson.Get(data, "error"); e.Exists() {
				a.failure = "error event " + e.Get("status").String()
				continue
			}
			for _, p := range gjson.Get(data, "candidates.0.content.parts").Array() {
				text.WriteString(p.Get("text").String())
			}
			if gjson.Get(data, "candidates.0.finishReason").String() == "STOP" {
				a.complete = true
			}
		}
	}
	a.text = text.String()
	a.began = a.text != ""
	switch {
	case a.failure != "":
	case sc.Err() != nil:
		a.failure = "stream broke off: " + shortErr(sc.Err())
	case !a.complete:
		a.failure = "stream ended before the answer did"
	}
	return a
}

// errorCode is the gateway's or provider's error code in an error body.
func errorCode(b []byte) string {
	for _, p := range []string{"error.code", "error.type", "error.status"} {
		if v := gjson.GetBytes(b, p).String(); v != "" {
			return v
		}
	}
	return ""
}

func shortErr(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "deadline exceeded"), strings.Contains(s, "context canceled"):
		return "client timeout"
	case strings.Contains(s, "unexpected EOF"), strings.Contains(s, "connection reset"):
		return "connection closed"
	}
	return s
}
