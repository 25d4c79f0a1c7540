package integration

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

func ids(body, path string) []string {
	var out []string
	for _, r := range gjson.Get(body, path).Array() {
		out = append(out, r.String())
	}
	return out
}

// GET /v1/models is answered from the pool for the member asking: each
// credential's own list and its upstream's, without excluded models, the
// member's colleagues' personal credentials, and models nobody can serve
// now; in the shape of the client's protocol.
func TestModelListingFromThePool(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: `
		client_key ` + clientKey + ` alice
		client_key ` + bobKey + ` bob
		credential listed {
			provider claude
			api_key ` + claudeKeyA + `
			base_url MOCK
			models claude-team-special
		}
		credential fetched {
			provider claude
			api_key ` + claudeKeyB + `
			base_url MOCK
			excluded_models claude-3-5-*
		}
		credential alice-personal {
			provider claude
			api_key key-alice-personal
			base_url MOCK
			models claude-alice-only
			allowed_clients alice
		}
		credential oa {
			provider openai
			api_key ` + openAIKey + `
			base_url MOCK/v1
		}
		credential gm {
			provider gemini
			api_key ` + geminiKeyA + `
			base_url MOCK
		}`})
	g.mock.SetModels("anthropic", "claude-sonnet-4-5-20250929", "claude-3-5-haiku-20241022")
	g.mock.SetModels("openai", "gpt-4o", "gpt-4.1")
	g.mock.SetModels("gemini", "gemini-2.5-pro")
	as := func(key string) http.Header { return hdr("X-Api-Key", key, "Anthropic-Version", "2023-06-01") }

	res, body := g.do(http.MethodGet, "/v1/models", as(clientKey), "")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, []string{"claude-alice-only", "claude-sonnet-4-5-20250929", "claude-team-special"}, ids(body, "data.#.id"), body)
	assert.Equal(t, "model", gjson.Get(body, "data.0.type").String(), body)
	assert.True(t, gjson.Get(body, "data.0.created_at").Exists(), body)
	assert.False(t, gjson.Get(body, "has_more").Bool(), body)

	// bob does not see alice's personal account's models; x-api-key alone
	// makes an Anthropic client
	res, body = g.do(http.MethodGet, "/v1/models", hdr("X-Api-Key", bobKey), "")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, []string{"claude-sonnet-4-5-20250929", "claude-team-special"}, ids(body, "data.#.id"), body)
	res, _ = g.do(http.MethodGet, "/v1/models/claude-alice-only", hdr("X-Api-Key", bobKey), "")
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	res, body = g.do(http.MethodGet, "/v1/models/claude-team-special", as(clientKey), "")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, "claude-team-special", gjson.Get(body, "id").String(), body)

	// OpenAI shape by default
	res, body = g.do(http.MethodGet, "/v1/models", bearer(), "")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, "list", gjson.Get(body, "object").String(), body)
	assert.Equal(t, []string{"gpt-4.1", "gpt-4o"}, ids(body, "data.#.id"), body)
	assert.Equal(t, "model", gjson.Get(body, "data.0.object").String(), body)
	assert.NotEmpty(t, gjson.Get(body, "data.0.owned_by").String(), body)

	// Gemini shape on /v1beta/models
	res, body = g.do(http.MethodGet, "/v1beta/models", geminiHeader(), "")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, []string{"models/gemini-2.5-pro"}, ids(body, "models.#.name"), body)
	res, body = g.do(http.MethodGet, "/v1beta/models/gemini-2.5-pro", geminiHeader(), "")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, "models/gemini-2.5-pro", gjson.Get(body, "name").String(), body)

	// no upstream secret in any answer, and each upstream was asked once
	// with its own key
	for _, k := range []string{claudeKeyA, claudeKeyB, openAIKey, geminiKeyA} {
		assert.NotContains(t, body, k)
	}
	listings := map[string]int{}
	for _, r := range g.mock.Requests() {
		listings[r.Key]++
	}
	assert.Equal(t, map[string]int{claudeKeyB: 1, openAIKey: 1, geminiKeyA: 1}, listings,
		"credentials with a literal list are not asked; the others once per 10 minutes")
}

// A model whose every credential is cooling drops out of the listing and
// comes back with its credential.
func TestModelListingLeavesOutCoolingModels(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: `
		client_key ` + clientKey + `
		credential only {
			provider claude
			api_key ` + claudeKeyA + `
			base_url MOCK
			models claude-sonnet-4-5 claude-opus-4-1
		}`})
	g.mock.SetFault("*", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "60", Times: 1})
	res, _ := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeReq("claude-opus-4-1"))
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	res, body := g.do(http.MethodGet, "/v1/models", anthropicHeader(), "")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, []string{"claude-sonnet-4-5"}, ids(body, "data.#.id"), body)

	g.adminAPI().ok(http.MethodPost, "credentials/only/reset", "")
	res, body = g.do(http.MethodGet, "/v1/models", anthropicHeader(), "")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, []string{"claude-opus-4-1", "claude-sonnet-4-5"}, ids(body, "data.#.id"), body)
}
