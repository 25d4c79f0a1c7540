package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/internal/mockoauth"
)

// A refresh token that the background refresher finds dead takes its
// credential out before any request trips on it, and the operator is told
// which file and why.
func TestOAuthBackgroundRevocationDisablesTheCredential(t *testing.T) {
	o := startOAuthGateway(t, spareAPIKey)
	o.token.SetFault("sk-ant-ort01-gone", mockoauth.Fault{Status: http.StatusBadRequest, Error: "invalid_grant", Description: "refresh token revoked"})
	o.writeAuthFile(t, "claude-erin.json", claudeOAuthFile("sk-ant-oat01-stale", "sk-ant-ort01-gone", time.Now().Add(-time.Minute), o.mockURL))
	waitFor(t, "the background refresher tries the file", func() bool { return o.token.Refreshes() > 0 })
	waitFor(t, "the revocation is logged", func() bool {
		for _, line := range strings.Split(o.logs(), "\n") {
			if strings.Contains(line, `"level":"error"`) && strings.Contains(line, "refused for good") &&
				strings.Contains(line, "claude-erin.json") && strings.Contains(line, "invalid_grant") {
				return true
			}
		}
		return false
	})
	assert.NotContains(t, o.logs(), "sk-ant-ort01-gone", "the refresh token reached the logs")

	// the higher-priority account is out: the spare answers at the first
	// attempt, and the dead account is not refreshed again
	before := o.token.Refreshes()
	res, body := o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	var events []string
	waitFor(t, "the usage event", func() bool {
		events = events[:0]
		for _, e := range o.usageEvents() {
			events = append(events, e.Raw)
		}
		return len(events) == 1
	})
	assert.Contains(t, events[0], `"credential":"spare"`)
	assert.Contains(t, events[0], `"attempts":1`, "a request tripped over the revoked account")
	assert.Equal(t, before, o.token.Refreshes())
}
