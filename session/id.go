package session

import "net/http"

// Source says where a session ID was found.
type Source string

// The sources read from request headers.
const (
	SourceClaudeCode Source = "claude-code"
	SourceCodex      Source = "codex"
	SourceHeader     Source = "x-session-id"
)

// maxIDLength is the longest value accepted as a session ID; anything
// longer is more likely a payload than an identifier.
const maxIDLength = 256

// ID identifies a conversation. The zero ID means none was found.
type ID struct {
	Source Source
	Value  string
}

// IsZero reports whether no session was found.
func (id ID) IsZero() bool { return id.Value == "" }

// String is the typed form used as a key and shown to operators.
func (id ID) String() string {
	if id.IsZero() {
		return ""
	}
	return string(id.Source) + ":" + id.Value
}

// headerSources are read in this order; the first valid value wins.
var headerSources = []struct {
	header string
	source Source
}{
	{"X-Claude-Code-Session-Id", SourceClaudeCode},
	{"Session-Id", SourceCodex},
	{"Session_id", SourceCodex}, // Go canonicalises "session_id" to this
	{"X-Session-Id", SourceHeader},
}

// FromHeaders returns the session named by the request's headers, or the
// zero ID.
func FromHeaders(h http.Header) ID {
	for _, hs := range headerSources {
		if v := h.Get(hs.header); valid(v) {
			return ID{Source: hs.source, Value: v}
		}
	}
	return ID{}
}

// valid reports whether v can serve as a session ID: not empty, not too
// long, and free of control characters.
func valid(v string) bool {
	if v == "" || len(v) > maxIDLength {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
