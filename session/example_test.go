package session_test

import (
	"fmt"
	"net/http"

	"github.com/caddy-cliproxy/cliproxy/session"
)

func ExampleExtract() {
	// Claude Code names its session in a header.
	h := http.Header{}
	h.Set("X-Claude-Code-Session-Id", "6f1c2d3e-4b5a-4978-8a1b-2c3d4e5f6a7b")
	fmt.Println(session.Extract(h, nil, "alice").ID)

	// Codex CLI in HTTP mode: the Session-Id header wins over the
	// prompt_cache_key that carries the same UUID.
	h = http.Header{}
	h.Set("Session-Id", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
	body := []byte(`{"model":"gpt-5.5","prompt_cache_key":"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","input":"say hi"}`)
	fmt.Println(session.Extract(h, body, "alice").ID)

	// Gemini CLI names no session: the conversation is hashed. Turn 2's
	// fallback is turn 1's ID, so turn 2 can inherit turn 1's binding.
	turn1 := []byte(`{"systemInstruction":{"parts":[{"text":"Be brief."}]},
		"contents":[{"role":"user","parts":[{"text":"say hi"}]}]}`)
	turn2 := []byte(`{"systemInstruction":{"parts":[{"text":"Be brief."}]},
		"contents":[{"role":"user","parts":[{"text":"say hi"}]},
		{"role":"model","parts":[{"text":"Hi!"}]},
		{"role":"user","parts":[{"text":"again"}]}]}`)
	first := session.Extract(nil, turn1, "alice")
	second := session.Extract(nil, turn2, "alice")
	fmt.Println(first.ID.Source, first.Fallback.IsZero())
	fmt.Println(second.ID != first.ID, second.Fallback == first.ID)

	// The same opening from another member is another session.
	fmt.Println(session.Extract(nil, turn1, "bob").ID != first.ID)
	// Output:
	// claude-code:6f1c2d3e-4b5a-4978-8a1b-2c3d4e5f6a7b
	// codex:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
	// hash true
	// true true
	// true
}
