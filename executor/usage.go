package executor

import (
	"bytes"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/outcome"
)

// Usage is what a response says it cost, in tokens, exactly as the
// provider reported it (see outcome.Tokens).
type Usage = outcome.Tokens

const (
	// usageMaxLine bounds the unfinished SSE line kept between writes, and
	// one element of a streamed JSON array; longer ones are dropped.
	usageMaxLine = 1 << 20
	// usageMaxJSON bounds a non-stream JSON body; past it usage is given up.
	usageMaxJSON = 4 << 20
)

var (
	usageKey       = []byte(`"usage"`)
	usageKeyGemini = []byte(`"usageMetadata"`)
)

// usageReader reads token usage from a response of one protocol family as its
// bytes pass. It is an io.Writer meant to sit beside the client (e.g. in an
// io.MultiWriter or called from the response writer): it never fails, never
// holds the stream back and keeps at most one unfinished line or JSON value.
//
// An event stream is split into lines and each complete `data:` payload that
// mentions usage is parsed with gjson. Any other body is scanned as JSON: every
// top-level object (or every object directly inside a top-level array, as in
// Gemini's streamGenerateContent without alt=sse) is captured and parsed when
// it closes. Later reports override earlier ones, so the last one wins.
//
// A usageReader is not safe for concurrent use.
type usageReader struct {
	family Family
	sse    bool
	key    []byte // cheap prefilter: payloads without it carry no usage
	u      Usage

	// Event stream state.
	line     []byte // unfinished line from previous writes
	lineSkip bool   // the unfinished line outgrew usageMaxLine: drop it

	// JSON state.
	limit     int  // cap on one captured object
	base      int  // depth at which objects are captured (1 inside an array)
	depth     int  // current nesting depth
	started   bool // the first non-space byte was seen
	inStr     bool // inside a JSON string
	esc       bool // the previous byte in the string was a backslash
	capturing bool // inside an object being captured
	objSkip   bool // the captured object outgrew limit: drop it
	obj       []byte
}

// newUsageReader returns a reader for a response of family f to endpoint
// (e.g. "messages", "chat/completions", "responses", "generateContent",
// "streamGenerateContent"); eventStream says the body is text/event-stream.
func newUsageReader(f Family, endpoint string, eventStream bool) *usageReader {
	u := &usageReader{family: f, sse: eventStream, key: usageKey, limit: usageMaxJSON}
	if f == FamilyGemini {
		u.key = usageKeyGemini
		if !eventStream && endpoint == "streamGenerateContent" {
			// A JSON array of chunks: only one chunk is held at a time.
			u.limit = usageMaxLine
		}
	}
	return u
}

// Write observes the next chunk of the response body (SSE or JSON); it never
// fails and never retains p.
func (u *usageReader) Write(p []byte) (int, error) {
	if u.sse {
		u.scanSSE(p)
	} else {
		u.scanJSON(p)
	}
	return len(p), nil
}

// Usage returns what was read so far (call after the response ended).
func (u *usageReader) Usage() Usage { return u.u }

func (u *usageReader) scanSSE(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			u.keepLine(p)
			return
		}
		switch {
		case u.lineSkip:
		case len(u.line) > 0:
			u.keepLine(p[:i])
			if !u.lineSkip {
				u.sseLine(u.line)
			}
		case i <= usageMaxLine:
			u.sseLine(p[:i]) // the whole line is in p: no copy
		}
		u.lineSkip = false
		u.line = u.line[:0]
		p = p[i+1:]
	}
}

func (u *usageReader) keepLine(b []byte) {
	if u.lineSkip {
		return
	}
	if len(u.line)+len(b) > usageMaxLine {
		u.lineSkip = true
		u.line = nil
		return
	}
	u.line = append(u.line, b...)
}

func (u *usageReader) sseLine(l []byte) {
	l = bytes.TrimSuffix(l, []byte{'\r'})
	if !bytes.HasPrefix(l, []byte("data:")) {
		return
	}
	l = bytes.TrimLeft(l[len("data:"):], " \t")
	// Skips "[DONE]", empty data and anything else that is not an object.
	if len(l) == 0 || l[0] != '{' || !bytes.Contains(l, u.key) {
		return
	}
	u.observe(l)
}

func (u *usageReader) scanJSON(p []byte) {
	start := 0 // where the captured part of p begins, while capturing
	for i := 0; i < len(p); i++ {
		c := p[i]
		if u.inStr {
			if u.esc {
				u.esc = false
				continue
			}
			j := bytes.IndexAny(p[i:], `"\`)
			if j < 0 {
				break
			}
			i += j
			if p[i] == '\\' {
				u.esc = true
			} else {
				u.inStr = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '"':
			u.inStr = true
		case '{', '[':
			if !u.started && c == '[' {
				u.base = 1
			}
			if c == '{' && u.depth == u.base && !u.capturing {
				u.capturing, u.objSkip = true, false
				u.obj = u.obj[:0]
				start = i
			}
			u.depth++
		case '}', ']':
			if u.depth > 0 {
				u.depth--
			}
			if u.capturing && u.depth == u.base {
				u.capturing = false
				switch {
				case len(u.obj) == 0 && !u.objSkip:
					// The whole object is in p: no copy.
					if i+1-start <= u.limit {
						u.observeObject(p[start : i+1])
					}
				default:
					u.capture(p[start : i+1])
					if !u.objSkip {
						u.observeObject(u.obj)
					}
				}
				u.obj = u.obj[:0]
			}
		}
		u.started = true
	}
	if u.capturing {
		u.capture(p[start:])
	}
}

func (u *usageReader) capture(b []byte) {
	if u.objSkip {
		return
	}
	if len(u.obj)+len(b) > u.limit {
		u.objSkip = true
		u.obj = nil
		return
	}
	u.obj = append(u.obj, b...)
}

func (u *usageReader) observeObject(b []byte) {
	if bytes.Contains(b, u.key) {
		u.observe(b)
	}
}

// observe reads usage from one complete JSON object b (non-empty).
func (u *usageReader) observe(b []byte) {
	// b is only read while observe runs and no gjson result outlives it, so
	// a zero-copy view is safe and keeps parsing allocation-free.
	s := unsafe.String(unsafe.SliceData(b), len(b))
	switch u.family {
	case FamilyAnthropic:
		// message_start carries message.usage; message_delta and a
		// non-stream message carry usage.
		if m := gjson.Get(s, "message.usage"); m.IsObject() {
			u.anthropic(m)
		}
		if m := gjson.Get(s, "usage"); m.IsObject() {
			u.anthropic(m)
		}
	case FamilyOpenAI:
		// Chat (stream chunk or body) and a Responses body carry usage;
		// Responses events (response.completed) carry response.usage.
		m := gjson.Get(s, "usage")
		if !m.IsObject() {
			m = gjson.Get(s, "response.usage")
		}
		if m.IsObject() {
			u.openAI(m)
		}
	case FamilyGemini:
		// Code Assist wraps the generateContent response in "response".
		m := gjson.Get(s, "usageMetadata")
		if !m.IsObject() {
			m = gjson.Get(s, "response.usageMetadata")
		}
		if m.IsObject() {
			u.u = Usage{
				Input:     m.Get("promptTokenCount").Int(),
				Output:    m.Get("candidatesTokenCount").Int() + m.Get("thoughtsTokenCount").Int(),
				CacheRead: m.Get("cachedContentTokenCount").Int(),
				Reasoning: m.Get("thoughtsTokenCount").Int(),
			}
		}
	}
}

// anthropic merges an Anthropic usage object. output_tokens is cumulative, so
// the last one present wins. Input and cache counts are taken when positive:
// message_start has them, and some gateways repeat (or only send) them in
// message_delta, sometimes as zeros that must not erase the real figures.
func (u *usageReader) anthropic(m gjson.Result) {
	if v := m.Get("output_tokens"); v.Exists() {
		u.u.Output = v.Int()
	}
	if v := m.Get("input_tokens").Int(); v > 0 {
		u.u.Input = v
	}
	if v := m.Get("cache_read_input_tokens").Int(); v > 0 {
		u.u.CacheRead = v
	}
	if v := m.Get("cache_creation_input_tokens").Int(); v > 0 {
		u.u.CacheCreation = v
	}
}

// openAI reads a chat usage object (prompt_tokens, completion_tokens,
// prompt_tokens_details.cached_tokens,
// completion_tokens_details.reasoning_tokens) or a Responses one
// (input_tokens, output_tokens, input_tokens_details.cached_tokens,
// output_tokens_details.reasoning_tokens).
func (u *usageReader) openAI(m gjson.Result) {
	first := func(a, b string) int64 {
		if v := m.Get(a); v.Exists() {
			return v.Int()
		}
		return m.Get(b).Int()
	}
	u.u = Usage{
		Input:     first("prompt_tokens", "input_tokens"),
		Output:    first("completion_tokens", "output_tokens"),
		CacheRead: first("prompt_tokens_details.cached_tokens", "input_tokens_details.cached_tokens"),
		Reasoning: first("completion_tokens_details.reasoning_tokens", "output_tokens_details.reasoning_tokens"),
	}
}
