package reqlog

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// However a body is cut into pieces, the scrubbed pieces together are the
// scrubbed body, and no secret (nor a secret's start at the end of what
// went out) leaves before the piece that completes it.
func TestScrubberAcrossPieces(t *testing.T) {
	secrets := []string{"sk-ant-upstream-aaaa-secret", "ya29.token"}
	body := `{"error":{"message":"invalid x-api-key sk-ant-upstream-aaaa-secret; token ya29.token sk-ant-u"}}`
	want := string(Scrub([]byte(body), secrets))
	for size := 1; size <= len(body); size++ {
		for first := 0; first < size && first < len(body); first++ {
			s := NewScrubber(secrets)
			var out strings.Builder
			rest := body
			cut := first
			for len(rest) > 0 {
				n := min(max(cut, 1), len(rest))
				cut = size
				out.Write(s.Next([]byte(rest[:n])))
				rest = rest[n:]
				for _, secret := range secrets {
					assert.NotContains(t, out.String(), secret)
				}
				assert.True(t, strings.HasPrefix(want, out.String()), "size %d: %q is not the start of %q", size, out.String(), want)
			}
			out.Write(s.End())
			assert.Equal(t, want, out.String(), "pieces of %d", size)
		}
	}
}

// The end of an event (a blank line) is never held back: an error event
// goes out whole, when it is complete.
func TestScrubberHoldsOnlyWhatMayBeginASecret(t *testing.T) {
	s := NewScrubber([]string{"sk-secret"})
	assert.Equal(t, "event: error\ndata: {}\n\n", string(s.Next([]byte("event: error\ndata: {}\n\n"))))
	assert.Equal(t, "key ", string(s.Next([]byte("key sk-s"))))
	assert.Equal(t, "REDACTED!", string(s.Next([]byte("ecret!"))))
	assert.Equal(t, "the key ", string(s.Next([]byte("the key sk-"))))
	assert.Equal(t, "sk-x", string(s.Next([]byte("x"))), "a start that turned out no secret goes out")
	assert.Empty(t, s.End())
}

// A body cut inside a secret does not end with the secret's start.
func TestScrubberEndInsideSecret(t *testing.T) {
	s := NewScrubber([]string{"sk-ant-upstream-aaaa-secret"})
	assert.Equal(t, "invalid key ", string(s.Next([]byte("invalid key sk-ant-upstream-aa"))))
	assert.Equal(t, Redacted, string(s.End()))
	assert.Empty(t, s.End())
}

func TestScrubberWithoutSecrets(t *testing.T) {
	s := NewScrubber([]string{"", ""})
	p := []byte("sk-anything")
	assert.Equal(t, p, s.Next(p))
	assert.Empty(t, s.End())
}

// ScrubHeader scrubs values in place and keeps the ones without a secret,
// whatever their names.
func TestScrubHeader(t *testing.T) {
	h := http.Header{
		"X-Echo":                               {"key=sk-secret", "other"},
		"Anthropic-Ratelimit-Tokens-Remaining": {"1000"},
	}
	ScrubHeader(h, []string{"sk-secret", ""})
	assert.Equal(t, []string{"key=REDACTED", "other"}, h["X-Echo"])
	assert.Equal(t, []string{"1000"}, h["Anthropic-Ratelimit-Tokens-Remaining"])
}
