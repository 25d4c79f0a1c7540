package session_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/session"
)

const device = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// legacyUserID is the user_id Claude Code sent before 2.1.78.
func legacyUserID(account, sess string) string {
	return "user_" + device + "_account_" + account + "_session_" + sess
}

// jsonUserID is the user_id Claude Code sends since 2.1.78: JSON inside a
// JSON string.
func jsonUserID(sess string) string {
	return `{"device_id":"` + device + `","account_uuid":"","session_id":"` + sess + `"}`
}

// obj marshals kv pairs (key, value, key, value…) to a JSON object body.
func obj(kv ...any) []byte {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// meta is a metadata object carrying user_id.
func meta(userID string) map[string]any { return map[string]any{"user_id": userID} }

// chatMessages is a minimal OpenAI chat conversation, so a hash is
// available.
var chatMessages = []any{map[string]any{"role": "user", "content": "hello"}}

// extract runs Extract and, when the body is valid JSON (or empty), checks
// it against the reference implementation. On malformed JSON the two may
// differ: gjson reads what it can of a truncated body, Extract stops.
func extract(t *testing.T, h http.Header, body []byte, principal string) session.Identity {
	t.Helper()
	got := session.Extract(h, body, principal)
	if len(body) == 0 || gjson.ValidBytes(body) {
		assert.Equal(t, refExtract(h, body, principal), got, "reference implementation disagrees")
	}
	return got
}

func TestExtractSources(t *testing.T) {
	tests := []struct {
		name       string
		h          http.Header
		body       []byte
		wantSource session.Source
		wantValue  string
	}{
		{"nothing", nil, nil, "", ""},
		{"empty body", headers(), []byte{}, "", ""},
		{"not JSON", headers(), []byte("hello"), "", ""},
		{"claude code header", headers("X-Claude-Code-Session-Id", uuidA), nil, session.SourceClaudeCode, uuidA},
		{"claude code legacy user_id", nil, obj("metadata", meta(legacyUserID(uuidB, uuidA))), session.SourceClaudeCode, uuidA},
		{"claude code legacy user_id, no account", nil, obj("metadata", meta(legacyUserID("", uuidA))), session.SourceClaudeCode, uuidA},
		{"claude code legacy user_id, upper-case hex", nil, obj("metadata", meta(legacyUserID("", strings.ToUpper(uuidA)))), session.SourceClaudeCode, strings.ToUpper(uuidA)},
		{"claude code JSON user_id", nil, obj("metadata", meta(jsonUserID(uuidA))), session.SourceClaudeCode, uuidA},
		{"claude code JSON user_id with account", nil, obj("metadata", meta(`{"device_id":"`+device+`","account_uuid":"`+uuidB+`","session_id":"`+uuidA+`"}`)), session.SourceClaudeCode, uuidA},
		{"codex Session-Id", headers("Session-Id", uuidB), nil, session.SourceCodex, uuidB},
		{"codex session_id", headers("session_id", uuidB), nil, session.SourceCodex, uuidB},
		{"prompt_cache_key", nil, obj("prompt_cache_key", uuidC), session.SourcePromptCacheKey, uuidC},
		{"conversation string", nil, obj("conversation", "conv_123"), session.SourceConversation, "conv_123"},
		{"conversation object", nil, obj("conversation", map[string]any{"id": "conv_456"}), session.SourceConversation, "conv_456"},
		{"X-Session-ID", headers("X-Session-ID", uuidD), nil, session.SourceHeader, uuidD},
		{"user_id in another format", nil, obj("metadata", meta("alice@example.com")), session.SourceUserID, "alice@example.com"},
		{"conversation_id", nil, obj("conversation_id", "c-789"), session.SourceConversationID, "c-789"},
		{"escaped value is decoded", nil, []byte(`{"prompt_cache_key":"a\"b\u00e9\/c"}`), session.SourcePromptCacheKey, `a"bé/c`},
		{"escaped key is decoded", nil, []byte(`{"prompt\u005fcache_key":"k"}`), session.SourcePromptCacheKey, "k"},
		{"first of a repeated key", nil, []byte(`{"conversation_id":"one","conversation_id":"two"}`), session.SourceConversationID, "one"},
		{"nested keys do not count", nil, []byte(`{"x":{"prompt_cache_key":"k","conversation_id":"c"}}`), "", ""},
		{"keys in strings do not count", nil, []byte(`{"x":"\"prompt_cache_key\":\"k\""}`), "", ""},
		{"a top-level array is no body", nil, []byte(`[{"prompt_cache_key":"k"}]`), "", ""},
		{"Idempotency-Key is never a source", headers("Idempotency-Key", uuidA), obj("messages", chatMessages), session.SourceHash, ""},
		{"Idempotency-Key alone is nothing", headers("Idempotency-Key", uuidA), nil, "", ""},
		{"Thread-Id is not a source", headers("Thread-Id", uuidA, "X-Client-Request-Id", uuidB), nil, "", ""},
		{"client_metadata.session_id is not a source", nil, obj("client_metadata", map[string]any{"session_id": uuidA}), "", ""},
		{"hash", nil, obj("messages", chatMessages), session.SourceHash, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := extract(t, tt.h, tt.body, "alice").ID
			if tt.wantSource == "" {
				assert.True(t, id.IsZero(), "got %q", id)
				return
			}
			assert.Equal(t, tt.wantSource, id.Source)
			if tt.wantSource == session.SourceHash {
				assert.Regexp(t, `^[0-9a-f]{16}$`, id.Value)
				return
			}
			assert.Equal(t, tt.wantValue, id.Value)
		})
	}
}

// source is one way of naming a session, applied to a request.
type source struct {
	name   string
	src    session.Source
	header string             // a header to set…
	key    string             // …or a top-level body member
	value  func(v string) any // the member's value for session value v
	// metadata sources share one body member and cannot both be present
	metadata bool
}

var sources = []source{
	{name: "claude code header", src: session.SourceClaudeCode, header: "X-Claude-Code-Session-Id"},
	{
		name: "claude code user_id", src: session.SourceClaudeCode, key: "metadata", metadata: true,
		value: func(v string) any { return meta(jsonUserID(v)) },
	},
	{name: "Session-Id", src: session.SourceCodex, header: "Session-Id"},
	{name: "session_id", src: session.SourceCodex, header: "session_id"},
	{name: "prompt_cache_key", src: session.SourcePromptCacheKey, key: "prompt_cache_key"},
	{name: "conversation", src: session.SourceConversation, key: "conversation"},
	{name: "X-Session-ID", src: session.SourceHeader, header: "X-Session-ID"},
	{
		name: "other user_id", src: session.SourceUserID, key: "metadata", metadata: true,
		value: func(v string) any { return meta(v) },
	},
	{name: "conversation_id", src: session.SourceConversationID, key: "conversation_id"},
	{
		name: "hash", src: session.SourceHash, key: "messages",
		value: func(v string) any { return []any{map[string]any{"role": "user", "content": v}} },
	},
}

// valueFor is a distinct, valid session value for source i; the Claude
// Code user_id needs a UUID.
func valueFor(i int) string {
	return []string{uuidA, uuidB, uuidC, uuidD, "pck-1", "conv-1", "xs-1", "uid-1", "cid-1", "text-1"}[i]
}

// request builds a request carrying the given sources, each with value v(i).
func request(idx []int, v func(i int) string) (http.Header, []byte) {
	h := http.Header{}
	m := map[string]any{}
	for _, i := range idx {
		s := sources[i]
		val := v(i)
		if s.header != "" {
			h.Set(s.header, val)
			continue
		}
		if s.value != nil {
			m[s.key] = s.value(val)
		} else {
			m[s.key] = val
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return h, b
}

func TestExtractOrder(t *testing.T) {
	// the Claude Code user_id must be a UUID; valueFor(1) is one
	require.Len(t, sources, 10)
	for i := range sources {
		for j := i + 1; j < len(sources); j++ {
			if sources[i].metadata && sources[j].metadata {
				continue // one body member; the format decides, see TestExtractClaudeCodeFormats
			}
			t.Run(sources[i].name+" beats "+sources[j].name, func(t *testing.T) {
				h, body := request([]int{i, j}, valueFor)
				id := extract(t, h, body, "alice").ID
				assert.Equal(t, sources[i].src, id.Source)
				if sources[i].src != session.SourceHash {
					assert.Equal(t, valueFor(i), id.Value)
				}
			})
		}
	}
	t.Run("every source at once", func(t *testing.T) {
		all := []int{0, 2, 3, 4, 5, 6, 7, 8, 9}
		for k, want := range all {
			h, body := request(all[k:], valueFor)
			id := extract(t, h, body, "alice").ID
			assert.Equal(t, sources[want].src, id.Source, "from %s on", sources[want].name)
		}
	})
}

func TestExtractInvalidFallsThrough(t *testing.T) {
	invalid := map[string]string{
		"empty":        "",
		"too long":     strings.Repeat("x", 257),
		"newline":      "a\nb",
		"NUL":          "a\x00b",
		"DEL":          "a\x7fb",
		"escape":       "\x1b[31m",
		"tab":          "a\tb",
		"carriage ret": "a\rb",
	}
	next := len(sources) - 1 // the hash always follows
	for i, s := range sources[:next] {
		for what, bad := range invalid {
			t.Run(s.name+" "+what, func(t *testing.T) {
				h, body := request([]int{i, next}, func(k int) string {
					if k == i {
						return bad
					}
					return valueFor(k)
				})
				id := extract(t, h, body, "alice").ID
				switch {
				case s.name == "claude code user_id":
					// not a UUID, so not the Claude Code format; the JSON
					// text itself is a valid other-format user_id unless
					// the bad value makes it too long or holds a control
					// character
					if what == "empty" {
						assert.Equal(t, session.SourceUserID, id.Source)
						return
					}
					assert.Equal(t, session.SourceHash, id.Source)
				default:
					assert.Equal(t, session.SourceHash, id.Source)
				}
			})
		}
	}
	t.Run("256 bytes is accepted", func(t *testing.T) {
		v := strings.Repeat("y", 256)
		id := extract(t, nil, obj("prompt_cache_key", v), "").ID
		assert.Equal(t, session.SourcePromptCacheKey, id.Source)
		assert.Equal(t, v, id.Value)
	})
	t.Run("256 bytes after decoding is accepted", func(t *testing.T) {
		v := strings.Repeat(`\u0079`, 256)
		id := extract(t, nil, []byte(`{"conversation_id":"`+v+`"}`), "").ID
		assert.Equal(t, session.SourceConversationID, id.Source)
		assert.Equal(t, strings.Repeat("y", 256), id.Value)
	})
	t.Run("escaped control character", func(t *testing.T) {
		id := extract(t, nil, []byte(`{"prompt_cache_key":"a\u0001b","conversation_id":"c"}`), "").ID
		assert.Equal(t, session.ID{Source: session.SourceConversationID, Value: "c"}, id)
	})
	t.Run("non-string values", func(t *testing.T) {
		for _, v := range []string{`1`, `true`, `null`, `["k"]`, `{"k":"v"}`} {
			body := `{"prompt_cache_key":` + v + `,"conversation_id":` + v + `,"metadata":{"user_id":` + v + `},"conversation":` + v + `}`
			assert.True(t, extract(t, nil, []byte(body), "").ID.IsZero(), v)
		}
	})
	t.Run("conversation object without a string id", func(t *testing.T) {
		for _, v := range []string{`{}`, `{"id":1}`, `{"id":""}`, `{"name":"x"}`} {
			body := `{"conversation":` + v + `,"conversation_id":"c"}`
			assert.Equal(t, session.SourceConversationID, extract(t, nil, []byte(body), "").ID.Source, v)
		}
	})
}

func TestExtractClaudeCodeFormats(t *testing.T) {
	tests := []struct {
		name   string
		userID string
		want   session.ID
	}{
		{"legacy", legacyUserID(uuidB, uuidA), session.ID{Source: session.SourceClaudeCode, Value: uuidA}},
		{"legacy without account", legacyUserID("", uuidA), session.ID{Source: session.SourceClaudeCode, Value: uuidA}},
		{"JSON", jsonUserID(uuidA), session.ID{Source: session.SourceClaudeCode, Value: uuidA}},
		{"JSON, keys in another order", `{"session_id":"` + uuidA + `","device_id":"d"}`, session.ID{Source: session.SourceClaudeCode, Value: uuidA}},
		// near misses are other formats, used as they are
		{"legacy, short device", "user_abc_account__session_" + uuidA, session.ID{Source: session.SourceUserID, Value: "user_abc_account__session_" + uuidA}},
		{"legacy, device not hex", "user_" + strings.Repeat("g", 64) + "_account__session_" + uuidA, session.ID{Source: session.SourceUserID, Value: "user_" + strings.Repeat("g", 64) + "_account__session_" + uuidA}},
		{"legacy, session not a UUID", legacyUserID("", "abc"), session.ID{Source: session.SourceUserID, Value: legacyUserID("", "abc")}},
		{"legacy, trailing text", legacyUserID("", uuidA) + "x", session.ID{Source: session.SourceUserID, Value: legacyUserID("", uuidA) + "x"}},
		{"legacy, account not a UUID", legacyUserID("acct", uuidA), session.ID{Source: session.SourceUserID, Value: legacyUserID("acct", uuidA)}},
		{"JSON without device_id", `{"session_id":"` + uuidA + `"}`, session.ID{Source: session.SourceUserID, Value: `{"session_id":"` + uuidA + `"}`}},
		{"JSON, session_id not a UUID", jsonUserID("s-1"), session.ID{Source: session.SourceUserID, Value: jsonUserID("s-1")}},
		{"JSON, session_id not a string", `{"device_id":"d","session_id":1}`, session.ID{Source: session.SourceUserID, Value: `{"device_id":"d","session_id":1}`}},
		{"invalid JSON", `{"device_id":"d","session_id":"` + uuidA + `"`, session.ID{Source: session.SourceUserID, Value: `{"device_id":"d","session_id":"` + uuidA + `"`}},
		{"UUID alone", uuidA, session.ID{Source: session.SourceUserID, Value: uuidA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, extract(t, nil, obj("metadata", meta(tt.userID)), "").ID)
		})
	}
}

// Claude Code sends its session in the header and in metadata.user_id;
// both must name the same session, whichever a request carries.
func TestExtractClaudeCodeHeaderAndMetadataAgree(t *testing.T) {
	byHeader := extract(t, headers("X-Claude-Code-Session-Id", uuidA), nil, "").ID
	byJSON := extract(t, nil, obj("metadata", meta(jsonUserID(uuidA))), "").ID
	byLegacy := extract(t, nil, obj("metadata", meta(legacyUserID("", uuidA))), "").ID
	both := extract(t, headers("X-Claude-Code-Session-Id", uuidA), obj("metadata", meta(jsonUserID(uuidA))), "").ID
	assert.Equal(t, byHeader.String(), byJSON.String())
	assert.Equal(t, byHeader.String(), byLegacy.String())
	assert.Equal(t, byHeader.String(), both.String())
	assert.Equal(t, byHeader.String(), session.FromHeaders(headers("X-Claude-Code-Session-Id", uuidA)).String())
}

// The same value from two sources is two sessions.
func TestExtractTypedBySource(t *testing.T) {
	seen := map[string]string{}
	for i, s := range sources {
		if i == 1 || s.src == session.SourceHash {
			continue // needs a JSON user_id; agrees with the header by design
		}
		h, body := request([]int{i}, func(int) string { return uuidA })
		id := extract(t, h, body, "alice").ID
		require.Equal(t, s.src, id.Source, s.name)
		require.Equal(t, uuidA, id.Value, s.name)
		if other, ok := seen[id.String()]; ok {
			assert.Equal(t, session.SourceCodex, s.src, "%s and %s give the same ID", s.name, other)
		}
		seen[id.String()] = s.name
	}
	// Session-Id and session_id are one source
	assert.Len(t, seen, 7)
}

func TestExtractAgent(t *testing.T) {
	id := extract(t, headers("X-Claude-Code-Session-Id", uuidA, "X-Claude-Code-Agent-Id", "agent-7"), nil, "")
	assert.Equal(t, session.ID{Source: session.SourceClaudeCode, Value: uuidA}, id.ID)
	assert.Equal(t, "agent-7", id.Agent)

	id = extract(t, headers("X-Claude-Code-Agent-Id", "agent-7"), obj("messages", chatMessages), "")
	assert.Equal(t, session.SourceHash, id.ID.Source)
	assert.Equal(t, "agent-7", id.Agent)

	for _, bad := range []string{"", strings.Repeat("a", 257), "a\nb", "a\x00"} {
		assert.Empty(t, extract(t, headers("X-Claude-Code-Agent-Id", bad), nil, "").Agent, "%q", bad)
	}
	assert.Empty(t, extract(t, headers("X-Claude-Code-Session-Id", uuidA), nil, "").Agent)
}

// FromHeaders is Extract restricted to headers.
func TestFromHeadersMatchesExtract(t *testing.T) {
	for _, h := range []http.Header{
		headers("X-Claude-Code-Session-Id", uuidA, "Session-Id", uuidB),
		headers("Session-Id", uuidB, "X-Session-ID", uuidD),
		headers("session_id", uuidC),
		headers("X-Session-ID", uuidD),
		headers("Session-Id", "", "X-Session-ID", uuidD),
		headers(),
	} {
		assert.Equal(t, session.FromHeaders(h), extract(t, h, nil, "").ID)
	}
}

// Extract's values must not share memory with the body: the gateway reads
// bodies into pooled buffers.
func TestExtractDoesNotAliasBody(t *testing.T) {
	for _, body := range [][]byte{
		obj("metadata", meta(legacyUserID("", uuidA))),
		obj("metadata", meta(jsonUserID(uuidA))),
		obj("prompt_cache_key", "pck"),
		obj("conversation", map[string]any{"id": "conv"}),
		obj("metadata", meta("uid")),
		obj("conversation_id", "cid"),
	} {
		orig := string(body)
		id := session.Extract(nil, body, "")
		want := id.ID.String()
		require.NotEmpty(t, want)
		for i := range body {
			body[i] = 'X'
		}
		assert.Equal(t, want, id.ID.String(), orig)
	}
}

func TestExtractDoesNotModifyBody(t *testing.T) {
	body := []byte(`{"messages":[{"role":"user","content":"h\u00e9llo \"x\""}],"metadata":{"user_id":"` + strings.ReplaceAll(jsonUserID(uuidA), `"`, `\"`) + `"}}`)
	orig := string(body)
	session.Extract(nil, body, "p")
	assert.Equal(t, orig, string(body))
}
