package mockupstream

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestKeyOf(t *testing.T) {
	cases := []struct {
		name    string
		target  string
		headers []string
		want    string
	}{
		{"x-api-key", "/v1/messages", []string{"x-api-key", "sk-ant-1"}, "sk-ant-1"},
		{"bearer", "/v1/chat/completions", []string{"Authorization", "Bearer sk-oai"}, "sk-oai"},
		{"bearer lower case", "/v1/chat/completions", []string{"Authorization", "bearer sk-low"}, "sk-low"},
		{"x-goog-api-key", "/v1beta/models/g:generateContent", []string{"x-goog-api-key", "AIza-1"}, "AIza-1"},
		{"query key", "/v1beta/models/g:generateContent?alt=sse&key=AIza-q", nil, "AIza-q"},
		{"x-api-key wins", "/v1/messages?key=q", []string{"x-api-key", "a", "Authorization", "Bearer b", "x-goog-api-key", "c"}, "a"},
		{"bearer before goog", "/x?key=q", []string{"Authorization", "Bearer b", "x-goog-api-key", "c"}, "b"},
		{"goog before query", "/x?key=q", []string{"x-goog-api-key", "c"}, "c"},
		{"basic auth is no key", "/v1/models", []string{"Authorization", "Basic dXNlcjpwdw=="}, ""},
		{"empty bearer", "/v1/models", []string{"Authorization", "Bearer "}, ""},
		{"none", "/v1/models", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.target, nil)
			for i := 0; i+1 < len(tc.headers); i += 2 {
				r.Header.Set(tc.headers[i], tc.headers[i+1])
			}
			assert.Equal(t, tc.want, KeyOf(r))
		})
	}
}

func TestFingerprint(t *testing.T) {
	const key = "sk-ant-api03-very-secret-key"
	fp := Fingerprint(key)
	assert.Len(t, fp, 8)
	assert.Equal(t, fp, Fingerprint(key), "stable")
	assert.NotEqual(t, fp, Fingerprint(key+"x"))
	assert.False(t, strings.Contains(key, fp), "does not reveal the key")
	assert.Equal(t, "-", Fingerprint(""))
}
