package session

import "net/http"

// Source says where a session ID was found.
type Source string

// The sources, in the order Extract tries them. Each ID carries its source,
// so the same text found in two places is two different sessions.
const (
	// SourceClaudeCode is Claude Code's own session UUID, from the
	// X-Claude-Code-Session-Id header or from a Claude Code formatted
	// metadata.user_id. Both carry the same UUID, so they give the same ID.
	SourceClaudeCode Source = "claude-code"
	// SourceCodex is the Session-Id (or session_id) header Codex CLI sends.
	SourceCodex Source = "codex"
	// SourcePromptCacheKey is the body's prompt_cache_key (OpenAI Chat and
	// Responses; Codex sets it to its session UUID).
	SourcePromptCacheKey Source = "prompt-cache-key"
	// SourceConversation is an OpenAI Responses conversation: the body's
	// conversation, a string or an object with an id.
	SourceConversation Source = "conversation"
	// SourceHeader is the X-Session-ID header any client may send.
	SourceHeader Source = "x-session-id"
	// SourceUserID is a body metadata.user_id that is not in a Claude Code
	// format, used as it is.
	SourceUserID Source = "user-id"
	// SourceConversationID is the body's conversation_id.
	SourceConversationID Source = "conversation-id"
	// SourceHash is the fallback: a hash of the principal, the system prompt
	// and the opening messages of the conversation.
	SourceHash Source = "hash"
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
	{headerClaudeCodeSession, SourceClaudeCode},
	{headerCodexSession, SourceCodex},
	{headerCodexSessionUnderscore, SourceCodex},
	{headerSession, SourceHeader},
}

// The headers read, as net/http canonicalises them.
const (
	headerClaudeCodeSession      = "X-Claude-Code-Session-Id"
	headerClaudeCodeAgent        = "X-Claude-Code-Agent-Id"
	headerCodexSession           = "Session-Id"
	headerCodexSessionUnderscore = "Session_id" // "session_id" as Go canonicalises it
	headerSession                = "X-Session-Id"
)

// FromHeaders returns the session named by the request's headers alone, or
// the zero ID. It reads X-Claude-Code-Session-Id, then Session-Id and
// session_id, then X-Session-ID. Extract is the full identity, with the body
// sources in between and the message hash as the fallback.
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

// ReadsBody reports whether Extract would read the body for a request
// with headers h: false when X-Claude-Code-Session-Id names the session,
// since no body source outranks it. A gateway can then route the request
// before its body has arrived.
func ReadsBody(h http.Header) bool {
	return !valid(h.Get(headerClaudeCodeSession))
}
