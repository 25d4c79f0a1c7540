package reqlog

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readDoc(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var d map[string]any
	require.NoError(t, json.Unmarshal(raw, &d))
	return d
}

func TestModeWants(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		status int
		want   bool
	}{
		{"off", 500, false},
		{"errors", 200, false},
		{"errors", 399, false},
		{"errors", 400, true},
		{"errors", 503, true},
		{"errors", 0, true},
		{"all", 200, true},
		{"", 429, true},
		{"", 204, false},
	} {
		m, err := ParseMode(tc.mode)
		require.NoError(t, err)
		assert.Equal(t, tc.want, m.Wants(tc.status), "%q %d", tc.mode, tc.status)
	}
	_, err := ParseMode("some")
	assert.Error(t, err)
}

// Credentials in headers, query parameters and bodies never reach a file.
func TestWriteRedactsEveryCredential(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	require.NoError(t, err)
	const clientKey, upstream = "sk-client-0123456789", "sk-ant-upstream-secret-9876"
	rec := &Record{
		Time: time.Now(), Method: "POST", Path: "/v1beta/models/m:generateContent",
		RawQuery: "key=" + clientKey + "&alt=sse&access_token=tok-secret-1&note=" + upstream,
		Header: http.Header{
			"Authorization":      {"Bearer " + clientKey},
			"X-Api-Key":          {clientKey},
			"X-Goog-Api-Key":     {clientKey},
			"Cookie":             {"session=abc"},
			"Chatgpt-Account-Id": {"acct-1"},
			"X-Custom-Api-Key":   {"custom"},
			"X-Refresh-Token":    {"rt"},
			"User-Agent":         {"claude-cli " + upstream},
			"Content-Type":       {"application/json"},
		},
		RequestBody:    []byte(`{"model":"m","note":"` + clientKey + `"}`),
		ResponseHeader: http.Header{"Set-Cookie": {"a=b"}, "Content-Type": {"application/json"}},
		ResponseBody:   []byte(`{"error":{"message":"Incorrect API key provided: ` + upstream + `"}}`),
		Attempts:       []Attempt{{Credential: "a", Provider: "claude", Status: 401, Start: time.Now()}},
		Secrets:        []string{clientKey, upstream, ""},
	}
	path, err := s.Write(rec)
	require.NoError(t, err)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, secret := range []string{clientKey, upstream, "session=abc", "acct-1", "custom", `"rt"`, "tok-secret-1", "a=b"} {
		assert.NotContains(t, string(raw), secret)
	}
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	d := readDoc(t, path)
	hdr := d["request_headers"].(map[string]any)
	for _, h := range []string{"Authorization", "X-Api-Key", "X-Goog-Api-Key", "Cookie", "Chatgpt-Account-Id", "X-Custom-Api-Key", "X-Refresh-Token"} {
		assert.Equal(t, []any{Redacted}, hdr[h], h)
	}
	assert.Equal(t, []any{"application/json"}, hdr["Content-Type"])
	assert.Equal(t, []any{"claude-cli " + Redacted}, hdr["User-Agent"])
	assert.Equal(t, "access_token=REDACTED&alt=sse&key=REDACTED&note=REDACTED", d["query"])
	assert.Equal(t, map[string]any{"model": "m", "note": Redacted}, d["request_body"].(map[string]any)["json"])
	assert.Equal(t, "a", d["attempts"].([]any)[0].(map[string]any)["credential"])
}

// A body longer than the cap is cut, and a secret across the cut leaves no
// part of itself behind.
func TestBodiesAreCutAtTheCap(t *testing.T) {
	s, err := Open(t.TempDir(), Options{MaxBody: 16})
	require.NoError(t, err)
	secret := "SECRETSECRETSECRET"
	body := strings.Repeat("x", 10) + secret + strings.Repeat("y", 100)
	path, err := s.Write(&Record{Time: time.Now(), RequestBody: []byte(body), Secrets: []string{secret}})
	require.NoError(t, err)
	d := readDoc(t, path)
	b := d["request_body"].(map[string]any)
	assert.Equal(t, true, b["truncated"])
	assert.EqualValues(t, len(body), b["size"])
	assert.Equal(t, "xxxxxxxxxx"+Redacted[:6], b["text"])
	raw, _ := os.ReadFile(path)
	assert.NotContains(t, string(raw), "SECRET")
}

// The directory keeps at most MaxFiles files and MaxBytes bytes, oldest
// out first, and never deletes a file it did not write.
func TestStoreKeepsTheDirectoryWithinItsCaps(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "notes.json")
	require.NoError(t, os.WriteFile(foreign, []byte("{}"), 0o600))
	s, err := Open(dir, Options{MaxFiles: 3})
	require.NoError(t, err)
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var paths []string
	for i := range 5 {
		p, err := s.Write(&Record{Time: start.Add(time.Duration(i) * time.Second), Method: "POST"})
		require.NoError(t, err)
		paths = append(paths, p)
	}
	assert.Equal(t, paths[2:], logFiles(t, dir))
	assert.FileExists(t, foreign)

	// a store opened on the directory later counts what is there
	s2, err := Open(dir, Options{MaxFiles: 2})
	require.NoError(t, err)
	assert.Equal(t, paths[3:], logFiles(t, dir))

	// the byte cap: each file is a few hundred bytes
	info, err := os.Stat(paths[4])
	require.NoError(t, err)
	s2.SetOptions(Options{MaxFiles: 100, MaxBytes: info.Size() + 10})
	assert.Equal(t, paths[4:], logFiles(t, dir))
	p, err := s2.Write(&Record{Time: start.Add(time.Hour), Method: "POST", RequestBody: []byte(strings.Repeat("z", 4096))})
	require.NoError(t, err)
	assert.Equal(t, []string{p}, logFiles(t, dir), "the newest file stays even when it alone is over the cap")
	assert.FileExists(t, foreign)
}

func logFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if fileName.MatchString(e.Name()) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}
