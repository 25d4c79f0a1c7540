package session

import (
	"net/http"
	"strings"

	"github.com/tidwall/gjson"
)

// Identity is what a request says about the conversation it belongs to.
type Identity struct {
	// ID is the session. For a session derived from the message hash it is
	// the primary hash (system prompt + first user message + first
	// assistant message, or without the assistant part when the body has
	// no assistant message yet).
	ID ID
	// Fallback is set only for a hash-derived ID whose body has a first
	// assistant message: the hash without it, i.e. the ID turn 1 of the
	// same conversation had. A binding cache looks it up when ID is
	// unbound, so turn 2 inherits turn 1's credential.
	Fallback ID
	// Agent is Claude Code's X-Claude-Code-Agent-Id header (valid per the
	// same rules as an ID value), "" if none. Claude Code sends it for
	// subagents, whose requests share the parent's session.
	Agent string
}

// Extract reads the session identity from headers and the (decoded, JSON)
// body. principal is the authenticated client name; it scopes the hash so
// two members who open with the same prompt do not share a session.
//
// The sources, first valid value wins (see the package documentation):
// X-Claude-Code-Session-Id; a Claude Code metadata.user_id; Session-Id or
// session_id; prompt_cache_key; conversation; X-Session-ID; any other
// metadata.user_id; conversation_id; the message hash. A value that is
// empty, over 256 bytes or holds a control character is skipped.
//
// Extract never copies the body and never unmarshals it; it walks the bytes
// and stops as early as the order allows (not at all when the Claude Code
// header is present). The returned strings do not share memory with body,
// so the caller may reuse the buffer. Extract is safe for concurrent use.
func Extract(h http.Header, body []byte, principal string) Identity {
	var id Identity
	if v := h.Get(headerClaudeCodeAgent); valid(v) {
		id.Agent = v
	}
	if v := h.Get(headerClaudeCodeSession); valid(v) {
		id.ID = ID{Source: SourceClaudeCode, Value: v}
		return id
	}

	var b bodyFields
	b.scan(bytesString(body))
	if b.claudeCode != "" {
		id.ID = ID{Source: SourceClaudeCode, Value: strings.Clone(b.claudeCode)}
		return id
	}
	if v := h.Get(headerCodexSession); valid(v) {
		id.ID = ID{Source: SourceCodex, Value: v}
		return id
	}
	if v := h.Get(headerCodexSessionUnderscore); valid(v) {
		id.ID = ID{Source: SourceCodex, Value: v}
		return id
	}
	if v := stringValue(b.promptCacheKey); valid(v) {
		id.ID = ID{Source: SourcePromptCacheKey, Value: strings.Clone(v)}
		return id
	}
	if v := conversationValue(b.conversation); valid(v) {
		id.ID = ID{Source: SourceConversation, Value: strings.Clone(v)}
		return id
	}
	if v := h.Get(headerSession); valid(v) {
		id.ID = ID{Source: SourceHeader, Value: v}
		return id
	}
	if valid(b.userID) {
		id.ID = ID{Source: SourceUserID, Value: strings.Clone(b.userID)}
		return id
	}
	if v := stringValue(b.conversationID); valid(v) {
		id.ID = ID{Source: SourceConversationID, Value: strings.Clone(v)}
		return id
	}
	id.ID, id.Fallback = b.hashIDs(principal)
	return id
}

// bodyFields are the raw top-level values of a body that Extract reads.
// They are substrings of the body: clone before keeping.
type bodyFields struct {
	// userID is metadata.user_id, decoded, if it is a string.
	userID string
	// claudeCode is the session UUID of a Claude Code formatted userID.
	claudeCode string

	promptCacheKey, conversation, conversationID string

	// hash inputs
	messages, system            string // OpenAI chat, Claude
	contents, systemInstruction string // Gemini
	input, instructions         string // OpenAI Responses
}

// maxKeyLength bounds the top-level keys decoded when they hold escapes;
// no key Extract reads is longer.
const maxKeyLength = 32

// scan records the top-level members of body that Extract reads. When a
// key repeats, the first one counts. It stops early once it has found a
// Claude Code metadata.user_id, since nothing later in the order can win
// over it.
func (b *bodyFields) scan(body string) {
	metadataSeen := false
	eachMember(body, func(key, value string) bool {
		var buf [maxKeyLength]byte
		if strings.IndexByte(key, '\\') >= 0 {
			if len(key) > 6*maxKeyLength {
				return true
			}
			k := appendUnescaped(buf[:0], key)
			if len(k) > maxKeyLength {
				return true
			}
			key = bytesString(k)
		}
		var field *string
		switch key {
		case "metadata":
			if !metadataSeen {
				metadataSeen = true
				b.userID = userIDValue(value)
				b.claudeCode = claudeCodeSession(b.userID)
				return b.claudeCode == ""
			}
		case "prompt_cache_key":
			field = &b.promptCacheKey
		case "conversation":
			field = &b.conversation
		case "conversation_id":
			field = &b.conversationID
		case "messages":
			field = &b.messages
		case "system":
			field = &b.system
		case "contents":
			field = &b.contents
		case "systemInstruction", "system_instruction":
			field = &b.systemInstruction
		case "input":
			field = &b.input
		case "instructions":
			field = &b.instructions
		}
		if field != nil && *field == "" {
			*field = value
		}
		return true
	})
}

// maxRawIDLength is the longest JSON string literal that can decode to a
// valid ID: an escape takes at most six bytes per decoded byte.
const maxRawIDLength = 6*maxIDLength + 2

// stringValue returns the decoded text of the JSON string literal raw, or
// "" if raw is not a string or too long to decode to a valid ID. The result
// may share memory with raw.
func stringValue(raw string) string {
	if !isString(raw) || len(raw) > maxRawIDLength {
		return ""
	}
	text := raw[1 : len(raw)-1]
	if strings.IndexByte(text, '\\') < 0 {
		return text
	}
	return string(appendUnescaped(make([]byte, 0, len(text)), text))
}

// userIDValue returns metadata.user_id from the raw metadata object, if it
// is a string.
func userIDValue(metadata string) string {
	var v string
	eachMember(metadata, func(key, value string) bool {
		if textIs(key, "user_id") {
			v = stringValue(value)
			return false
		}
		return true
	})
	return v
}

// conversationValue returns the Responses conversation ID: the raw value
// itself when it is a string, or the id of a conversation object.
func conversationValue(raw string) string {
	if isObject(raw) {
		var v string
		eachMember(raw, func(key, value string) bool {
			if textIs(key, "id") {
				v = stringValue(value)
				return false
			}
			return true
		})
		return v
	}
	return stringValue(raw)
}

// claudeCodeSession returns the session UUID of a metadata.user_id in one
// of Claude Code's formats, or "":
//
//   - legacy: user_<64 hex>_account_<uuid or empty>_session_<uuid>
//   - Claude Code ≥2.1.78: the JSON text
//     {"device_id":"<64 hex>","account_uuid":"…","session_id":"<uuid>"};
//     a JSON object whose device_id is a string and whose session_id is a
//     UUID counts.
func claudeCodeSession(userID string) string {
	if s := legacyClaudeCodeSession(userID); s != "" {
		return s
	}
	if !strings.HasPrefix(userID, "{") || !gjson.Valid(userID) {
		return ""
	}
	doc := gjson.Parse(userID)
	if doc.Get("device_id").Type != gjson.String {
		return ""
	}
	if s := doc.Get("session_id"); s.Type == gjson.String && isUUID(s.Str) {
		return s.Str
	}
	return ""
}

// legacyClaudeCodeSession parses
// user_<64 hex>_account_<uuid or empty>_session_<uuid>.
func legacyClaudeCodeSession(s string) string {
	const deviceLen, uuidLen = 64, 36
	s, ok := strings.CutPrefix(s, "user_")
	if !ok || len(s) < deviceLen || !isHex(s[:deviceLen]) {
		return ""
	}
	if s, ok = strings.CutPrefix(s[deviceLen:], "_account_"); !ok {
		return ""
	}
	if len(s) >= uuidLen && isUUID(s[:uuidLen]) {
		s = s[uuidLen:]
	}
	if s, ok = strings.CutPrefix(s, "_session_"); !ok || !isUUID(s) {
		return ""
	}
	return s
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

// isUUID reports whether s is a UUID in its 8-4-4-4-12 hex text form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHexDigit(s[i]) {
				return false
			}
		}
	}
	return true
}
