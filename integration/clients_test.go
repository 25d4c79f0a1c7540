package integration

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

const bobKey = "sk-client-bob-9876543210"

// A member's personal credential serves only them; the shared one serves
// everyone.
func TestAllowedClientsKeepPersonalCredentials(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: `
		client_key ` + clientKey + ` alice
		client_key ` + bobKey + ` bob
		credential alice-personal {
			provider claude
			api_key ` + claudeKeyA + `
			base_url MOCK
			allowed_clients alice
			priority 10
		}
		credential shared {
			provider claude
			api_key ` + claudeKeyB + `
			base_url MOCK
		}
		credential alice-only-gemini {
			provider gemini
			api_key ` + geminiKeyA + `
			base_url MOCK
			allowed_clients alice
		}`})
	as := func(key string) http.Header {
		return hdr("X-Api-Key", key, "Anthropic-Version", "2023-06-01")
	}
	for range 3 {
		res, body := g.do(http.MethodPost, "/v1/messages", as(clientKey), claudeBody)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
		res, body = g.do(http.MethodPost, "/v1/messages", as(bobKey), claudeBody)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
	}
	reqs := g.mock.Requests()
	require.Len(t, reqs, 6)
	for i, r := range reqs {
		if i%2 == 0 {
			assert.Equal(t, claudeKeyA, r.Key, "alice's requests go to her own (higher-tier) credential")
		} else {
			assert.Equal(t, claudeKeyB, r.Key, "bob was served by alice's personal credential")
		}
	}
	res, body := g.do(http.MethodPost, "/v1beta/models/gemini-2.5-pro:generateContent", hdr("X-Goog-Api-Key", bobKey), `{"contents":[]}`)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.Equal(t, "NOT_FOUND", gjson.Get(body, "error.status").String())
}

func TestWeightedStrategyEndToEnd(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: `
		client_key ` + clientKey + `
		strategy wrr
		credential heavy {
			provider claude
			api_key ` + claudeKeyA + `
			base_url MOCK
			weight 3
		}
		credential light {
			provider claude
			api_key ` + claudeKeyB + `
			base_url MOCK
		}`})
	for range 8 {
		res, _ := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
		require.Equal(t, http.StatusOK, res.StatusCode)
	}
	counts := map[string]int{}
	for _, r := range g.mock.Requests() {
		counts[r.Key]++
	}
	assert.Equal(t, map[string]int{claudeKeyA: 6, claudeKeyB: 2}, counts)
}

func TestDeprecatedAffinityAliasWarnsAndWorks(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: `
		client_key ` + clientKey + `
		claude_code_session_affinity on
		credential a {
			provider claude
			api_key ` + claudeKeyA + `
			base_url MOCK
		}
		credential b {
			provider claude
			api_key ` + claudeKeyB + `
			base_url MOCK
		}`})
	h := anthropicHeader()
	h.Set("X-Claude-Code-Session-Id", "0d4c3c1e-3c2e-4f51-9f0e-1d6f3b1a2c11")
	for range 4 {
		res, _ := g.do(http.MethodPost, "/v1/messages", h, claudeBody)
		require.Equal(t, http.StatusOK, res.StatusCode)
	}
	reqs := g.mock.Requests()
	for _, r := range reqs[1:] {
		assert.Equal(t, reqs[0].Key, r.Key, "the alias did not turn affinity on")
	}
	assert.Contains(t, g.logs(), "claude_code_session_affinity is deprecated")
}

// With subagent_affinity separate, Claude Code subagents of one session
// spread across credentials; with parent they stay on the parent's.
func TestSubagentAffinity(t *testing.T) {
	for _, mode := range []string{"parent", "separate"} {
		t.Run(mode, func(t *testing.T) {
			g := startGateway(t, gatewayOptions{Handler: `
		client_key ` + clientKey + `
		session_affinity on
		subagent_affinity ` + mode + `
		credential a {
			provider claude
			api_key ` + claudeKeyA + `
			base_url MOCK
		}
		credential b {
			provider claude
			api_key ` + claudeKeyB + `
			base_url MOCK
		}`})
			for _, agent := range []string{"", "agent-1", "agent-2", "agent-1"} {
				h := anthropicHeader()
				h.Set("X-Claude-Code-Session-Id", "0d4c3c1e-3c2e-4f51-9f0e-1d6f3b1a2c11")
				if agent != "" {
					h.Set("X-Claude-Code-Agent-Id", agent)
				}
				res, _ := g.do(http.MethodPost, "/v1/messages", h, claudeBody)
				require.Equal(t, http.StatusOK, res.StatusCode)
			}
			r := g.mock.Requests()
			require.Len(t, r, 4)
			assert.Equal(t, r[1].Key, r[3].Key, "a subagent changed credential between its turns")
			if mode == "parent" {
				assert.Equal(t, r[0].Key, r[1].Key)
				assert.Equal(t, r[0].Key, r[2].Key)
			} else {
				assert.NotEqual(t, r[1].Key, r[2].Key, "separate subagents did not spread")
			}
		})
	}
}
