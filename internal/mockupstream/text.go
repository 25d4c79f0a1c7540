package mockupstream

import (
	"crypto/rand"
	"strings"
)

// tokensOf is the mock's deterministic token count for n bytes of text:
// roughly one token per four bytes, at least one.
func tokensOf(n int) int {
	if n <= 0 {
		return 1
	}
	return (n + 3) / 4
}

// deltaCount is how many pieces a streamed reply is split into, at most.
const deltaCount = 4

// chunks splits text into at most deltaCount consecutive pieces, cutting
// after spaces where it can, whose concatenation is text. It always returns
// at least one piece (the empty string for empty text).
func chunks(text string) []string {
	if text == "" {
		return []string{""}
	}
	words := strings.SplitAfter(text, " ")
	per := (len(words) + deltaCount - 1) / deltaCount
	var out []string
	for i := 0; i < len(words); i += per {
		out = append(out, strings.Join(words[i:min(i+per, len(words))], ""))
	}
	return out
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newID returns prefix followed by n random alphanumeric characters, the
// shape of the providers' message, response and request ids.
func newID(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return prefix + string(b)
}
