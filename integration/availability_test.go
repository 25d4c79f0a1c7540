package integration

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// GET credentials shows each credential's aggregated availability: a
// model cooling leaves the credential available with its quota in force;
// every model it serves cooling makes it unavailable until the nearest
// recovery.
func TestManagementShowsAggregatedAvailability(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: `
		client_key ` + clientKey + `
		credential only {
			provider claude
			api_key ` + claudeKeyA + `
			base_url MOCK
		}`})
	api := g.adminAPI()
	c := api.credential("only")
	assert.False(t, c.Get("unavailable").Bool(), c.Raw)
	assert.False(t, c.Get("quota.exceeded").Bool(), c.Raw)
	assert.True(t, c.Get("quota.backoff_level").Exists(), c.Raw)
	assert.Empty(t, c.Get("model_states").Array(), c.Raw)

	g.mock.SetFault("*", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "600"})
	before := time.Now()
	res, _ := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeReq("claude-sonnet-4-5"))
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	c = api.credential("only")
	assert.True(t, c.Get("unavailable").Bool(), "its only model is cooling: %s", c.Raw)
	next, err := time.Parse(time.RFC3339Nano, c.Get("next_retry_after").String())
	require.NoError(t, err, c.Raw)
	assert.WithinDuration(t, before.Add(600*time.Second), next, 5*time.Second)
	assert.True(t, c.Get("quota.exceeded").Bool(), c.Raw)
	assert.NotEmpty(t, c.Get("quota.next_recover_at").String(), c.Raw)
	m := c.Get("model_states.0")
	assert.Equal(t, "claude-sonnet-4-5", m.Get("name").String(), c.Raw)
	assert.Equal(t, "cooldown", m.Get("status").String(), c.Raw)
	assert.Equal(t, "cooldown", m.Get("reason").String(), c.Raw)
	assert.Equal(t, c.Get("next_retry_after").String(), m.Get("next_retry_after").String())

	// another model still works: the credential is available again, the
	// first model's quota still in force
	g.mock.ClearFaults()
	res, _ = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeReq("claude-opus-4-1"))
	require.Equal(t, http.StatusOK, res.StatusCode)
	c = api.credential("only")
	assert.False(t, c.Get("unavailable").Bool(), c.Raw)
	assert.True(t, c.Get("quota.exceeded").Bool(), c.Raw)
	assert.Len(t, c.Get("model_states").Array(), 1, "a model never failed has no state: %s", c.Raw)
}
