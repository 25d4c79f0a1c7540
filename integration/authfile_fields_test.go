package integration

import (
	"net/http"
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
	o.writeAuthFile(t, "claude-hot.json", hot)
	api := o.adminAPI()
	waitFor(t, "the auth file is served", func() bool {
		_, out, _ := api.call(http.MethodGet, "credentials", "")
		return out.Get(`credentials.#(name=="claude-hot")`).Exists()
	})
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
