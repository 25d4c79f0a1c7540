package session_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/session"
)

// A conversation in one body format: the body of each turn, built from the
// system prompt and the user/assistant texts so far.
type format struct {
	name string
	body func(system string, turns []string) string
}

// q quotes s as a JSON string.
func q(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func joinItems(items []string) string { return "[" + strings.Join(items, ",") + "]" }

var formats = []format{
	{"openai chat", func(system string, turns []string) string {
		items := []string{`{"role":"system","content":` + q(system) + `}`}
		for i, t := range turns {
			if i%2 == 0 {
				items = append(items, `{"role":"user","content":[{"type":"text","text":`+q(t)+`},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}`)
			} else {
				items = append(items, `{"role":"assistant","content":`+q(t)+`,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}`,
					`{"role":"tool","tool_call_id":"c1","content":"tool output"}`)
			}
		}
		return `{"model":"gpt-5","messages":` + joinItems(items) + `,"stream":true}`
	}},
	{"claude", func(system string, turns []string) string {
		var items []string
		for i, t := range turns {
			if i%2 == 0 {
				items = append(items, `{"role":"user","content":[{"type":"text","text":`+q(t)+`,"cache_control":{"type":"ephemeral"}}]}`)
			} else {
				items = append(items, `{"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"text","text":`+q(t)+`},{"type":"tool_use","id":"t1","name":"f","input":{}}]}`)
			}
		}
		return `{"model":"claude-sonnet-4-5","messages":` + joinItems(items) + `,"system":[{"type":"text","text":` + q(system) + `,"cache_control":{"type":"ephemeral"}}],"max_tokens":1024}`
	}},
	{"gemini", func(system string, turns []string) string {
		var items []string
		for i, t := range turns {
			if i%2 == 0 {
				items = append(items, `{"role":"user","parts":[{"text":`+q(t)+`},{"inlineData":{"mimeType":"image/png","data":"AAAA"}}]}`)
			} else {
				items = append(items, `{"role":"model","parts":[{"text":"thinking about it","thought":true},{"text":`+q(t)+`},{"functionCall":{"name":"f","args":{}}}]}`)
			}
		}
		return `{"contents":` + joinItems(items) + `,"systemInstruction":{"parts":[{"text":` + q(system) + `}]},"generationConfig":{"temperature":1}}`
	}},
	{"openai responses", func(system string, turns []string) string {
		var items []string
		for i, t := range turns {
			if i%2 == 0 {
				items = append(items, `{"type":"message","role":"user","content":[{"type":"input_text","text":`+q(t)+`},{"type":"input_image","image_url":"data:image/png;base64,AAAA"}]}`)
			} else {
				items = append(items,
					`{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"thinking"}],"encrypted_content":"gAAA"}`,
					`{"role":"assistant","content":[{"type":"output_text","text":`+q(t)+`}]}`,
					`{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"}`,
					`{"type":"function_call_output","call_id":"c1","output":"tool output"}`)
			}
		}
		return `{"model":"gpt-5.5","instructions":` + q(system) + `,"input":` + joinItems(items) + `,"stream":true}`
	}},
}

func hashOf(t *testing.T, body, principal string) session.Identity {
	t.Helper()
	id := extract(t, nil, []byte(body), principal)
	if !id.ID.IsZero() {
		require.Equal(t, session.SourceHash, id.ID.Source)
		require.Regexp(t, `^[0-9a-f]{16}$`, id.ID.Value)
	}
	if !id.Fallback.IsZero() {
		require.Equal(t, session.SourceHash, id.Fallback.Source)
		require.Regexp(t, `^[0-9a-f]{16}$`, id.Fallback.Value)
	}
	return id
}

func TestHashTurns(t *testing.T) {
	const system = "You are a helpful assistant.\nBe brief."
	turns := []string{"What is 2+2?", "4.", "And 3+3?", "6.", "Thanks!"}
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			turn1 := hashOf(t, f.body(system, turns[:1]), "alice")
			turn2 := hashOf(t, f.body(system, turns[:3]), "alice")
			turn3 := hashOf(t, f.body(system, turns[:5]), "alice")

			require.False(t, turn1.ID.IsZero())
			assert.True(t, turn1.Fallback.IsZero(), "no assistant message yet, so no fallback")

			assert.NotEqual(t, turn1.ID, turn2.ID, "turn 2 hashes the first answer too")
			assert.Equal(t, turn1.ID, turn2.Fallback, "turn 2 finds turn 1's session through its fallback")

			assert.Equal(t, turn2.ID, turn3.ID, "the first answer does not change, so neither does the session")
			assert.Equal(t, turn2.Fallback, turn3.Fallback)

			// a pending assistant reply (turn 1 plus the answer, no new
			// question) already has the turn-2 identity
			reply := hashOf(t, f.body(system, turns[:2]), "alice")
			assert.Equal(t, turn2, reply)

			other := hashOf(t, f.body(system, []string{"What is 5+5?"}), "alice")
			assert.NotEqual(t, turn1.ID, other.ID, "another opening question is another session")
			otherSystem := hashOf(t, f.body("You are terse.", turns[:1]), "alice")
			assert.NotEqual(t, turn1.ID, otherSystem.ID, "another system prompt is another session")
			otherAnswer := hashOf(t, f.body(system, []string{turns[0], "Four.", turns[2]}), "alice")
			assert.NotEqual(t, turn2.ID, otherAnswer.ID, "another first answer is another session")
			assert.Equal(t, turn1.ID, otherAnswer.Fallback, "…that forked from the same turn 1")
		})
	}
}

// The same words give the same session whatever the body format: only the
// text is hashed, and non-text content is left out.
func TestHashSameAcrossFormats(t *testing.T) {
	turns := []string{"hello", "hi there", "bye"}
	var ids []session.Identity
	for _, f := range formats {
		ids = append(ids, hashOf(t, f.body("sys", turns), "alice"))
	}
	for i := 1; i < len(ids); i++ {
		assert.Equal(t, ids[0], ids[i], formats[i].name)
	}
	plain := hashOf(t, `{"messages":[{"role":"system","content":"sys"},{"role":"user","content":"hello"},{"role":"assistant","content":"hi there"}]}`, "alice")
	assert.Equal(t, ids[0], plain)
}

func TestHashPrincipalScopes(t *testing.T) {
	body := formats[1].body("sys", []string{"hello", "hi", "more"})
	alice := hashOf(t, body, "alice")
	bob := hashOf(t, body, "bob")
	assert.NotEqual(t, alice.ID, bob.ID)
	assert.NotEqual(t, alice.Fallback, bob.Fallback)
	assert.NotEqual(t, alice.ID, hashOf(t, body, "").ID)
	// the principal is framed too
	assert.NotEqual(t,
		hashOf(t, `{"system":"b","messages":[{"role":"user","content":"x"}]}`, "a").ID,
		hashOf(t, `{"system":"","messages":[{"role":"user","content":"x"}]}`, "ab").ID)
}

func TestHashFieldBoundaries(t *testing.T) {
	chat := func(system, user, assistant string) string {
		return `{"messages":[{"role":"system","content":` + q(system) + `},{"role":"user","content":` + q(user) + `},{"role":"assistant","content":` + q(assistant) + `}]}`
	}
	seen := map[string]string{}
	for _, c := range [][3]string{
		{"ab", "c", ""},
		{"a", "bc", ""},
		{"", "abc", ""},
		{"abc", "", ""},
		{"", "ab", "c"},
		{"", "a", "bc"},
		{"a", "b", "c"},
		{"", "", "abc"},
	} {
		id := hashOf(t, chat(c[0], c[1], c[2]), "p").ID.Value
		other, dup := seen[id]
		assert.False(t, dup, "%q and %q hash the same", c, other)
		seen[id] = fmt.Sprint(c)
	}
}

func TestHashContentForms(t *testing.T) {
	claude := func(system, content string) string {
		return `{"system":` + system + `,"messages":[{"role":"user","content":` + content + `}]}`
	}
	base := hashOf(t, claude(`"You are X."`, `"hi"`), "p")
	same := map[string]string{
		"system as one block":     claude(`[{"type":"text","text":"You are X."}]`, `"hi"`),
		"system as blocks":        claude(`[{"type":"text","text":"You are "},{"type":"text","text":"X."}]`, `"hi"`),
		"system with cache hints": claude(`[{"type":"text","text":"You are X.","cache_control":{"type":"ephemeral","ttl":"1h"}}]`, `"hi"`),
		"content as a block":      claude(`"You are X."`, `[{"type":"text","text":"hi"}]`),
		"content with an image":   claude(`"You are X."`, `[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}},{"type":"text","text":"hi"}]`),
		"content with a document": claude(`"You are X."`, `[{"type":"text","text":"hi"},{"type":"document","source":{"type":"text","media_type":"text/plain","data":"doc"}}]`),
		"escapes decoded":         claude(`"You are \u0058\u002e"`, `"\u0068i"`),
		"whitespace between":      "{ \"system\" : \"You are X.\" ,\n\t\"messages\" : [ { \"role\" : \"user\" , \"content\" : [ { \"type\" : \"text\" , \"text\" : \"hi\" } ] } ] }",
		"openai chat":             `{"messages":[{"role":"system","content":"You are X."},{"role":"user","content":"hi"}]}`,
		"openai developer role":   `{"messages":[{"role":"developer","content":[{"type":"text","text":"You are X."}]},{"role":"user","content":"hi"}]}`,
		"openai system in parts":  `{"messages":[{"role":"system","content":"You are "},{"role":"developer","content":"X."},{"role":"user","content":"hi"}]}`,
		"gemini":                  `{"systemInstruction":{"role":"system","parts":[{"text":"You are X."}]},"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`,
		"gemini snake case":       `{"system_instruction":{"parts":[{"text":"You are X."}]},"contents":[{"parts":[{"text":"hi"}]}]}`,
		"gemini without role":     `{"systemInstruction":{"parts":[{"text":"You are X."}]},"contents":[{"parts":[{"text":"h"},{"text":"i"}]}]}`,
		"responses string input":  `{"instructions":"You are X.","input":"hi"}`,
		"responses typed":         `{"instructions":"You are X.","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}]}`,
		"responses untyped":       `{"instructions":"You are X.","input":[{"role":"user","content":"hi"}]}`,
		"responses developer":     `{"input":[{"role":"developer","content":"You are X."},{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}]}`,
		"responses with extras":   `{"instructions":"You are X.","input":[{"type":"reasoning","summary":[{"type":"summary_text","text":"r"}]},{"type":"item_reference","id":"x"},{"role":"user","content":[{"type":"input_text","text":"hi"},{"type":"input_file","file_id":"f"}]}]}`,
	}
	for name, body := range same {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, base, hashOf(t, body, "p"))
		})
	}
	differ := map[string]string{
		"other system":               claude(`"You are Y."`, `"hi"`),
		"no system":                  `{"messages":[{"role":"user","content":"hi"}]}`,
		"text in a tool result":      claude(`"You are X."`, `[{"type":"tool_result","tool_use_id":"t","content":"hi"}]`),
		"refusal is not text":        `{"instructions":"You are X.","input":[{"role":"user","content":[{"type":"refusal","refusal":"hi"}]}]}`,
		"summary_text is not text":   `{"instructions":"You are X.","input":[{"role":"user","content":[{"type":"summary_text","text":"hi"}]}]}`,
		"gemini thought is not text": `{"systemInstruction":{"parts":[{"text":"You are X."}]},"contents":[{"role":"user","parts":[{"text":"hi","thought":true}]}]}`,
	}
	for name, body := range differ {
		t.Run(name, func(t *testing.T) {
			id := hashOf(t, body, "p")
			assert.NotEqual(t, base.ID, id.ID)
		})
	}
}

// Only the system messages before the walk stops count; the walk stops
// once it has a user and an assistant message.
func TestHashStopsAtFirstExchange(t *testing.T) {
	turn1 := hashOf(t, `{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"system","content":"late"}]}`, "p")
	turn2 := hashOf(t, `{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"system","content":"late"},{"role":"assistant","content":"a"},{"role":"system","content":"later"},{"role":"user","content":"u2"}]}`, "p")
	turn3 := hashOf(t, `{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"system","content":"late"},{"role":"assistant","content":"a"},{"role":"system","content":"later"},{"role":"user","content":"u2"},{"role":"system","content":"even later"},{"role":"assistant","content":"a2"}]}`, "p")
	assert.Equal(t, turn1.ID, turn2.Fallback)
	assert.Equal(t, turn2, turn3)
	// only the first user and the first assistant message count
	assert.Equal(t, turn2, hashOf(t, `{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"system","content":"late"},{"role":"assistant","content":"a"},{"role":"user","content":"different"},{"role":"assistant","content":"different"}]}`, "p"))
	// an assistant message may come first (a greeting)
	greet := hashOf(t, `{"messages":[{"role":"assistant","content":"Hello!"},{"role":"user","content":"u"}]}`, "p")
	assert.False(t, greet.ID.IsZero())
	assert.False(t, greet.Fallback.IsZero())
	assert.Equal(t, greet, hashOf(t, `{"messages":[{"role":"assistant","content":"Hello!"},{"role":"user","content":"u"},{"role":"assistant","content":"a"}]}`, "p"))
}

func TestHashNoConversation(t *testing.T) {
	for name, body := range map[string]string{
		"no body":                    ``,
		"empty object":               `{}`,
		"model only":                 `{"model":"m","stream":true}`,
		"empty messages":             `{"system":"s","messages":[]}`,
		"system messages only":       `{"messages":[{"role":"system","content":"s"}]}`,
		"assistant only":             `{"messages":[{"role":"assistant","content":"a"}]}`,
		"tool messages only":         `{"messages":[{"role":"tool","content":"t"}]}`,
		"messages without role":      `{"messages":[{"content":"x"}]}`,
		"messages not an array":      `{"messages":"hello"}`,
		"messages null":              `{"messages":null}`,
		"empty contents":             `{"systemInstruction":{"parts":[{"text":"s"}]},"contents":[]}`,
		"gemini model only":          `{"contents":[{"role":"model","parts":[{"text":"a"}]}]}`,
		"responses empty input":      `{"instructions":"s","input":[]}`,
		"responses reasoning only":   `{"input":[{"type":"reasoning","summary":[]},{"type":"function_call_output","call_id":"c","output":"o"}]}`,
		"responses input not text":   `{"input":42}`,
		"responses typed non-user":   `{"input":[{"type":"function_call","role":"user","arguments":"{}"}]}`,
		"instructions only":          `{"instructions":"s"}`,
		"prompt (legacy completion)": `{"prompt":"hello"}`,
		"truncated":                  `{"messages":[{"role":"user","content":"hel`,
	} {
		t.Run(name, func(t *testing.T) {
			id := hashOf(t, body, "p")
			assert.True(t, id.ID.IsZero(), "got %v", id.ID)
			assert.True(t, id.Fallback.IsZero())
		})
	}
}

// A user message without text (an image alone) is still the opening
// message: the session hashes the system prompt and the empty text.
func TestHashUserWithoutText(t *testing.T) {
	img := hashOf(t, `{"system":"s","messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]}]}`, "p")
	assert.False(t, img.ID.IsZero())
	assert.Equal(t, img, hashOf(t, `{"system":"s","messages":[{"role":"user","content":""}]}`, "p"))
}

// The format is chosen by the first conversation field present in this
// order: messages, contents, input.
func TestHashFormatPrecedence(t *testing.T) {
	chat := hashOf(t, `{"messages":[{"role":"user","content":"m"}]}`, "p")
	gemini := hashOf(t, `{"contents":[{"parts":[{"text":"c"}]}]}`, "p")
	responses := hashOf(t, `{"input":"i"}`, "p")
	assert.Equal(t, chat, hashOf(t, `{"input":"i","contents":[{"parts":[{"text":"c"}]}],"messages":[{"role":"user","content":"m"}]}`, "p"))
	assert.Equal(t, gemini, hashOf(t, `{"input":"i","contents":[{"parts":[{"text":"c"}]}]}`, "p"))
	assert.Equal(t, responses, hashOf(t, `{"input":"i","messages":"not an array"}`, "p"))
	// the system field of another format does not count
	assert.Equal(t, gemini, hashOf(t, `{"system":"s","instructions":"i","contents":[{"parts":[{"text":"c"}]}]}`, "p"))
}

// The hash is part of the binding keys, which may outlive a process; it
// must not change by accident.
func TestHashStable(t *testing.T) {
	id := extract(t, nil, []byte(`{"system":"You are X.","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}`), "alice")
	assert.Equal(t, session.Identity{
		ID:       session.ID{Source: session.SourceHash, Value: "cdf891bbf1479907"},
		Fallback: session.ID{Source: session.SourceHash, Value: "6a901787423b2942"},
	}, id)
}
