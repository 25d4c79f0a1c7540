package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// CLIProxyAPI's per-file fields are honoured: label and note show in
// management, disable_cooling keeps an account in rotation through a 429,
// priority puts it in its tier.
func TestAuthFileFieldsHonoured(t *testing.T) {
	o := startOAuthGateway(t, spareAPIKey)
	hot := claudeOAuthFile("sk-ant-oat01-hot", "sk-ant-ort01-hot", time.Now().Add(6*time.Hour), o.mockURL)
	hot["disable_cooling"] = true
	hot["label"] = "team account"
	hot["note"] = "paid by the platform group"
	hot["priority"] = 5
	hot["oauth_clients"] = "any" // the test client is no Claude Code
	api := o.serveAuthFile(t, "claude-hot.json", hot)
	c := api.credential("claude-hot")
	assert.Equal(t, "team account", c.Get("label").String(), c.Raw)
	assert.Equal(t, "paid by the platform group", c.Get("note").String(), c.Raw)
	assert.EqualValues(t, 5, c.Get("priority").Int(), c.Raw)

	// a 429 does not cool it: the next request goes to it again, not to
	// the lower-tier spare
	o.mock.SetFault("sk-ant-oat01-hot", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "600", Times: 1})
	res, body := o.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	res, body = o.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	var keys []string
	for _, r := range o.mock.Requests() {
		keys = append(keys, r.Key)
	}
	assert.Equal(t, []string{"sk-ant-oat01-hot", claudeKeyB, "sk-ant-oat01-hot"}, keys,
		"a credential with disable_cooling was cooled by a 429")
	assert.False(t, api.credential("claude-hot").Get("unavailable").Bool())
}

// A file of a type the gateway does not serve is listed in management as
// skipped, with the reason, and warned about once by name however often
// the directory changes.
func TestAuthFileOfUnservedTypeListedAsSkipped(t *testing.T) {
	o := startOAuthGateway(t, spareAPIKey)
	o.writeAuthFile(t, "qwen-carol.json", map[string]any{"type": "qwen", "access_token": "qwen-secret-token", "email": "carol@example.com"})
	api := o.adminAPI()
	waitFor(t, "the skipped file is listed", func() bool {
		_, out, _ := api.call(http.MethodGet, "credentials", "")
		return out.Get(`credentials.#(name=="qwen-carol")`).Exists()
	})
	c := api.credential("qwen-carol")
	assert.Equal(t, "skipped", c.Get("status").String(), c.Raw)
	assert.Contains(t, c.Get("skipped").String(), `"qwen"`, c.Raw)
	assert.Equal(t, "qwen-carol.json", c.Get("source").String(), c.Raw)
	assert.True(t, c.Get("unavailable").Bool(), c.Raw)
	api.noSecrets("qwen-secret-token")

	// more changes to the directory: still one warning
	o.writeAuthFile(t, "claude-dave.json", claudeOAuthFile("sk-ant-oat01-dave", "sk-ant-ort01-dave", time.Now().Add(6*time.Hour), o.mockURL))
	waitFor(t, "the second file is served", func() bool {
		_, out, _ := api.call(http.MethodGet, "credentials", "")
		return out.Get(`credentials.#(name=="claude-dave")`).Exists()
	})
	warnings := 0
	for _, line := range strings.Split(o.logs(), "\n") {
		if strings.Contains(line, "skipping auth file") && strings.Contains(line, "qwen-carol.json") {
			warnings++
			assert.NotContains(t, line, "qwen-secret-token")
		}
	}
	assert.Equal(t, 1, warnings, "the unserved file was not warned about exactly once")
}
