package cliproxy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// FuzzUnmarshalCaddyfile feeds arbitrary cliproxy blocks to the parser,
// seeded with the documented examples and the error table (DESIGN §13).
// Whatever the input, parsing must not panic; a rejected input names the
// file and line, and an accepted one encodes to JSON as the adapter does.
func FuzzUnmarshalCaddyfile(f *testing.F) {
	for _, seed := range documentedCliproxyBlocks(f) {
		f.Add(seed)
	}
	for _, tc := range caddyfileErrorCases {
		f.Add(tc.input)
	}
	f.Fuzz(func(t *testing.T, input string) {
		d := caddyfile.NewTestDispenser(input)
		if !d.Next() {
			// Caddy hands the parser at least the directive's own token
			return
		}
		d.Reset()
		h := new(Handler)
		err := h.UnmarshalCaddyfile(d)
		if err != nil {
			if !strings.Contains(err.Error(), "Testfile:") {
				t.Fatalf("error names no file and line: %v\ninput:\n%s", err, input)
			}
			return
		}
		if _, err := json.Marshal(h); err != nil {
			t.Fatalf("accepted config does not encode: %v\ninput:\n%s", err, input)
		}
	})
}

// cliproxyBlockStart finds where a cliproxy directive with a block begins.
var cliproxyBlockStart = regexp.MustCompile(`(?m)^[ \t]*cliproxy[ \t]*\{`)

// documentedCliproxyBlocks returns the cliproxy blocks of Caddyfile.example,
// the README's caddyfile examples and the grammar fixtures of testdata/adapt.
func documentedCliproxyBlocks(tb testing.TB) []string {
	tb.Helper()
	files := []string{"Caddyfile.example", "README.md"}
	fixtures, err := filepath.Glob(filepath.Join("testdata", "adapt", "*.caddyfile"))
	if err != nil {
		tb.Fatal(err)
	}
	files = append(files, fixtures...)
	var blocks []string
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		text := string(raw)
		for _, loc := range cliproxyBlockStart.FindAllStringIndex(text, -1) {
			// the block ends at the brace that balances the opening one
			depth := 0
			for i := loc[1] - 1; i < len(text); i++ {
				switch text[i] {
				case '{':
					depth++
				case '}':
					depth--
				}
				if depth == 0 {
					blocks = append(blocks, strings.TrimSpace(text[loc[0]:i+1]))
					break
				}
			}
		}
	}
	if len(blocks) < 4 {
		tb.Fatalf("found only %d documented cliproxy blocks", len(blocks))
	}
	return blocks
}

// TestDocumentedCliproxyBlocksParse keeps the fuzz seeds honest: every
// documented block is one the parser accepts.
func TestDocumentedCliproxyBlocksParse(t *testing.T) {
	for _, block := range documentedCliproxyBlocks(t) {
		h := new(Handler)
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(block)); err != nil {
			t.Errorf("documented block rejected: %v\n%s", err, block)
		}
	}
}
