package authfile_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth/authfile"
	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
)

const authDirFixture = "testdata/authdir"

// The codex fixture's id_token and the account ID its claims carry.
const (
	bobIDToken   = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImZha2Uta2V5LWlkIiwidHlwIjoiSldUIn0.eyJhdWQiOlsiYXBwX0ZBS0VjbGllbnRpZDAwMDAwMCJdLCJhdXRoX3Byb3ZpZGVyIjoicGFzc3dvcmQiLCJlbWFpbCI6ImJvYkBleGFtcGxlLmNvbSIsImVtYWlsX3ZlcmlmaWVkIjp0cnVlLCJleHAiOjE3NjcyMjU2MDAsImlhdCI6MTczNTY4OTYwMCwiaXNzIjoiaHR0cHM6Ly9hdXRoLm9wZW5haS5jb20iLCJzdWIiOiJhdXRoMHxmYWtlLWJvYi0wMDAwMDAiLCJodHRwczovL2FwaS5vcGVuYWkuY29tL2F1dGgiOnsiY2hhdGdwdF9hY2NvdW50X2lkIjoiMGIwYjBiMGItZmFrZS00YWNjLThvdW50LTAwMDAwMDAwMGIwYiIsImNoYXRncHRfcGxhbl90eXBlIjoicGx1cyIsImNoYXRncHRfdXNlcl9pZCI6InVzZXItRkFLRWJvYjAwMDAwMCIsInVzZXJfaWQiOiJ1c2VyLUZBS0Vib2IwMDAwMDAifX0.ZmFrZS1zaWduYXR1cmUtbm90LXZlcmlmaWVk"
	bobAccountID = "0b0b0b0b-fake-4acc-8ount-000000000b0b"
)

func readAuthFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(authDirFixture, name))
	require.NoError(t, err)
	return data
}

func parseAuthFixture(t testing.TB, name string) *authfile.AuthFile {
	t.Helper()
	f, err := authfile.ParseAuthFile(name, readAuthFixture(t, name))
	require.NoError(t, err)
	return f
}

func base64URL(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) }

func intPtr(v int) *int    { return &v }
func boolPtr(v bool) *bool { return &v }

// authFileSecrets lists the secret values of f.
func authFileSecrets(f *authfile.AuthFile) []string {
	var out []string
	for _, s := range []string{f.AccessToken, f.RefreshToken, f.IDToken, f.APIKey} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// jsonKeys returns the top-level keys of a JSON object in file order.
func jsonKeys(t testing.TB, data []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok)
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		require.NoError(t, err)
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		require.NoError(t, dec.Decode(&skip))
	}
	return keys
}

func decodeJSONMap(t testing.TB, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	return m
}

func TestParseAuthFileFixtures(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return tm
	}
	tests := []struct {
		name string
		want authfile.AuthFile
	}{
		{
			name: "claude-alice@example.com.json",
			want: authfile.AuthFile{
				Type:           "claude",
				Email:          "alice@example.com",
				AccessToken:    "sk-ant-oat01-FAKE-alice-access-0000000000000000000000000000000000000000000000000000000000-fake",
				RefreshToken:   "sk-ant-ort01-FAKE-alice-refresh-111111111111111111111111111111111111111111111111111111111-fake",
				Expired:        utc("2025-06-01T16:00:00Z"),
				LastRefresh:    utc("2025-06-01T08:00:00Z"),
				Priority:       10,
				Weight:         intPtr(3),
				ExcludedModels: []string{"claude-3-haiku*", "claude-instant-*"},
			},
		},
		{
			name: "codex-bob@example.com-plus.json",
			want: authfile.AuthFile{
				Type:         "codex",
				Email:        "bob@example.com",
				IDToken:      bobIDToken,
				AccessToken:  "eyJhbGciOiJSUzI1NiIsImtpZCI6ImZha2Uta2V5LWlkIiwidHlwIjoiSldUIn0.eyJhdWQiOlsiaHR0cHM6Ly9hcGkub3BlbmFpLmNvbS92MSJdLCJleHAiOjE3NjcyMjU2MDAsImlzcyI6Imh0dHBzOi8vYXV0aC5vcGVuYWkuY29tIiwic2NwIjpbIm9wZW5pZCIsInByb2ZpbGUiLCJlbWFpbCIsIm9mZmxpbmVfYWNjZXNzIl0sInN1YiI6ImF1dGgwfGZha2UtYm9iLTAwMDAwMCJ9.ZmFrZS1zaWduYXR1cmUtbm90LXZlcmlmaWVk",
				RefreshToken: "rt_FAKE-bob-refresh-2222222222222222222222222222",
				AccountID:    bobAccountID,
				Expired:      utc("2025-06-11T09:30:00Z"),
				LastRefresh:  utc("2025-06-01T09:30:00Z"),
				Websockets:   boolPtr(true),
				BaseURL:      "https://chatgpt.example.com/backend-api/codex",
				Headers:      map[string]string{"Originator": "codex_cli_rs", "X-Team": "platform"},
			},
		},
		{
			// CLIProxyAPI's own Gemini CLI layout: "type": "gemini" with
			// the tokens nested in "token".
			name: "gemini-carol@example.com-all.json",
			want: authfile.AuthFile{
				Type:         "gemini-cli",
				Email:        "carol@example.com",
				AccessToken:  "ya29.FAKE-carol-access-token-3333333333333333333333333333",
				RefreshToken: "1//0gFAKE-carol-refresh-token-44444444444444444444444",
				Expired:      utc("2025-06-01T10:00:00.123456789Z"),
				ProjectIDs:   []string{"proj-alpha", "proj-beta", "proj-gamma"},
			},
		},
		{
			name: "gemini-cli-dave@example.com.json",
			want: authfile.AuthFile{
				Type:         "gemini-cli",
				Email:        "dave@example.com",
				AccessToken:  "ya29.FAKE-dave-access-token-5555555555555555555555555555",
				RefreshToken: "1//0gFAKE-dave-refresh-token-666666666666666666666666",
				Expired:      time.UnixMilli(1748775600000),
				LastRefresh:  utc("2025-06-01T10:00:00Z"),
				ProjectIDs:   []string{"dave-proj-1", "dave-proj-2"},
				ProxyURL:     "socks5://egress.example.com:1080",
				Priority:     -1,
			},
		},
		{
			name: "gemini-apikey-team.json",
			want: authfile.AuthFile{
				Type:     "gemini",
				APIKey:   "AIzaSyFAKE-team-gemini-key-7777777777777",
				BaseURL:  "https://gemini-gateway.internal.example.com",
				Headers:  map[string]string{"X-Goog-User-Project": "team-billing"},
				Priority: 1,
				Weight:   intPtr(0),
			},
		},
		{
			name: "legacy-erin@example.com.json",
			want: authfile.AuthFile{
				Type:           "gemini-cli",
				Email:          "erin@example.com",
				AccessToken:    "ya29.FAKE-erin-access-token-8888888888888888888888888888",
				RefreshToken:   "1//0gFAKE-erin-refresh-token-999999999999999999999999",
				ProjectIDs:     []string{"erin-legacy-proj"},
				LastRefresh:    utc("2025-05-30T08:00:00Z"),
				Expired:        utc("2025-05-30T09:00:00Z"),
				ProxyURL:       "http://proxy.example.com:3128",
				ExcludedModels: []string{"gemini-1.5-*", "gemini-2.0-flash-lite"},
			},
		},
		{
			// Disabled; epoch-number times; the account ID only in the
			// id_token's claims.
			name: "codex-frank@example.com-team.json",
			want: authfile.AuthFile{
				Type:         "codex",
				Email:        "frank@example.com",
				IDToken:      "eyJhbGciOiJSUzI1NiIsImtpZCI6ImZha2Uta2V5LWlkIiwidHlwIjoiSldUIn0.eyJlbWFpbCI6ImZyYW5rQGV4YW1wbGUuY29tIiwiZXhwIjoxNzQ4Nzc1NjAwLCJpc3MiOiJodHRwczovL2F1dGgub3BlbmFpLmNvbSIsInN1YiI6ImF1dGgwfGZha2UtZnJhbmstMDAwMDAwIiwiaHR0cHM6Ly9hcGkub3BlbmFpLmNvbS9hdXRoIjp7ImNoYXRncHRfYWNjb3VudF9pZCI6ImY0YTRmNGE0LWZha2UtNGFjYy04b3VudC0wMDAwMDAwMGY0YTQiLCJjaGF0Z3B0X3BsYW5fdHlwZSI6InRlYW0ifX0.ZmFrZS1zaWduYXR1cmUtbm90LXZlcmlmaWVk",
				AccessToken:  "FAKE-frank-access-aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				RefreshToken: "rt_FAKE-frank-refresh-bbbbbbbbbbbbbbbbbbbbbbbb",
				AccountID:    "f4a4f4a4-fake-4acc-8ount-00000000f4a4",
				Expired:      time.Unix(1748775600, 0),
				LastRefresh:  time.UnixMilli(1748768400000),
				Disabled:     true,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseAuthFixture(t, tt.name)
			want := tt.want
			assert.Equal(t, tt.name, got.Name)
			assert.Equal(t, want.Type, got.Type)
			assert.True(t, got.Supported())
			assert.Equal(t, want.Email, got.Email)
			assert.Equal(t, want.AccessToken, got.AccessToken)
			assert.Equal(t, want.RefreshToken, got.RefreshToken)
			assert.Equal(t, want.IDToken, got.IDToken)
			assert.Equal(t, want.APIKey, got.APIKey)
			assert.True(t, want.Expired.Equal(got.Expired), "expired: want %v, got %v", want.Expired, got.Expired)
			assert.True(t, want.LastRefresh.Equal(got.LastRefresh), "last_refresh: want %v, got %v", want.LastRefresh, got.LastRefresh)
			assert.Equal(t, want.AccountID, got.AccountID)
			assert.Equal(t, want.ProjectIDs, got.ProjectIDs)
			assert.Equal(t, want.Disabled, got.Disabled)
			assert.Equal(t, want.Priority, got.Priority)
			assert.Equal(t, want.Weight, got.Weight)
			assert.Equal(t, want.Websockets, got.Websockets)
			assert.Equal(t, want.Headers, got.Headers)
			assert.Equal(t, want.ProxyURL, got.ProxyURL)
			assert.Equal(t, want.BaseURL, got.BaseURL)
			assert.Equal(t, want.ExcludedModels, got.ExcludedModels)
		})
	}
}

func TestParseAuthFileErrors(t *testing.T) {
	const secret = "sk-ant-oat01-SECRET-do-not-print"
	tests := []struct {
		name    string
		data    string
		wantErr string
	}{
		{"empty", ``, "malformed JSON"},
		{"truncated", `{"type":"claude","access_token":"` + secret, "malformed JSON"},
		{"bad syntax", `{"type":"claude","access_token":"` + secret + `" "x":1}`, "malformed JSON"},
		{"array", `["` + secret + `"]`, "not a JSON object"},
		{"string", `"` + secret + `"`, "not a JSON object"},
		{"trailing data", `{"type":"claude"} {"access_token":"` + secret + `"}`, "data after the object"},
		{"missing type", `{"access_token":"` + secret + `"}`, `missing "type"`},
		{"empty type", `{"type":"","access_token":"` + secret + `"}`, `missing "type"`},
		{"type not a string", `{"type":7,"access_token":"` + secret + `"}`, `"type": want a string`},
		{"token not a string", `{"type":"claude","access_token":["` + secret + `"]}`, `"access_token": want a string`},
		{"legacy token not a string", `{"type":"claude","refresh-token":{"v":"` + secret + `"}}`, `"refresh-token": want a string`},
		{"nested token not a string", `{"type":"gemini","token":{"access_token":7,"refresh_token":"` + secret + `"}}`, `"token.access_token": want a string`},
		{"secret in a time", `{"type":"claude","expired":"` + secret + `"}`, `"expired": want an RFC 3339 time`},
		{"time out of range", `{"type":"claude","expired":1e300}`, `"expired": time out of range`},
		{"bool", `{"type":"claude","disabled":"` + secret + `"}`, `"disabled": want true or false`},
		{"priority", `{"type":"claude","priority":1.5}`, `"priority": want an integer`},
		{"weight", `{"type":"claude","weight":"` + secret + `"}`, `"weight": want an integer`},
		{"project list", `{"type":"gemini-cli","project_id":[1,2]}`, `"project_id": want a string or an array of strings`},
		{"headers not an object", `{"type":"claude","headers":["` + secret + `"]}`, `"headers": want an object of strings`},
		{"header value not a string", `{"type":"claude","headers":{"X-A":1}}`, `header "X-A": want a string`},
		{"header value with CRLF", `{"type":"claude","headers":{"X-A":"` + secret + `\r\nEvil: 1"}}`, `header "X-A": invalid value`},
		{"header name invalid", `{"type":"claude","headers":{"X A":"` + secret + `"}}`, `header "X A": invalid name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := authfile.ParseAuthFile("claude-x@example.com.json", []byte(tt.data))
			require.Error(t, err)
			assert.Nil(t, f)
			assert.Contains(t, err.Error(), `auth file "claude-x@example.com.json"`)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "SECRET")
		})
	}

	t.Run("fixture", func(t *testing.T) {
		const name = "broken-claude-zoe@example.com.json"
		_, err := authfile.ParseAuthFile(name, readAuthFixture(t, name))
		require.Error(t, err)
		assert.Contains(t, err.Error(), name)
		assert.NotContains(t, err.Error(), "sk-ant")
		assert.NotContains(t, err.Error(), "SECRET")
	})
}

func TestParseAuthFileLegacyKeys(t *testing.T) {
	f := parseAuthFixture(t, "legacy-erin@example.com.json")
	out, err := json.Marshal(f)
	require.NoError(t, err)
	// Unchanged values, canonical keys, same positions.
	assert.Equal(t, []string{
		"type", "email", "access_token", "refresh_token", "project_id",
		"last_refresh", "expired", "proxy_url", "excluded_models",
	}, jsonKeys(t, out))
	m := decodeJSONMap(t, out)
	assert.Equal(t, "erin-legacy-proj", m["project_id"])
	assert.Equal(t, "gemini-1.5-*, gemini-2.0-flash-lite", m["excluded_models"], "an unchanged value keeps its form")

	t.Run("canonical key wins", func(t *testing.T) {
		f, err := authfile.ParseAuthFile("x.json", []byte(`{"type":"claude","access-token":"old","access_token":"new","refresh-token":"r1","refresh_token":null}`))
		require.NoError(t, err)
		assert.Equal(t, "new", f.AccessToken)
		assert.Equal(t, "r1", f.RefreshToken, "a null canonical key does not hide the legacy one")
		out, err := json.Marshal(f)
		require.NoError(t, err)
		assert.JSONEq(t, `{"type":"claude","access_token":"new","refresh_token":"r1"}`, string(out))
	})

	t.Run("every legacy key", func(t *testing.T) {
		f, err := authfile.ParseAuthFile("x.json", []byte(`{"type":"codex","access-token":"a","refresh-token":"r","id-token":"i","api-key":"k",
			"last-refresh":"2025-01-02T03:04:05Z","account-id":"acc","project-id":"p","proxy-url":"http://p","base-url":"http://b",
			"excluded-models":["m"]}`))
		require.NoError(t, err)
		assert.Equal(t, "a", f.AccessToken)
		assert.Equal(t, "r", f.RefreshToken)
		assert.Equal(t, "i", f.IDToken)
		assert.Equal(t, "k", f.APIKey)
		assert.Equal(t, "acc", f.AccountID)
		assert.Equal(t, []string{"p"}, f.ProjectIDs)
		assert.Equal(t, "http://p", f.ProxyURL)
		assert.Equal(t, "http://b", f.BaseURL)
		assert.Equal(t, []string{"m"}, f.ExcludedModels)
		assert.Equal(t, time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), f.LastRefresh.UTC())
		out, err := json.Marshal(f)
		require.NoError(t, err)
		for _, k := range jsonKeys(t, out) {
			assert.NotContains(t, k, "-", "legacy key %q written back", k)
		}
	})
}

func TestParseAuthFileProjectIDs(t *testing.T) {
	tests := []struct {
		value string
		want  []string
	}{
		{`"solo-proj"`, []string{"solo-proj"}},
		{`"a,b,c"`, []string{"a", "b", "c"}},
		{`" a , ,b ,"`, []string{"a", "b"}},
		{`["a", " b ", ""]`, []string{"a", "b"}},
		{`"ALL"`, []string{"ALL"}},
		{`""`, nil},
		{`[]`, nil},
		{`null`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			f, err := authfile.ParseAuthFile("g.json", []byte(`{"type":"gemini-cli","project_id":`+tt.value+`}`))
			require.NoError(t, err)
			assert.Equal(t, tt.want, f.ProjectIDs)
		})
	}
}

func TestParseAuthFileTimes(t *testing.T) {
	want := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Time
	}{
		{`"2025-06-01T12:00:00Z"`, want},
		{`"2025-06-01T14:00:00+02:00"`, want},
		{`"2025-06-01T12:00:00.5Z"`, want.Add(500 * time.Millisecond)},
		{`"2025-06-01T12:00:00"`, want},
		{`"2025-06-01 12:00:00Z"`, want},
		{`1748779200`, want},
		{`1748779200000`, want},
		{`1748779200.25`, want.Add(250 * time.Millisecond)},
		{`"1748779200"`, want},
		{`""`, time.Time{}},
		{`0`, time.Time{}},
		{`null`, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			f, err := authfile.ParseAuthFile("c.json", []byte(`{"type":"claude","expired":`+tt.value+`}`))
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(f.Expired), "want %v, got %v", tt.want, f.Expired)
		})
	}
	for _, bad := range []string{`"tomorrow"`, `true`, `{}`, `"2025-13-01T00:00:00Z"`, `-1e15`} {
		_, err := authfile.ParseAuthFile("c.json", []byte(`{"type":"claude","last_refresh":`+bad+`}`))
		assert.Error(t, err, bad)
	}
}

func TestParseAuthFileGeminiType(t *testing.T) {
	tests := []struct {
		data string
		want string
	}{
		{`{"type":"gemini","api_key":"k"}`, "gemini"},
		{`{"type":"gemini","access_token":"a"}`, "gemini-cli"},
		{`{"type":"gemini","token":{"refresh_token":"r"}}`, "gemini-cli"},
		{`{"type":"gemini","api_key":"k","access_token":"a"}`, "gemini"},
		{`{"type":"Gemini-CLI "}`, "gemini-cli"},
		{`{"type":"gemini"}`, "gemini"},
		{`{"type":"qwen"}`, "qwen"},
	}
	for _, tt := range tests {
		f, err := authfile.ParseAuthFile("g.json", []byte(tt.data))
		require.NoError(t, err, tt.data)
		assert.Equal(t, tt.want, f.Type, tt.data)
	}
	f, err := authfile.ParseAuthFile("q.json", []byte(`{"type":"qwen"}`))
	require.NoError(t, err)
	assert.False(t, f.Supported())
}

func TestAccountIDFromIDToken(t *testing.T) {
	assert.Equal(t, bobAccountID, oauth.AccountIDFromIDToken(bobIDToken))

	b64 := func(s string) string { return strings.TrimRight(base64URL(s), "=") }
	jwt := func(payload string) string { return b64(`{"alg":"none"}`) + "." + b64(payload) + "." }
	tests := []struct {
		name, token, want string
	}{
		{"no claim", jwt(`{"email":"x@example.com"}`), ""},
		{"claim without account", jwt(`{"https://api.openai.com/auth":{"chatgpt_plan_type":"plus"}}`), ""},
		{"account not a string", jwt(`{"https://api.openai.com/auth":{"chatgpt_account_id":42}}`), ""},
		{"two segments", b64(`{}`) + "." + b64(`{"https://api.openai.com/auth":{"chatgpt_account_id":"acc-2"}}`), "acc-2"},
		{"padded", b64(`{}`) + "." + base64URL(`{"https://api.openai.com/auth":{"chatgpt_account_id":"acc-3"}}`) + ".sig", "acc-3"},
		{"empty", "", ""},
		{"not a jwt", "sk-ant-oat01-abc", ""},
		{"bad base64", "a.!!!.c", ""},
		{"payload not json", "a." + b64("not json") + ".c", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, oauth.AccountIDFromIDToken(tt.token))
		})
	}
}

func TestAuthFileMarshalUnchangedKeepsEverything(t *testing.T) {
	for _, name := range []string{
		"claude-alice@example.com.json",
		"codex-bob@example.com-plus.json",
		"gemini-carol@example.com-all.json",
		"gemini-cli-dave@example.com.json",
		"gemini-apikey-team.json",
		"codex-frank@example.com-team.json",
	} {
		t.Run(name, func(t *testing.T) {
			data := readAuthFixture(t, name)
			f := parseAuthFixture(t, name)
			out, err := json.Marshal(f)
			require.NoError(t, err)
			assert.JSONEq(t, string(data), string(out))
			assert.Equal(t, jsonKeys(t, data), jsonKeys(t, out))
		})
	}
}

func TestAuthFileMarshalRefreshKeepsUnknownFields(t *testing.T) {
	f := parseAuthFixture(t, "claude-alice@example.com.json")
	before := jsonKeys(t, readAuthFixture(t, "claude-alice@example.com.json"))
	refreshed := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	f.AccessToken = "sk-ant-oat01-FAKE-new-access"
	f.RefreshToken = "sk-ant-ort01-FAKE-new-refresh"
	f.LastRefresh = refreshed
	f.Expired = refreshed.Add(8 * time.Hour)
	f.Priority = 5
	f.Weight = nil

	out, err := json.Marshal(f)
	require.NoError(t, err)
	m := decodeJSONMap(t, out)
	assert.Equal(t, "sk-ant-oat01-FAKE-new-access", m["access_token"])
	assert.Equal(t, "sk-ant-ort01-FAKE-new-refresh", m["refresh_token"])
	assert.Equal(t, "2025-06-02T09:00:00Z", m["last_refresh"])
	assert.Equal(t, "2025-06-02T17:00:00Z", m["expired"])
	assert.Equal(t, float64(5), m["priority"])
	assert.NotContains(t, m, "weight", "a cleared optional field is removed")
	// Keys the gateway does not know, nested ones included, survive.
	assert.Equal(t, "team lead's Max plan", m["custom_note"])
	assert.Equal(t, map[string]any{"plan": "max", "seats": []any{float64(1), float64(2)}, "limits": map[string]any{"five_hour": nil}}, m["usage"])
	// And so does the order of the keys.
	var wantKeys []string
	for _, k := range before {
		if k != "weight" {
			wantKeys = append(wantKeys, k)
		}
	}
	assert.Equal(t, wantKeys, jsonKeys(t, out))

	g, err := authfile.ParseAuthFile(f.Name, out)
	require.NoError(t, err)
	assert.Equal(t, f.AccessToken, g.AccessToken)
	assert.True(t, g.Expired.Equal(f.Expired))
	assert.Equal(t, 5, g.Priority)
	assert.Nil(t, g.Weight)
}

func TestAuthFileMarshalNestedTokenLayout(t *testing.T) {
	f := parseAuthFixture(t, "gemini-carol@example.com-all.json")
	exp := time.Date(2025, 6, 2, 11, 0, 0, 0, time.UTC)
	f.AccessToken = "ya29.FAKE-carol-refreshed"
	f.Expired = exp
	f.LastRefresh = exp.Add(-time.Hour)

	out, err := json.Marshal(f)
	require.NoError(t, err)
	m := decodeJSONMap(t, out)
	assert.Equal(t, "gemini", m["type"], "CLIProxyAPI's type is kept")
	assert.NotContains(t, m, "access_token")
	assert.NotContains(t, m, "expired")
	assert.Equal(t, "2025-06-02T10:00:00Z", m["last_refresh"], "a key the file lacked is added at the top level")
	tok := m["token"].(map[string]any)
	assert.Equal(t, "ya29.FAKE-carol-refreshed", tok["access_token"])
	assert.Equal(t, "2025-06-02T11:00:00Z", tok["expiry"])
	assert.Equal(t, "1//0gFAKE-carol-refresh-token-44444444444444444444444", tok["refresh_token"])
	assert.Equal(t, "GOCSPX-FAKE-client-secret", tok["client_secret"])
	assert.Len(t, tok["scopes"], 3)
	assert.Equal(t, "proj-alpha, proj-beta,proj-gamma", m["project_id"])

	g, err := authfile.ParseAuthFile(f.Name, out)
	require.NoError(t, err)
	assert.Equal(t, "gemini-cli", g.Type)
	assert.Equal(t, f.AccessToken, g.AccessToken)
	assert.True(t, exp.Equal(g.Expired))
}

func TestAuthFileMarshalKeepsValueForms(t *testing.T) {
	t.Run("epoch milliseconds", func(t *testing.T) {
		f := parseAuthFixture(t, "gemini-cli-dave@example.com.json")
		f.Expired = time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
		f.ProjectIDs = []string{"dave-proj-3"}
		out, err := json.Marshal(f)
		require.NoError(t, err)
		m := decodeJSONMap(t, out)
		assert.Equal(t, float64(time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC).UnixMilli()), m["expired"])
		assert.Equal(t, []any{"dave-proj-3"}, m["project_id"], "an array stays an array")
	})
	t.Run("epoch seconds", func(t *testing.T) {
		f := parseAuthFixture(t, "codex-frank@example.com-team.json")
		f.Expired = time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
		f.Disabled = false
		out, err := json.Marshal(f)
		require.NoError(t, err)
		m := decodeJSONMap(t, out)
		assert.Equal(t, float64(time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC).Unix()), m["expired"])
		assert.Equal(t, false, m["disabled"])
	})
	t.Run("comma-separated string", func(t *testing.T) {
		f := parseAuthFixture(t, "gemini-carol@example.com-all.json")
		f.ProjectIDs = append(f.ProjectIDs, "proj-delta")
		f.ExcludedModels = []string{"gemini-1.0-*"}
		out, err := json.Marshal(f)
		require.NoError(t, err)
		m := decodeJSONMap(t, out)
		assert.Equal(t, "proj-alpha,proj-beta,proj-gamma,proj-delta", m["project_id"])
		assert.Equal(t, []any{"gemini-1.0-*"}, m["excluded_models"])
	})
}

func TestAuthFileMarshalFromScratch(t *testing.T) {
	f := &authfile.AuthFile{
		Name:        "codex-new@example.com.json",
		Type:        authfile.FileTypeCodex,
		Email:       "new@example.com",
		AccessToken: "at",
		Expired:     time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		ProjectIDs:  []string{"a", "b"},
		Weight:      intPtr(0),
		Websockets:  boolPtr(false),
	}
	out, err := json.Marshal(f)
	require.NoError(t, err)
	assert.Equal(t, `{"type":"codex","email":"new@example.com","access_token":"at","expired":"2025-06-01T12:00:00Z","project_id":"a,b","weight":0,"websockets":false}`, string(out))
}

func TestAuthFileUnmarshalJSON(t *testing.T) {
	f := authfile.AuthFile{Name: "claude-alice@example.com.json"}
	require.NoError(t, json.Unmarshal(readAuthFixture(t, f.Name), &f))
	assert.Equal(t, "claude-alice@example.com.json", f.Name)
	assert.Equal(t, "alice@example.com", f.Email)
	out, err := json.Marshal(f)
	require.NoError(t, err)
	assert.JSONEq(t, string(readAuthFixture(t, f.Name)), string(out))

	var g authfile.AuthFile
	err = json.Unmarshal([]byte(`{"access_token":"sk-ant-oat01-SECRET"}`), &g)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "SECRET")
}

func TestAuthFileStringNeverLeaksSecrets(t *testing.T) {
	files := []*authfile.AuthFile{{
		Name: "all-secrets.json", Type: "claude", Email: "e@example.com",
		AccessToken: "ACCESS-SECRET", RefreshToken: "REFRESH-SECRET", IDToken: "ID-SECRET", APIKey: "APIKEY-SECRET",
		Disabled: true,
	}}
	entries, err := os.ReadDir(authDirFixture)
	require.NoError(t, err)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") && !strings.HasPrefix(e.Name(), "broken") && !strings.HasPrefix(e.Name(), ".") {
			files = append(files, parseAuthFixture(t, e.Name()))
		}
	}
	require.Len(t, files, 8)
	for _, f := range files {
		outputs := []string{
			f.String(), f.GoString(),
			fmt.Sprint(f), fmt.Sprint(*f),
			fmt.Sprintf("%v %+v %s %#v", f, f, f, f),
			fmt.Sprintf("%v %+v %s %#v", *f, *f, *f, *f),
			fmt.Sprintf("%v %+v", []*authfile.AuthFile{f}, []authfile.AuthFile{*f}),
			fmt.Sprintf("%+v", struct{ F authfile.AuthFile }{*f}),
		}
		for _, out := range outputs {
			assert.Contains(t, out, f.Name)
			for _, s := range authFileSecrets(f) {
				assert.NotContains(t, out, s, "%s leaks a secret", f.Name)
			}
		}
	}
	assert.Equal(t, `auth file "all-secrets.json" (claude, e@example.com, disabled)`, files[0].String())
	odd := authfile.AuthFile{Name: "x.json", Type: "claude\nforged", Email: "a b"}
	assert.Equal(t, `auth file "x.json" ("claude\nforged", "a b")`, odd.String())
}

// FuzzParseAuthFile checks that parsing never panics, that errors name the
// file, and that whatever parses survives a rewrite: unchanged, the output
// reads back to the same fields; with the fields a refresh changes, the
// output reads back to the new values.
func FuzzParseAuthFile(f *testing.F) {
	entries, err := os.ReadDir(authDirFixture)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			data, err := os.ReadFile(filepath.Join(authDirFixture, e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	for _, seed := range []string{
		`{"type":"claude","access-token":"a","access_token":null,"refresh-token":null}`,
		`{"type":"gemini","token":{"access_token":null},"access_token":null,"expired":1e11}`,
		`{"type":"gemini","token":"flat","expired":"1748779200","project_id":["a,b"]}`,
		`{"type":"codex","type":"claude","headers":{},"weight":null,"websockets":"false"}`,
		`{"type":"x","expired":-99999999999,"last_refresh":1.5,"priority":"7"}`,
		`{"type":"x","\u00e9":"\ud800","project-id":" , "}`,
	} {
		f.Add([]byte(seed))
	}

	const name = "fuzz.json"
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := authfile.ParseAuthFile(name, data)
		if err != nil {
			if !strings.Contains(err.Error(), `"`+name+`"`) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		out, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		b, err := authfile.ParseAuthFile(name, out)
		if err != nil {
			t.Fatalf("rewritten file does not parse: %v\n%s", err, out)
		}
		assertSameAuthFields(t, a, b)
		out2, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("rewrite is not stable:\n%s\n%s", out, out2)
		}

		// What a token refresh and an operator change.
		exp := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
		a.AccessToken = "new-access"
		a.RefreshToken = "new-refresh"
		a.Expired = exp
		a.LastRefresh = exp.Add(-time.Hour)
		a.ProjectIDs = []string{"p1", "p2"}
		a.Disabled = !a.Disabled
		a.Weight = intPtr(4)
		a.Headers = map[string]string{"X-New": "v"}
		out, err = json.Marshal(a)
		if err != nil {
			t.Fatalf("marshal after change: %v", err)
		}
		c, err := authfile.ParseAuthFile(name, out)
		if err != nil {
			t.Fatalf("changed file does not parse: %v\n%s", err, out)
		}
		if c.AccessToken != a.AccessToken || c.RefreshToken != a.RefreshToken ||
			!c.Expired.Equal(exp) || !c.LastRefresh.Equal(a.LastRefresh) ||
			fmt.Sprint(c.ProjectIDs) != "[p1 p2]" || c.Disabled != a.Disabled ||
			c.Weight == nil || *c.Weight != 4 || c.Headers["X-New"] != "v" || len(c.Headers) != 1 {
			t.Fatalf("changes did not survive the rewrite:\n%s", out)
		}
	})
}

// assertSameAuthFields compares the known fields of two parsed files.
func assertSameAuthFields(t *testing.T, a, b *authfile.AuthFile) {
	t.Helper()
	ok := a.Type == b.Type && a.Email == b.Email &&
		a.AccessToken == b.AccessToken && a.RefreshToken == b.RefreshToken &&
		a.IDToken == b.IDToken && a.APIKey == b.APIKey &&
		a.Expired.Equal(b.Expired) && a.LastRefresh.Equal(b.LastRefresh) &&
		a.AccountID == b.AccountID && fmt.Sprintf("%q", a.ProjectIDs) == fmt.Sprintf("%q", b.ProjectIDs) &&
		a.Disabled == b.Disabled && a.Priority == b.Priority &&
		fmt.Sprint(derefInt(a.Weight)) == fmt.Sprint(derefInt(b.Weight)) &&
		fmt.Sprint(derefBool(a.Websockets)) == fmt.Sprint(derefBool(b.Websockets)) &&
		fmt.Sprintf("%q", a.Headers) == fmt.Sprintf("%q", b.Headers) &&
		a.ProxyURL == b.ProxyURL && a.BaseURL == b.BaseURL &&
		fmt.Sprintf("%q", a.ExcludedModels) == fmt.Sprintf("%q", b.ExcludedModels)
	if !ok {
		t.Fatalf("fields changed in a rewrite:\n%#v\n%#v", fieldsOf(a), fieldsOf(b))
	}
}

func derefInt(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func derefBool(p *bool) any {
	if p == nil {
		return nil
	}
	return *p
}

// fieldsOf lists a file's fields for a failure message (fuzz inputs only,
// so printing the tokens is fine).
func fieldsOf(f *authfile.AuthFile) []any {
	return []any{
		f.Type, f.Email, f.AccessToken, f.RefreshToken, f.IDToken, f.APIKey,
		f.Expired.String(), f.LastRefresh.String(), f.AccountID, f.ProjectIDs, f.Disabled,
		f.Priority, derefInt(f.Weight), derefBool(f.Websockets), f.Headers, f.ProxyURL, f.BaseURL, f.ExcludedModels,
	}
}

func TestParseAuthFileOperatorFields(t *testing.T) {
	f, err := authfile.ParseAuthFile("a.json", []byte(`{"type":"claude","access_token":"x","disable_cooling":true,"label":"team","note":"paid","priority":3}`))
	require.NoError(t, err)
	assert.True(t, f.DisableCooling)
	assert.Equal(t, "team", f.Label)
	assert.Equal(t, "paid", f.Note)
	assert.Equal(t, 3, f.Priority)
}

func TestParseAuthFilePrefixAndRequestRetry(t *testing.T) {
	f, err := authfile.ParseAuthFile("a.json", []byte(`{"type":"claude","access_token":"x","prefix":"team-a","request_retry":2}`))
	require.NoError(t, err)
	assert.Equal(t, "team-a", f.Prefix)
	require.NotNil(t, f.RequestRetry)
	assert.Equal(t, 2, *f.RequestRetry)

	// CLIProxyAPI's hyphenated spelling is read, and written back in the
	// canonical one when changed
	f, err = authfile.ParseAuthFile("b.json", []byte(`{"type":"claude","access_token":"x","request-retry":"1"}`))
	require.NoError(t, err)
	require.NotNil(t, f.RequestRetry)
	assert.Equal(t, 1, *f.RequestRetry)
	three := 3
	f.RequestRetry = &three
	out, err := f.MarshalJSON()
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"claude","access_token":"x","request_retry":3}`, string(out))

	f, err = authfile.ParseAuthFile("c.json", []byte(`{"type":"claude","access_token":"x"}`))
	require.NoError(t, err)
	assert.Nil(t, f.RequestRetry, "a file that does not say has no retry count")
	assert.Empty(t, f.Prefix)
}
