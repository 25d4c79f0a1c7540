package session

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStringEnd(t *testing.T) {
	tests := []struct {
		s    string
		want int
	}{
		{`""`, 2},
		{`"abc"`, 5},
		{`"abc",1`, 5},
		{`"a\"b"`, 6},
		{`"a\\"b`, 5},
		{`"a\\\"b"`, 8},
		{`"\\\\"`, 6},
		{`"abc`, -1},
		{`"abc\"`, -1},
		{`"`, -1},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, stringEnd(tt.s, 0), tt.s)
	}
}

func TestValueEnd(t *testing.T) {
	tests := []struct {
		s    string
		want int
	}{
		{`"x" `, 3},
		{`123,`, 3},
		{`-1.5e3}`, 6},
		{`true]`, 4},
		{`null`, 4},
		{`null `, 4},
		{`{}`, 2},
		{`[]`, 2},
		{`{"a":[1,{"b":"}]"}]} tail`, 20},
		{`["[", "]", "{", "\"]"]x`, 22},
		{`[[[]]`, -1},
		{`{"a":"`, -1},
		{`}`, -1},
		{`]`, -1},
		{`,`, -1},
		{`:`, -1},
		{``, -1},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, valueEnd(tt.s, 0), tt.s)
	}
}

type member struct{ key, value string }

func members(s string) []member {
	var got []member
	eachMember(s, func(k, v string) bool {
		got = append(got, member{k, v})
		return true
	})
	return got
}

func elements(s string) []string {
	var got []string
	eachElement(s, func(v string) bool {
		got = append(got, v)
		return true
	})
	return got
}

func TestEachMember(t *testing.T) {
	assert.Equal(t, []member{{"a", "1"}, {"b", `"x"`}, {`c\"d`, `{"e":[1,2]}`}, {"f", "null"}},
		members(" {\n\"a\" : 1 ,\t\"b\":\"x\",\"c\\\"d\":{\"e\":[1,2]}, \"f\":null } trailing"))
	assert.Empty(t, members(`{}`))
	assert.Empty(t, members(`  { } `))
	assert.Empty(t, members(`[1]`))
	assert.Empty(t, members(`"s"`))
	assert.Empty(t, members(``))
	// malformed: whatever came before the fault
	assert.Equal(t, []member{{"a", "1"}}, members(`{"a":1,"b"`))
	assert.Equal(t, []member{{"a", "1"}}, members(`{"a":1,"b":}`))
	assert.Equal(t, []member{{"a", "1"}}, members(`{"a":1,}`))
	assert.Equal(t, []member{{"a", "1"}}, members(`{"a":1 "b":2}`))
	assert.Empty(t, members(`{"a" 1}`))
	assert.Empty(t, members(`{a:1}`))
	assert.Empty(t, members(`{"a":"unterminated}`))
	// stopping early
	var n int
	eachMember(`{"a":1,"b":2,"c":3}`, func(k, v string) bool { n++; return k != "b" })
	assert.Equal(t, 2, n)
}

func TestEachElement(t *testing.T) {
	assert.Equal(t, []string{"1", `"a,b"`, `{"x":[]}`, "[2,3]", "true"}, elements(` [1, "a,b" ,{"x":[]},[2,3],true] `))
	assert.Empty(t, elements(`[]`))
	assert.Empty(t, elements(`[ ]`))
	assert.Empty(t, elements(`{"a":1}`))
	assert.Equal(t, []string{"1"}, elements(`[1,]`))
	assert.Equal(t, []string{"1"}, elements(`[1 2]`))
	assert.Equal(t, []string{"1"}, elements(`[1,"x`))
	var n int
	eachElement(`[1,2,3]`, func(string) bool { n++; return false })
	assert.Equal(t, 1, n)
}

// randomText mixes ASCII, control characters, quotes, backslashes and
// multi-byte runes, so that encoding/json writes every kind of escape.
func randomText(r *rand.Rand) string {
	pieces := []string{"a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\r", "\b", "\f", "\x00", "\x1f", "\x7f", "<", ">", "&", "é", "€", "😀", "\u2028", "\ufffd"}
	var b strings.Builder
	for range r.IntN(40) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

func TestAppendUnescapedMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		want := randomText(r)
		raw, err := json.Marshal(want)
		require.NoError(t, err)
		text := string(raw[1 : len(raw)-1])
		assert.Equal(t, want, string(appendUnescaped(nil, text)), "%s", raw)

		// every escape written the long way round
		var long strings.Builder
		for _, c := range want {
			if c > 0xffff {
				hi, lo := 0xd800+((c-0x10000)>>10), 0xdc00+((c-0x10000)&0x3ff)
				long.WriteString(`\u` + hex4String(int(hi)) + `\u` + hex4String(int(lo)))
			} else {
				long.WriteString(`\u` + hex4String(int(c)))
			}
		}
		assert.Equal(t, want, string(appendUnescaped(nil, long.String())), long.String())

		// and the hash sees the decoded text
		var a, b fieldHash
		a, b = newFieldHash(), newFieldHash()
		a.writeJSONString(string(raw))
		b.writeString(want)
		assert.Equal(t, b, a)
	}
}

func hex4String(v int) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[v>>12&0xf], digits[v>>8&0xf], digits[v>>4&0xf], digits[v&0xf]})
}

func TestAppendUnescapedOddInput(t *testing.T) {
	tests := map[string]string{
		`\ud83d\ude00`: "😀",
		`\uD83D\uDE00`: "😀",
		`\ud83d`:       "\ufffd",
		`\ud83dx`:      "\ufffdx",
		`\ude00\ud83d`: "\ufffd\ufffd",
		`\ud83d\u0041`: "\ufffdA",
		`\u12`:         "\ufffd12",
		`\uzzzz`:       "\ufffdzzzz",
		`\q`:           `\q`,
		`a\`:           `a\`,
		`\u0000`:       "\x00",
	}
	for in, want := range tests {
		got := string(appendUnescaped(nil, in))
		assert.Equal(t, want, got, in)
		assert.True(t, utf8.ValidString(got) || !utf8.ValidString(in), in)
	}
}

func TestTextIs(t *testing.T) {
	assert.True(t, textIs("role", "role"))
	assert.True(t, textIs(`r\u006fle`, "role"))
	assert.True(t, textIs(`\u0072\u006f\u006c\u0065`, "role"))
	assert.False(t, textIs(`r\u006fles`, "role"))
	assert.False(t, textIs("rol", "role"))
	assert.False(t, textIs(strings.Repeat(`\u0072`, 100), "role"))
	assert.True(t, stringIs(`"user"`, "user"))
	assert.False(t, stringIs(`user`, "user"))
	assert.False(t, stringIs(`"user`, "user"))
	assert.False(t, stringIs(`"`, ""))
}

func TestIsUUID(t *testing.T) {
	assert.True(t, isUUID("6f1c2d3e-4b5a-4978-8a1b-2c3d4e5f6a7b"))
	assert.True(t, isUUID("6F1C2D3E-4B5A-4978-8A1B-2C3D4E5F6A7B"))
	assert.False(t, isUUID("6f1c2d3e-4b5a-4978-8a1b-2c3d4e5f6a7"))
	assert.False(t, isUUID("6f1c2d3e-4b5a-4978-8a1b-2c3d4e5f6a7bb"))
	assert.False(t, isUUID("6f1c2d3e4b5a-4978-8a1b-2c3d4e5f6a7b-"))
	assert.False(t, isUUID("6f1c2d3e-4b5a-4978-8a1b-2c3d4e5f6a7g"))
}

// Allocations must not grow with the body: the hash path of a 1 MB body
// allocates what a 1 KB one does.
func TestExtractAllocsDoNotGrow(t *testing.T) {
	small := `{"system":"s","messages":[{"role":"user","content":"u"},{"role":"assistant","content":"a"}`
	var big strings.Builder
	big.WriteString(small)
	for big.Len() < 1<<20 {
		big.WriteString(`,{"role":"user","content":"more \"text\"\nhere"},{"role":"assistant","content":[{"type":"text","text":"ok"}]}`)
	}
	for _, body := range []string{small, big.String()} {
		b := []byte(body + `],"metadata":{"other":"x"}}`)
		allocs := testing.AllocsPerRun(20, func() { _ = Extract(nil, b, "p") })
		assert.LessOrEqual(t, allocs, 1.0, "body of %d bytes", len(b))
	}
}
