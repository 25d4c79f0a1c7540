package session_test

import (
	"encoding/binary"
	"hash/fnv"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/session"
)

// refExtract is a second implementation of Extract, written from the
// package documentation with plain gjson calls and no attention to speed.
// The tests and the fuzz target check Extract against it on valid JSON.

const refMaxRawIDLength = 6*256 + 2

var (
	refUUID         = `[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`
	refLegacyUserID = regexp.MustCompile(`^user_[0-9a-fA-F]{64}_account_(?:` + refUUID + `)?_session_(` + refUUID + `)$`)
	refUUIDOnly     = regexp.MustCompile(`^` + refUUID + `$`)
)

func refValid(v string) bool {
	if v == "" || len(v) > 256 {
		return false
	}
	for _, c := range []byte(v) {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// refString returns the text of r if it is a string, else "".
func refString(r gjson.Result) string {
	if r.Type != gjson.String {
		return ""
	}
	return r.Str
}

func refExtract(h http.Header, body []byte, principal string) session.Identity {
	var id session.Identity
	if v := h.Get("X-Claude-Code-Agent-Id"); refValid(v) {
		id.Agent = v
	}
	found := func(src session.Source, v string) bool {
		if refValid(v) {
			id.ID = session.ID{Source: src, Value: v}
			return true
		}
		return false
	}
	if found(session.SourceClaudeCode, h.Get("X-Claude-Code-Session-Id")) {
		return id
	}
	userID := gjson.GetBytes(body, "metadata").Get("user_id")
	if len(userID.Raw) > refMaxRawIDLength {
		userID = gjson.Result{}
	}
	uid := refString(userID)
	if m := refLegacyUserID.FindStringSubmatch(uid); m != nil {
		if found(session.SourceClaudeCode, m[1]) {
			return id
		}
	}
	if strings.HasPrefix(uid, "{") && gjson.Valid(uid) {
		doc := gjson.Parse(uid)
		sid := refString(doc.Get("session_id"))
		if doc.Get("device_id").Type == gjson.String && refUUIDOnly.MatchString(sid) && found(session.SourceClaudeCode, sid) {
			return id
		}
	}
	if found(session.SourceCodex, h.Get("Session-Id")) || found(session.SourceCodex, h.Get("session_id")) ||
		found(session.SourcePromptCacheKey, refString(gjson.GetBytes(body, "prompt_cache_key"))) {
		return id
	}
	conv := gjson.GetBytes(body, "conversation")
	if conv.IsObject() {
		conv = conv.Get("id")
	}
	if found(session.SourceConversation, refString(conv)) ||
		found(session.SourceHeader, h.Get("X-Session-ID")) ||
		found(session.SourceUserID, uid) ||
		found(session.SourceConversationID, refString(gjson.GetBytes(body, "conversation_id"))) {
		return id
	}
	id.ID, id.Fallback = refHash(body, principal)
	return id
}

// refConversation gathers the texts the hash is made of.
type refConversation struct {
	system, user, assistant strings.Builder
	hasUser, hasAssistant   bool
}

func (c *refConversation) text(dst *strings.Builder, content gjson.Result) {
	if content.Type == gjson.String {
		dst.WriteString(content.Str)
		return
	}
	if !content.IsArray() {
		return
	}
	for _, p := range content.Array() {
		if p.Type == gjson.String {
			dst.WriteString(p.Str)
			continue
		}
		if !p.IsObject() || p.Get("text").Type != gjson.String || p.Get("thought").Type == gjson.True {
			continue
		}
		switch t := p.Get("type"); {
		case !t.Exists(), t.Type == gjson.String && (t.Str == "text" || t.Str == "input_text" || t.Str == "output_text"):
			dst.WriteString(p.Get("text").Str)
		}
	}
}

func (c *refConversation) message(role string, content gjson.Result) {
	switch role {
	case "user":
		if !c.hasUser {
			c.hasUser = true
			c.text(&c.user, content)
		}
	case "assistant":
		if !c.hasAssistant {
			c.hasAssistant = true
			c.text(&c.assistant, content)
		}
	case "system", "developer":
		c.text(&c.system, content)
	}
}

func refHash(body []byte, principal string) (primary, fallback session.ID) {
	var c refConversation
	done := func() bool { return c.hasUser && c.hasAssistant }
	if msgs := gjson.GetBytes(body, "messages"); msgs.IsArray() {
		c.text(&c.system, gjson.GetBytes(body, "system"))
		for _, m := range msgs.Array() {
			c.message(refString(m.Get("role")), m.Get("content"))
			if done() {
				break
			}
		}
	} else if contents := gjson.GetBytes(body, "contents"); contents.IsArray() {
		si := gjson.GetBytes(body, "systemInstruction")
		if alt := gjson.GetBytes(body, "system_instruction"); alt.Exists() && (!si.Exists() || alt.Index < si.Index) {
			si = alt
		}
		if si.Type == gjson.String {
			c.system.WriteString(si.Str)
		} else if si.IsObject() {
			c.text(&c.system, si.Get("parts"))
		}
		for _, m := range contents.Array() {
			role := m.Get("role")
			switch {
			case !role.Exists(), refString(role) == "user":
				if !c.hasUser {
					c.hasUser = true
					c.text(&c.user, m.Get("parts"))
				}
			case refString(role) == "model":
				if !c.hasAssistant {
					c.hasAssistant = true
					c.text(&c.assistant, m.Get("parts"))
				}
			}
			if done() {
				break
			}
		}
	} else if input := gjson.GetBytes(body, "input"); input.Type == gjson.String || input.IsArray() {
		c.text(&c.system, gjson.GetBytes(body, "instructions"))
		if input.Type == gjson.String {
			c.hasUser = true
			c.user.WriteString(input.Str)
		}
		for _, it := range input.Array() {
			if input.Type == gjson.String {
				break
			}
			if t := it.Get("type"); !t.Exists() || refString(t) == "message" {
				c.message(refString(it.Get("role")), it.Get("content"))
			}
			if done() {
				break
			}
		}
	}
	if !c.hasUser {
		return session.ID{}, session.ID{}
	}
	outer := fnv.New64a()
	put := func(v uint64) { outer.Write(binary.LittleEndian.AppendUint64(nil, v)) }
	field := func(s string) {
		h := fnv.New64a()
		h.Write([]byte(s))
		put(h.Sum64())
		put(uint64(len(s)))
	}
	outer.Write([]byte(principal))
	put(uint64(len(principal)))
	field(c.system.String())
	field(c.user.String())
	short := refHex(outer.Sum64())
	if !c.hasAssistant {
		return session.ID{Source: session.SourceHash, Value: short}, session.ID{}
	}
	field(c.assistant.String())
	return session.ID{Source: session.SourceHash, Value: refHex(outer.Sum64())}, session.ID{Source: session.SourceHash, Value: short}
}

func refHex(v uint64) string {
	s := strconv.FormatUint(v, 16)
	return strings.Repeat("0", 16-len(s)) + s
}
