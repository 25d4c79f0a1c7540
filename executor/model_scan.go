package executor

import (
	"bytes"

	"github.com/tidwall/gjson"
)

// modelScan follows the top level of a JSON object as its bytes arrive, in
// pieces of any size, and finds its "model": the value of the first
// top-level key that decodes to "model" (as bodyModel, which reads a body
// held whole), and whether a second such key follows (errModelTwice). It
// keeps no more than a key or the model's value: string values are
// skipped from quote to quote with a vectorised search, so a body costs
// one pass and no allocation that grows with it.
type modelScan struct {
	depth    int
	inString bool
	esc      bool // the piece ended inside a string, after an unpaired backslash
	keyNext  bool // at the top level, the next string is a key
	// colonNext and valueNext: the colon, then the value, of a "model"
	// key come next
	colonNext, valueNext bool
	// capturing: the string under way is a top-level key, or the model's
	// value, and goes to text (up to maxCapture bytes; over says more)
	capturing  bool
	capturedIs int // captureKey or captureModel
	text       []byte
	over       bool

	// streamColon and streamValue: the colon, then the value, of a
	// top-level "stream" key come next; stream is whether the last such
	// key's value is true (as upstream parsers read a key named twice)
	streamColon, streamValue, stream bool

	models int
	// model is the model's value once found
	model string
	// found: model is the value of the first "model" key, a string
	found bool
	// other: the first "model" key's value is not a string, or is too long
	// to be a model; the body must be read whole to say what it is
	other bool
}

const (
	captureKey = iota
	captureModel
)

// maxCapture bounds what the scan keeps of a key or a model: no key that
// decodes to "model" is longer (five letters, each at most a six-byte \u
// escape, and the quotes), and no model is valid past maxModelLength bytes,
// each at most six escaped.
const maxCapture = 6*maxModelLength + 2

// settled reports whether the scan knows what the model is, or that it
// cannot tell it without the whole body.
func (m *modelScan) settled() bool { return m.found || m.other }

// feed scans the next piece of the body; errModelTwice when it names a
// second model.
func (m *modelScan) feed(p []byte) error {
	for i := 0; i < len(p); {
		if m.inString {
			if !m.capturing {
				i = m.skipString(p, i)
				continue
			}
			i = m.captureString(p, i)
			if !m.inString {
				if err := m.endString(); err != nil {
					return err
				}
			}
			continue
		}
		c := p[i]
		i++
		if m.streamColon && !isSpace(c) {
			m.streamColon = false
			if c == ':' {
				m.streamValue = true
				continue
			}
		}
		if m.streamValue && !isSpace(c) {
			m.streamValue = false
			m.stream = c == 't'
		}
		if m.colonNext && !isSpace(c) {
			m.colonNext = false
			if c == ':' {
				m.valueNext = true
				continue
			}
			m.other = true // malformed: leave it to the whole body
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			m.inString, m.esc = true, false
			if m.depth == 1 && (m.keyNext || m.valueNext) {
				m.capturing, m.over = true, false
				m.text = append(m.text[:0], c)
				m.capturedIs = captureKey
				if m.valueNext {
					m.capturedIs = captureModel
				}
				m.keyNext, m.valueNext = false, false
			}
			continue
		case '{', '[':
			m.depth++
			m.keyNext = m.depth == 1 && c == '{'
		case '}', ']':
			m.depth--
		case ',':
			m.keyNext = m.depth == 1
		case ':':
			continue
		}
		if m.valueNext {
			// the model's value is a number, an object…: not a string
			m.other, m.valueNext = true, false
		}
	}
	return nil
}

// skipString moves past string text from p[i], to just after its closing
// quote (inString is then false) or to the end of p.
func (m *modelScan) skipString(p []byte, i int) int {
	for {
		j := bytes.IndexByte(p[i:], '"')
		if j < 0 {
			m.esc = trailingEscape(p[i:], m.esc)
			return len(p)
		}
		q := i + j
		// the quote is escaped when an odd number of backslashes precede
		// it, counting the piece before when the run reaches back to i
		n := 0
		for k := q - 1; k >= i && p[k] == '\\'; k-- {
			n++
		}
		if n == q-i && m.esc {
			n++
		}
		m.esc = false
		if n%2 == 0 {
			m.inString = false
			return q + 1
		}
		i = q + 1
	}
}

// trailingEscape reports whether text ending a piece leaves its last
// backslash unpaired; esc is whether the piece began escaped.
func trailingEscape(text []byte, esc bool) bool {
	n := 0
	for k := len(text) - 1; k >= 0 && text[k] == '\\'; k-- {
		n++
	}
	if n == len(text) {
		return esc != (n%2 == 1)
	}
	return n%2 == 1
}

// captureString keeps string text from p[i] byte by byte, to its closing
// quote or the end of p.
func (m *modelScan) captureString(p []byte, i int) int {
	for ; i < len(p); i++ {
		c := p[i]
		if len(m.text) < maxCapture {
			m.text = append(m.text, c)
		} else {
			m.over = true
		}
		switch {
		case m.esc:
			m.esc = false
		case c == '\\':
			m.esc = true
		case c == '"':
			m.inString, m.capturing = false, false
			return i + 1
		}
	}
	return i
}

// endString handles a top-level key or the model's value just read.
func (m *modelScan) endString() error {
	switch m.capturedIs {
	case captureKey:
		if !m.over && isStreamKey(m.text) {
			m.streamColon = true
			return nil
		}
		if m.over || !isModelKey(m.text) {
			return nil
		}
		m.models++
		if m.models > 1 {
			return errModelTwice
		}
		m.colonNext = true
	case captureModel:
		if m.over {
			m.other = true
			return nil
		}
		m.model, m.found = gjson.ParseBytes(m.text).String(), true
	}
	return nil
}

// isStreamKey reports whether the JSON string literal raw (quotes
// included) decodes to "stream".
func isStreamKey(raw []byte) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == `"stream"`
	}
	return len(raw) <= 2+6*6 && gjson.ParseBytes(raw).String() == "stream"
}
