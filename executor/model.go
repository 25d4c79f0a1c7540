package executor

import (
	"bytes"
	"errors"

	"github.com/tidwall/gjson"
)

// errModelTwice refuses a body with more than one top-level key that
// decodes to "model".
var errModelTwice = errors.New(`the request body names "model" more than once`)

var (
	// modelKey is the end of every plain "model" key; a search for it
	// skips ahead by its first byte, where one for the quote before it
	// stops at every string
	modelKey = []byte(`model"`)
	// escapedLetter is in every \u escape of a letter of "model" (each
	// is \u006X), and rare in anything else: JSON writers escape no
	// letter, and a search for it skips ahead by its rare first byte,
	// where one for \u stops at every escaped newline and quote
	escapedLetter = []byte(`006`)
)

// bodyModel returns the top-level "model" of a JSON request body, the model
// the request is routed, allowed and accounted by. A body naming the key
// twice ({"model":"a","model":"b"}, or a second spelling such as
// "mod\u0065l") is refused: the gateway's parser takes the first, most
// upstream parsers take the last, so a request could pass a credential's
// models and excluded_models as one model and be served as another.
func bodyModel(body []byte) (string, error) {
	// the key is spelled "model" or with \u escapes of its letters: a
	// body with neither twice names it once at most, and costs no walk
	if bytes.Count(body, modelKey) > 1 || bytes.Contains(body, escapedLetter) {
		if modelKeys(body) > 1 {
			return "", errModelTwice
		}
	}
	return gjson.GetBytes(body, "model").String(), nil
}

// modelKeys counts the top-level keys of a JSON object that decode to
// "model". It decodes keys only; values are skipped, so a long string
// full of escapes costs a search for its closing quote. Malformed JSON is
// counted as far as it parses.
func modelKeys(b []byte) int {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0
	}
	n := 0
	for i++; ; i++ {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return n
		}
		end := stringEnd(b, i)
		if end < 0 {
			return n
		}
		if isModelKey(b[i:end]) {
			n++
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return n
		}
		i = skipSpace(b, skipValue(b, i+1))
		if i >= len(b) || b[i] != ',' {
			return n
		}
	}
}

// isModelKey reports whether the JSON string literal raw (quotes included)
// decodes to "model".
func isModelKey(raw []byte) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == `"model"`
	}
	// five letters, each at most a six-byte \u escape
	return len(raw) <= 2+5*6 && gjson.ParseBytes(raw).String() == "model"
}

// stringEnd returns the index just past the closing quote of the string
// that opens at b[i], or -1 when it does not close.
func stringEnd(b []byte, i int) int {
	for j := i + 1; ; j++ {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		j += k
		// the quote is escaped by an odd run of backslashes before it
		backslashes := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return j + 1
		}
	}
}

// skipValue returns the index just past the JSON value that starts at or
// after b[i].
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			end := stringEnd(b, i)
			if end < 0 {
				return len(b)
			}
			if i = end; depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return i
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
