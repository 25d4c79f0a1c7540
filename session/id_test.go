package session_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/caddy-cliproxy/cliproxy/session"
)

const (
	uuidA = "6f1c2d3e-4b5a-4978-8a1b-2c3d4e5f6a7b"
	uuidB = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	uuidC = "11111111-2222-4333-8444-555555555555"
	uuidD = "99999999-8888-4777-8666-555555555555"
)

// headers builds a header the way net/http's server does: names are
// canonicalised (so "session_id" arrives as "Session_id").
func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestFromHeaders(t *testing.T) {
	tooLong := strings.Repeat("a", 257)
	longest := strings.Repeat("a", 256)
	tests := []struct {
		name       string
		h          http.Header
		wantSource session.Source
		wantValue  string
	}{
		{"none", headers(), "", ""},
		{"unrelated headers", headers("Idempotency-Key", uuidA, "X-Request-Id", uuidB), "", ""},
		{"claude code", headers("X-Claude-Code-Session-Id", uuidA), session.SourceClaudeCode, uuidA},
		{"claude code, lower-case name", headers("x-claude-code-session-id", uuidA), session.SourceClaudeCode, uuidA},
		{"codex Session-Id", headers("Session-Id", uuidB), session.SourceCodex, uuidB},
		{"codex session_id", headers("session_id", uuidC), session.SourceCodex, uuidC},
		{"X-Session-ID", headers("X-Session-ID", uuidD), session.SourceHeader, uuidD},
		{"claude code beats all", headers("X-Session-ID", uuidD, "session_id", uuidC, "Session-Id", uuidB, "X-Claude-Code-Session-Id", uuidA), session.SourceClaudeCode, uuidA},
		{"Session-Id beats session_id", headers("session_id", uuidC, "Session-Id", uuidB, "X-Session-ID", uuidD), session.SourceCodex, uuidB},
		{"session_id beats X-Session-ID", headers("X-Session-ID", uuidD, "session_id", uuidC), session.SourceCodex, uuidC},
		{"first value of a repeated header", headers("X-Session-ID", uuidD, "X-Session-ID", uuidA), session.SourceHeader, uuidD},
		{"256 bytes is accepted", headers("X-Session-ID", longest), session.SourceHeader, longest},
		{"non-ASCII is accepted", headers("X-Session-ID", "sitzung-ü"), session.SourceHeader, "sitzung-ü"},
		{"spaces are accepted", headers("X-Session-ID", "my session"), session.SourceHeader, "my session"},
		// invalid values fall through to the next source
		{"empty claude code falls through", headers("X-Claude-Code-Session-Id", "", "Session-Id", uuidB), session.SourceCodex, uuidB},
		{"too long falls through", headers("X-Claude-Code-Session-Id", tooLong, "Session-Id", uuidB), session.SourceCodex, uuidB},
		{"newline falls through", headers("X-Claude-Code-Session-Id", uuidA+"\nx", "X-Session-ID", uuidD), session.SourceHeader, uuidD},
		{"tab falls through", headers("Session-Id", "a\tb", "session_id", uuidC), session.SourceCodex, uuidC},
		{"NUL falls through", headers("Session-Id", "a\x00b", "X-Session-ID", uuidD), session.SourceHeader, uuidD},
		{"DEL falls through", headers("session_id", "a\x7fb", "X-Session-ID", uuidD), session.SourceHeader, uuidD},
		{"escape falls through", headers("X-Claude-Code-Session-Id", "\x1b[31m", "Session-Id", uuidB), session.SourceCodex, uuidB},
		{"every source invalid", headers("X-Claude-Code-Session-Id", "", "Session-Id", tooLong, "session_id", "a\rb", "X-Session-ID", "\x00"), "", ""},
		{"only an invalid value", headers("X-Session-ID", tooLong), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := session.FromHeaders(tt.h)
			assert.Equal(t, tt.wantValue, id.Value)
			assert.Equal(t, tt.wantValue == "", id.IsZero())
			if tt.wantValue == "" {
				assert.Empty(t, id.String())
				return
			}
			assert.Equal(t, tt.wantSource, id.Source)
			assert.Equal(t, string(tt.wantSource)+":"+tt.wantValue, id.String())
		})
	}
}

func TestFromHeadersNil(t *testing.T) {
	assert.True(t, session.FromHeaders(nil).IsZero())
}

// The same text from two sources is two sessions: one client cannot land in
// another's binding by sending its ID in another header.
func TestIDStringTypedBySource(t *testing.T) {
	const v = "shared-value"
	byHeader := map[string]session.ID{}
	for _, name := range []string{"X-Claude-Code-Session-Id", "Session-Id", "X-Session-ID"} {
		byHeader[name] = session.FromHeaders(headers(name, v))
	}
	assert.NotEqual(t, byHeader["X-Claude-Code-Session-Id"].String(), byHeader["Session-Id"].String())
	assert.NotEqual(t, byHeader["Session-Id"].String(), byHeader["X-Session-ID"].String())
	assert.NotEqual(t, byHeader["X-Claude-Code-Session-Id"].String(), byHeader["X-Session-ID"].String())
	for name, id := range byHeader {
		assert.Equal(t, v, id.Value, name)
		assert.True(t, strings.HasSuffix(id.String(), v), name)
	}
	// both Codex headers are the same source: Codex sends either spelling
	// for the same session
	assert.Equal(t, session.FromHeaders(headers("Session-Id", v)).String(), session.FromHeaders(headers("session_id", v)).String())
}

func TestZeroID(t *testing.T) {
	var id session.ID
	assert.True(t, id.IsZero())
	assert.Empty(t, id.String())
	assert.True(t, session.ID{Source: session.SourceCodex}.IsZero(), "a source without a value is no session")
	assert.Empty(t, session.ID{Source: session.SourceCodex}.String())
}
