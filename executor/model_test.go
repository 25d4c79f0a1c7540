package executor

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/tidwall/gjson"
)

func TestBodyModel(t *testing.T) {
	tests := []struct {
		name, body, want string
		twice            bool
	}{
		{"plain", `{"model":"claude-sonnet-4-5","messages":[]}`, "claude-sonnet-4-5", false},
		{"none", `{"messages":[]}`, "", false},
		{"escaped key", `{"mod\u0065l":"gpt-5"}`, "gpt-5", false},
		{"escaped value", `{"model":"gpt\u002d5"}`, "gpt-5", false},
		{"nested model keys", `{"model":"gpt-5","tools":[{"parameters":{"properties":{"model":{"type":"string"}}}}],"metadata":{"model":"x"}}`, "gpt-5", false},
		{"model in text", `{"model":"gpt-5","messages":[{"content":"say \"model\": \u00e9"}]}`, "gpt-5", false},
		{"repeated", `{"model":"a","model":"b"}`, "", true},
		{"repeated apart", `{"model":"a","messages":[{"role":"user","content":"hi"}],"model":"b"}`, "", true},
		{"escaped twin", `{"model":"a","mod\u0065l":"b"}`, "", true},
		{"escaped twins", `{"\u006dodel":"a","m\u006F\u0064el":"b"}`, "", true},
		{"same value twice", `{"model":"a","model":"a"}`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bodyModel([]byte(tt.body))
			if tt.twice {
				assert.ErrorIs(t, err, errModelTwice)
				return
			}
			assert.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// The check costs a prefilter over a body that names the model once in
// plain ASCII, and one pass over the top level otherwise.
func BenchmarkBodyModel(b *testing.B) {
	text := strings.Repeat("lorem ipsum dolor sit amet ", 40000) // ~1 MB
	for _, bc := range []struct{ name, body string }{
		{"ascii", `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"` + text + `"}]}`},
		{"escapes", `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"\u00e9` + text + `"}]}`},
		{"nested model", `{"model":"claude-sonnet-4-5","tools":[{"input_schema":{"properties":{"model":{"type":"string"}}}}],"messages":[{"role":"user","content":"` + text + `"}]}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body := []byte(bc.body)
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := bodyModel(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// modelKeys agrees with a full parse of the top level on every valid
// object.
func FuzzModelKeys(f *testing.F) {
	for _, s := range []string{
		`{"model":"a","model":"b"}`, `{"model":"a","mod\u0065l":"b"}`, `{ "a" : [1,{"model":2}] , "model" : "x\"y" }`,
		`{"m":"\\","model":true,"x":{"model":[]},"model":null}`, `{"\u006dodel":1}`, `[{"model":1}]`, `{"model":"\\\""}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !gjson.Valid(s) {
			return
		}
		want := 0
		gjson.Parse(s).ForEach(func(key, _ gjson.Result) bool {
			if key.Type == gjson.String && key.String() == "model" {
				want++
			}
			return true
		})
		if got := modelKeys([]byte(s)); got != want {
			t.Fatalf("modelKeys(%s) = %d, want %d", s, got, want)
		}
	})
}
