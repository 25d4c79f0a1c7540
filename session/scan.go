package session

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// This file holds the small JSON scanner Extract walks the body with.
//
// gjson.GetBytes copies the raw text of every value it returns, and a
// conversation's messages array is most of the body, so asking gjson for it
// would copy the body. gjson also finds the end of a value one byte at a
// time. The scanner here instead views the body as a string without copying
// it, jumps from quote to quote with strings.IndexByte (vectorised) when it
// skips a value, and hands out substrings of the body. Nothing it returns
// may outlive the call to Extract: the body usually sits in a pooled buffer,
// so Extract clones every value it keeps.
//
// The scanner does not validate. On malformed JSON it stops early and
// reports what it found so far; it never reads out of bounds.

// bytesString views b as a string without copying it.
func bytesString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// stringEnd returns the index just past the closing quote of the string
// literal whose opening quote is s[i], or -1 if the string is not closed.
func stringEnd(s string, i int) int {
	j := i + 1
	for {
		k := strings.IndexByte(s[j:], '"')
		if k < 0 {
			return -1
		}
		j += k
		// The quote is escaped when an odd number of backslashes precede
		// it. The opening quote stops the count.
		n := 0
		for p := j - 1; s[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
		j++
	}
}

// valueEnd returns the index just past the JSON value that starts at s[i],
// or -1 if there is no value there or it is cut short.
func valueEnd(s string, i int) int {
	if i >= len(s) {
		return -1
	}
	switch s[i] {
	case '"':
		return stringEnd(s, i)
	case '{', '[':
		depth := 0
		for i < len(s) {
			switch s[i] {
			case '"':
				if i = stringEnd(s, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	case '}', ']', ',', ':':
		return -1
	}
	// a number or a literal
	j := i
	for j < len(s) {
		switch c := s[j]; c {
		case ',', '}', ']', ':', '"', '{', '[':
			return j
		default:
			if isSpace(c) {
				return j
			}
		}
		j++
	}
	return j
}

// eachMember calls fn with the key (as written, without its quotes) and the
// raw value of each member of the object s holds, in order, until fn
// returns false. It does nothing if s does not hold an object.
func eachMember(s string, fn func(key, value string) bool) {
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return
	}
	i++
	for {
		i = skipSpace(s, i)
		if i >= len(s) || s[i] != '"' {
			return // the end of the object, or malformed
		}
		ke := stringEnd(s, i)
		if ke < 0 {
			return
		}
		key := s[i+1 : ke-1]
		i = skipSpace(s, ke)
		if i >= len(s) || s[i] != ':' {
			return
		}
		i = skipSpace(s, i+1)
		ve := valueEnd(s, i)
		if ve < 0 || !fn(key, s[i:ve]) {
			return
		}
		i = skipSpace(s, ve)
		if i >= len(s) || s[i] != ',' {
			return
		}
		i++
	}
}

// eachElement calls fn with the raw text of each element of the array s
// holds, in order, until fn returns false. It does nothing if s does not
// hold an array.
func eachElement(s string, fn func(value string) bool) {
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '[' {
		return
	}
	i++
	for {
		i = skipSpace(s, i)
		ve := valueEnd(s, i)
		if ve < 0 || !fn(s[i:ve]) {
			return // the end of the array, malformed, or stopped
		}
		i = skipSpace(s, ve)
		if i >= len(s) || s[i] != ',' {
			return
		}
		i++
	}
}

// isString reports whether raw is a JSON string literal.
func isString(raw string) bool {
	return len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"'
}

// isArray reports whether raw is a JSON array.
func isArray(raw string) bool { return raw != "" && raw[0] == '[' }

// isObject reports whether raw is a JSON object.
func isObject(raw string) bool { return raw != "" && raw[0] == '{' }

// textIs reports whether the JSON string text (without its quotes, still
// escaped) decodes to want.
func textIs(text, want string) bool {
	if strings.IndexByte(text, '\\') < 0 {
		return text == want
	}
	// Every escape is at least two bytes for at most four decoded ones;
	// anything longer than this cannot decode to something as short as
	// want.
	if len(text) > 6*len(want) {
		return false
	}
	var buf [64]byte
	return string(appendUnescaped(buf[:0], text)) == want
}

// stringIs reports whether raw is a JSON string literal whose text is want.
func stringIs(raw, want string) bool {
	return isString(raw) && textIs(raw[1:len(raw)-1], want)
}

// appendUnescaped appends the decoded JSON string text (without its quotes)
// to dst.
func appendUnescaped(dst []byte, text string) []byte {
	for i := 0; i < len(text); {
		if c := text[i]; c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		b, n, next := unescapeAt(text, i)
		dst = append(dst, b[:n]...)
		i = next
	}
	return dst
}

// unescapeAt decodes the escape sequence at text[i] == '\\' into b[:n] and
// returns the index after it. A sequence that is not valid JSON decodes to
// itself (a bad \u escape to U+FFFD), so every input decodes to something.
func unescapeAt(text string, i int) (b [4]byte, n, next int) {
	if i+1 >= len(text) {
		b[0] = '\\'
		return b, 1, i + 1
	}
	switch c := text[i+1]; c {
	case '"', '\\', '/':
		b[0] = c
	case 'b':
		b[0] = '\b'
	case 'f':
		b[0] = '\f'
	case 'n':
		b[0] = '\n'
	case 'r':
		b[0] = '\r'
	case 't':
		b[0] = '\t'
	case 'u':
		r, ok := hex4(text, i+2)
		if !ok {
			n = utf8.EncodeRune(b[:], utf8.RuneError)
			return b, n, i + 2
		}
		next = i + 6
		if utf16.IsSurrogate(r) {
			r2, ok := rune(0), false
			if next+1 < len(text) && text[next] == '\\' && text[next+1] == 'u' {
				r2, ok = hex4(text, next+2)
			}
			if r = utf16.DecodeRune(r, r2); ok && r != utf8.RuneError {
				next += 6
			} else {
				r = utf8.RuneError // a lone surrogate
			}
		}
		return b, utf8.EncodeRune(b[:], r), next
	default:
		b[0], b[1] = '\\', c
		return b, 2, i + 2
	}
	return b, 1, i + 2
}

// hex4 parses the four hex digits at text[i:].
func hex4(text string, i int) (rune, bool) {
	if i+4 > len(text) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(text[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
