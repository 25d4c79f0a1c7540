package session

// This file derives a session from the conversation itself, for clients
// that name none (Gemini CLI, most SDK scripts).
//
// What is hashed: the principal, the system prompt, the text of the first
// user message and the text of the first assistant message. A field's text
// is the concatenation of its text parts in order, with nothing between
// them, so a system prompt sent as the string "S" and as one text block
// {"type":"text","text":"S"} hash the same, and so do the same words sent
// as OpenAI chat, Claude, Gemini or Responses bodies. Only text counts:
// images, documents, tool calls and results, Claude thinking blocks,
// Gemini thought parts and Responses reasoning items are left out. The text
// is hashed as decoded (escapes resolved), so how a client escapes it does
// not matter.
//
// The system prompt is the format's own system field (Claude system, Gemini
// systemInstruction, Responses instructions) followed by the system and
// developer role messages met before the walk stops. The walk stops at the
// point where it has both a user and an assistant message; later messages
// never change the hash. A turn-2 body is the turn-1 body plus the reply
// plus the new question, so everything turn 1 hashed lies before that point
// and the short hash of turn 2 equals the hash of turn 1.
//
// Each field is hashed on its own (FNV-1a 64 over its bytes, and its
// length); the session hash is FNV-1a 64 over the principal, its length, and
// those per-field sums and lengths. Field boundaries are therefore fixed:
// ("ab", "c") and ("a", "bc") hash differently.

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// fieldHash is the FNV-1a 64 state over one field's text and its length.
type fieldHash struct {
	sum uint64
	n   uint64
}

func newFieldHash() fieldHash { return fieldHash{sum: fnvOffset64} }

func (f *fieldHash) writeString(s string) {
	h := f.sum
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	f.sum = h
	f.n += uint64(len(s))
}

func (f *fieldHash) writeUint64(v uint64) {
	h := f.sum
	for range 8 {
		h ^= v & 0xff
		h *= fnvPrime64
		v >>= 8
	}
	f.sum = h
	f.n += 8
}

// writeJSONString hashes the decoded text of the JSON string literal raw.
func (f *fieldHash) writeJSONString(raw string) {
	if !isString(raw) {
		return
	}
	text := raw[1 : len(raw)-1]
	h, n := f.sum, f.n
	for i := 0; i < len(text); {
		if c := text[i]; c != '\\' {
			h ^= uint64(c)
			h *= fnvPrime64
			n++
			i++
			continue
		}
		b, m, next := unescapeAt(text, i)
		for _, c := range b[:m] {
			h ^= uint64(c)
			h *= fnvPrime64
		}
		n += uint64(m)
		i = next
	}
	f.sum, f.n = h, n
}

// writeContent hashes the text of a message content: a string, or an array
// of parts (see writeParts). Anything else has no text.
func (f *fieldHash) writeContent(raw string) {
	switch {
	case isString(raw):
		f.writeJSONString(raw)
	case isArray(raw):
		f.writeParts(raw)
	}
}

// writeParts hashes the text parts of an array of content parts or blocks:
// plain strings, and objects with a string "text" whose "type" is absent,
// "text" (OpenAI chat, Claude), "input_text" or "output_text" (Responses),
// and that are not Gemini thoughts.
func (f *fieldHash) writeParts(raw string) {
	eachElement(raw, func(part string) bool {
		if isString(part) {
			f.writeJSONString(part)
			return true
		}
		var typ, text, thought string
		eachMember(part, func(key, value string) bool {
			switch {
			case typ == "" && textIs(key, "type"):
				typ = value
			case text == "" && textIs(key, "text"):
				text = value
			case thought == "" && textIs(key, "thought"):
				thought = value
			}
			return true
		})
		if !isString(text) || thought == "true" {
			return true
		}
		if typ == "" || stringIs(typ, "text") || stringIs(typ, "input_text") || stringIs(typ, "output_text") {
			f.writeJSONString(text)
		}
		return true
	})
}

// conversation collects the hashed fields of one body.
type conversation struct {
	system, user, assistant fieldHash
	hasUser, hasAssistant   bool
}

// done reports whether the walk has what it needs and may stop.
func (c *conversation) done() bool { return c.hasUser && c.hasAssistant }

// message adds one message, given its raw role and content, to the fields.
// A role of user or assistant counts only the first time; system and
// developer messages add to the system prompt. Other roles (tool, function)
// are skipped.
func (c *conversation) message(role, content string) {
	switch {
	case stringIs(role, "user"):
		if !c.hasUser {
			c.hasUser = true
			c.user.writeContent(content)
		}
	case stringIs(role, "assistant"):
		if !c.hasAssistant {
			c.hasAssistant = true
			c.assistant.writeContent(content)
		}
	case stringIs(role, "system"), stringIs(role, "developer"):
		c.system.writeContent(content)
	}
}

// messages walks an OpenAI chat or Claude messages array.
func (c *conversation) messages(raw string) {
	eachElement(raw, func(m string) bool {
		var role, content string
		eachMember(m, func(key, value string) bool {
			switch {
			case role == "" && textIs(key, "role"):
				role = value
			case content == "" && textIs(key, "content"):
				content = value
			}
			return true
		})
		c.message(role, content)
		return !c.done()
	})
}

// geminiContent hashes a Gemini Content object (its parts) into f; a plain
// string is taken as text.
func geminiContent(f *fieldHash, raw string) {
	if isString(raw) {
		f.writeJSONString(raw)
		return
	}
	eachMember(raw, func(key, value string) bool {
		if textIs(key, "parts") {
			f.writeParts(value)
			return false
		}
		return true
	})
}

// contents walks a Gemini contents array. A content without a role is the
// user's, as Gemini reads it; role "model" is the assistant.
func (c *conversation) contents(raw string) {
	eachElement(raw, func(m string) bool {
		var role, parts string
		eachMember(m, func(key, value string) bool {
			switch {
			case role == "" && textIs(key, "role"):
				role = value
			case parts == "" && textIs(key, "parts"):
				parts = value
			}
			return true
		})
		switch {
		case role == "" || stringIs(role, "user"):
			if !c.hasUser {
				c.hasUser = true
				c.user.writeParts(parts)
			}
		case stringIs(role, "model"):
			if !c.hasAssistant {
				c.hasAssistant = true
				c.assistant.writeParts(parts)
			}
		}
		return !c.done()
	})
}

// input walks an OpenAI Responses input: a string is the user message; in
// an array, items of type "message" and untyped items with a role are
// messages, and every other item (reasoning, function calls and outputs…)
// is skipped.
func (c *conversation) input(raw string) {
	if isString(raw) {
		c.hasUser = true
		c.user.writeJSONString(raw)
		return
	}
	eachElement(raw, func(item string) bool {
		var typ, role, content string
		eachMember(item, func(key, value string) bool {
			switch {
			case typ == "" && textIs(key, "type"):
				typ = value
			case role == "" && textIs(key, "role"):
				role = value
			case content == "" && textIs(key, "content"):
				content = value
			}
			return true
		})
		if typ == "" || stringIs(typ, "message") {
			c.message(role, content)
		}
		return !c.done()
	})
}

// hashIDs returns the hash-derived primary ID and, when the body has an
// assistant message, the fallback ID without it. Both are zero when the
// body has no user message.
func (b *bodyFields) hashIDs(principal string) (primary, fallback ID) {
	c := conversation{system: newFieldHash(), user: newFieldHash(), assistant: newFieldHash()}
	switch {
	case isArray(b.messages):
		c.system.writeContent(b.system)
		c.messages(b.messages)
	case isArray(b.contents):
		geminiContent(&c.system, b.systemInstruction)
		c.contents(b.contents)
	case isString(b.input) || isArray(b.input):
		c.system.writeContent(b.instructions)
		c.input(b.input)
	}
	if !c.hasUser {
		return ID{}, ID{}
	}
	h := newFieldHash()
	h.writeString(principal)
	h.writeUint64(uint64(len(principal)))
	for _, f := range []fieldHash{c.system, c.user} {
		h.writeUint64(f.sum)
		h.writeUint64(f.n)
	}
	short := h.sum
	if !c.hasAssistant {
		return ID{Source: SourceHash, Value: hex16(short)}, ID{}
	}
	h.writeUint64(c.assistant.sum)
	h.writeUint64(c.assistant.n)
	// one allocation for both values
	both := hex32(h.sum, short)
	return ID{Source: SourceHash, Value: both[:16]}, ID{Source: SourceHash, Value: both[16:]}
}

const hexDigits = "0123456789abcdef"

// putHex writes v as 16 lower-case hex digits into b.
func putHex(b []byte, v uint64) {
	for i := 15; i >= 0; i-- {
		b[i] = hexDigits[v&0xf]
		v >>= 4
	}
}

// hex16 renders v as 16 hex digits.
func hex16(v uint64) string {
	var buf [16]byte
	putHex(buf[:], v)
	return string(buf[:])
}

// hex32 renders a and then b as 16 hex digits each.
func hex32(a, b uint64) string {
	var buf [32]byte
	putHex(buf[:16], a)
	putHex(buf[16:], b)
	return string(buf[:])
}
