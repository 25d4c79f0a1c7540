package integration

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// Claude Code opens several requests at once for a new session. They must
// land on one credential, though none has answered yet when the others
// are placed; the session's later turns stay there, and another new
// session is still placed by the strategy.
func TestConcurrentFirstTurnsOfOneSessionShareOneCredential(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: affinityPool("")})
	// the answers come late, so every request is placed before any binds
	g.mock.SetFault("*", mockupstream.Fault{FirstByteDelay: 300 * time.Millisecond})
	header := anthropicHeader()
	header.Set("X-Claude-Code-Session-Id", "3f1a6c1e-9d8b-4c2e-8a57-0c4d2b6e9f10")
	const n = 8
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Go(func() {
			res, _ := g.do(http.MethodPost, "/v1/messages", header, claudeReq("claude-sonnet-4-5"))
			statuses[i] = res.StatusCode
		})
	}
	wg.Wait()
	for _, st := range statuses {
		require.Equal(t, http.StatusOK, st)
	}
	keys := map[string]int{}
	for _, r := range g.mock.Requests() {
		keys[r.Key]++
	}
	require.Len(t, keys, 1, "the first turns of one session went to %v", keys)
	var home string
	for k := range keys {
		home = k
	}
	assert.Equal(t, n, keys[home])

	g.mock.ClearFaults()
	assert.Equal(t, home, g.sendTurnKey(t, header))
	other := anthropicHeader()
	other.Set("X-Claude-Code-Session-Id", "7b2e4d10-1c3a-4f5e-9a8b-6d7c0e1f2a3b")
	assert.NotEqual(t, home, g.sendTurnKey(t, other), "a second new session followed the first one's credential")
}

// sendTurnKey sends one Claude request and returns the upstream key that
// served it.
func (g *gateway) sendTurnKey(t *testing.T, header http.Header) string {
	t.Helper()
	before := len(g.mock.Requests())
	res, body := g.do(http.MethodPost, "/v1/messages", header, claudeReq("claude-sonnet-4-5"))
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	reqs := g.mock.Requests()
	require.Greater(t, len(reqs), before)
	return reqs[len(reqs)-1].Key
}
