package executor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scanInPieces runs a modelScan over body cut into pieces of size n.
func scanInPieces(body []byte, n int) (*modelScan, error) {
	m := new(modelScan)
	for len(body) > 0 {
		k := min(n, len(body))
		if err := m.feed(body[:k]); err != nil {
			return m, err
		}
		body = body[k:]
	}
	return m, nil
}

var modelScanCases = []struct {
	name, body string
	model      string // "" when the scan does not find one
	twice      bool
	other      bool
}{
	{"first", `{"model":"claude-opus-4-1","messages":[]}`, "claude-opus-4-1", false, false},
	{"later", `{"messages":[{"role":"user","content":"a \"model\": \"x\""}],"model":"gpt-5"}`, "gpt-5", false, false},
	{"nested keys do not count", `{"tools":[{"model":"a"},{"input_schema":{"model":{"type":"string"}}}],"model":"m"}`, "m", false, false},
	{"escaped value", `{"model":"claude\u002dopus\\x"}`, "claude-opus\\x", false, false},
	{"spaces", " {\n\t\"model\" :\r\n \"m\" , \"x\":1}", "m", false, false},
	{"backslash runs", `{"system":"a\\\\\"b\\\\","model":"m"}`, "m", false, false},
	{"twice", `{"model":"a","stream":true,"model":"b"}`, "", true, false},
	{"twice escaped", `{"model":"a","mod\u0065l":"b"}`, "", true, false},
	{"number", `{"model":42}`, "", false, true},
	{"object", `{"model":{"id":"m"}}`, "", false, true},
	{"none", `{"messages":[]}`, "", false, false},
	{"array body", `[{"model":"m"}]`, "", false, false},
	{"key in a value", `{"note":"\"model\":\"x\"","model":"y"}`, "y", false, false},
	{"long key", `{"` + strings.Repeat("k", 500) + `":1,"model":"m"}`, "m", false, false},
}

// The scan finds what bodyModel finds in the whole body, however the body
// is cut into pieces.
func TestModelScanAgreesWithBodyModel(t *testing.T) {
	for _, tc := range modelScanCases {
		t.Run(tc.name, func(t *testing.T) {
			want, wantErr := bodyModel([]byte(tc.body))
			require.Equal(t, tc.twice, wantErr != nil, "the case disagrees with bodyModel")
			for n := 1; n <= len(tc.body); n++ {
				m, err := scanInPieces([]byte(tc.body), n)
				if tc.twice {
					require.ErrorIs(t, err, errModelTwice, "pieces of %d", n)
					continue
				}
				require.NoError(t, err, "pieces of %d", n)
				assert.Equal(t, tc.other, m.other, "pieces of %d", n)
				if tc.model != "" {
					assert.True(t, m.found, "pieces of %d", n)
					assert.Equal(t, want, m.model, "pieces of %d", n)
					assert.Equal(t, tc.model, m.model, "pieces of %d", n)
				} else {
					assert.False(t, m.found, "pieces of %d", n)
				}
			}
		})
	}
}

func FuzzModelScan(f *testing.F) {
	for _, tc := range modelScanCases {
		f.Add([]byte(tc.body), 3)
	}
	f.Fuzz(func(t *testing.T, body []byte, n int) {
		if n <= 0 || n > 64 {
			return
		}
		// an upstream refuses a body that is not JSON, whatever model the
		// two readings would see in it
		if !json.Valid(body) {
			return
		}
		m, err := scanInPieces(body, n)
		want, wantErr := bodyModel(body)
		if err != nil {
			if wantErr == nil {
				t.Fatalf("scan refused %q as naming the model twice; bodyModel did not", body)
			}
			return
		}
		if wantErr != nil {
			t.Fatalf("bodyModel refused %q as naming the model twice; the scan did not", body)
		}
		if m.found && m.model != want {
			t.Fatalf("scan found %q, bodyModel %q in %q", m.model, want, body)
		}
		if !m.found && !m.other && want != "" {
			t.Fatalf("scan found no model, bodyModel %q in %q", want, body)
		}
	})
}

// largeClaudeBody is a Claude Code conversation of about size bytes: the
// model first, then turns of code and prose.
func largeClaudeBody(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"model":"claude-sonnet-4-5","messages":[`)
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"role":"user","content":[{"type":"text","text":"turn %d: func main() {\n\tfmt.Println(\"hello \\\"world\\\"\")\n}\n%s"}]}`, i, strings.Repeat("The handler reads the file and returns. ", 50))
	}
	b.WriteString(`],"metadata":{"user_id":"u"},"max_tokens":32000,"stream":true}`)
	return b.Bytes()
}

// BenchmarkModelScan is the scan a body sent as it arrives goes through,
// over a 1 MB conversation in 32 KB pieces; compare with bodyModel over
// the same body held whole.
func BenchmarkModelScan(b *testing.B) {
	body := largeClaudeBody(1 << 20)
	b.Run("scan-1MB", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if m, err := scanInPieces(body, 32<<10); err != nil || m.model != "claude-sonnet-4-5" {
				b.Fatal(m.model, err)
			}
		}
	})
	b.Run("bodyModel-1MB", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if m, err := bodyModel(body); err != nil || m != "claude-sonnet-4-5" {
				b.Fatal(m, err)
			}
		}
	})
}
