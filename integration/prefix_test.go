package integration

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// A credential's prefix, from an auth file or the Caddyfile: the credential
// serves "<prefix>/<model>" requests alone, its upstream sees <model> (in
// the body, and in a Gemini path), the listing shows its models under the
// prefix, management shows the prefix, and plain names go to credentials
// without one.
func TestCredentialPrefixRoutesAndStrips(t *testing.T) {
	o := startOAuthGateway(t, `
		credential team-gemini {
			provider gemini
			api_key `+geminiKeyA+`
			base_url MOCK
			prefix team-g
		}`+spareAPIKey)
	file := claudeOAuthFile("sk-ant-oat01-team", "sk-ant-ort01-team", time.Now().Add(6*time.Hour), o.mockURL)
	file["prefix"] = "team-a"
	file["oauth_clients"] = "any" // the test client is no Claude Code
	api := o.serveAuthFile(t, "claude-team.json", file)
	assert.Equal(t, "team-a", api.credential("claude-team").Get("prefix").String())
	assert.Equal(t, "team-g", api.credential("team-gemini").Get("prefix").String())

	res, body := o.do(http.MethodPost, "/v1/messages", anthropicHeader(),
		`{"model":"team-a/claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	res, body = o.do(http.MethodPost, "/v1/messages", anthropicHeader(),
		`{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	reqs := o.mock.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "sk-ant-oat01-team", reqs[0].Key, "the prefixed name went elsewhere")
	assert.Equal(t, "claude-sonnet-4-5", reqs[0].Model, "the prefix went upstream")
	assert.Equal(t, claudeKeyB, reqs[1].Key, "a plain name went to the prefixed account")

	// a name under a prefix is not served by credentials without it
	res, body = o.do(http.MethodPost, "/v1/messages", anthropicHeader(),
		`{"model":"team-z/claude-sonnet-4-5","max_tokens":64,"messages":[]}`)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, claudeKeyB, o.mock.Requests()[2].Key, "an unknown prefix is a plain name")
	assert.Equal(t, "team-z/claude-sonnet-4-5", o.mock.Requests()[2].Model)

	// Gemini names the model in the path
	res, body = o.do(http.MethodPost, "/v1beta/models/team-g/gemini-2.5-pro:generateContent", geminiHeader(),
		`{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	last := o.mock.Requests()[3]
	assert.Equal(t, geminiKeyA, last.Key)
	assert.Equal(t, "/v1beta/models/gemini-2.5-pro:generateContent", last.Path)
	res, body = o.do(http.MethodPost, "/v1beta/models/gemini-2.5-pro:generateContent", geminiHeader(),
		`{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`)
	assert.Equal(t, http.StatusNotFound, res.StatusCode, "a plain name reached the only, prefixed Gemini credential: %s", body)

	// the listing names the models as clients are to ask for them
	o.mock.SetModels("gemini", "gemini-2.5-pro")
	res, body = o.do(http.MethodGet, "/v1beta/models", geminiHeader(), "")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, []string{"models/team-g/gemini-2.5-pro"}, ids(body, "models.#.name"), body)
	assert.Equal(t, "Gemini 2.5 Pro", gjson.Get(body, "models.0.displayName").String(), "the upstream's description is kept")
}
