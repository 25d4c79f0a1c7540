package integration

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// request_retry (an auth file's, or a Caddyfile credential's) sends a
// transient upstream failure to the same credential again before the next
// one is tried; management shows the count.
func TestRequestRetryOnTheSameCredential(t *testing.T) {
	o := startOAuthGateway(t, `
		credential config-retry {
			provider claude
			api_key `+claudeKeyA+`
			base_url MOCK
			priority -2
			request_retry 1
		}`+spareAPIKey)
	file := claudeOAuthFile("sk-ant-oat01-retry", "sk-ant-ort01-retry", time.Now().Add(6*time.Hour), o.mockURL)
	file["request_retry"] = 2
	file["oauth_clients"] = "any" // the test client is no Claude Code
	api := o.serveAuthFile(t, "claude-retry.json", file)
	assert.EqualValues(t, 2, api.credential("claude-retry").Get("request_retry").Int())
	assert.EqualValues(t, 1, api.credential("config-retry").Get("request_retry").Int())

	o.mock.SetFault("sk-ant-oat01-retry", mockupstream.Fault{Status: http.StatusServiceUnavailable, Times: 2})
	res, body := o.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	var keys []string
	for _, r := range o.mock.Requests() {
		keys = append(keys, r.Key)
	}
	assert.Equal(t, []string{"sk-ant-oat01-retry", "sk-ant-oat01-retry", "sk-ant-oat01-retry"}, keys,
		"the transient failures were not retried on the account")
	assert.False(t, api.credential("claude-retry").Get("unavailable").Bool(), "the account cooled though its retry succeeded")

	// past its retries the request moves on: the file's account (retried
	// twice) and the spare fail, the config credential is retried once
	o.mock.Reset()
	o.mock.SetFault("sk-ant-oat01-retry", mockupstream.Fault{Status: http.StatusInternalServerError})
	o.mock.SetFault(claudeKeyB, mockupstream.Fault{Status: http.StatusInternalServerError})
	o.mock.SetFault(claudeKeyA, mockupstream.Fault{Status: http.StatusInternalServerError, Times: 1})
	res, body = o.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	keys = nil
	for _, r := range o.mock.Requests() {
		keys = append(keys, r.Key)
	}
	assert.Equal(t, []string{"sk-ant-oat01-retry", "sk-ant-oat01-retry", "sk-ant-oat01-retry", claudeKeyB, claudeKeyA, claudeKeyA}, keys)
	c := api.credential("claude-retry")
	assert.NotEmpty(t, c.Get(`model_states.#(name=="claude-sonnet-4-5").reason`).String(),
		"an account that failed past its retries did not cool: %s", c.Raw)
}
