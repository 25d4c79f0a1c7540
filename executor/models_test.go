package executor_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

func listedIDs(body, path string) []string {
	var ids []string
	for _, m := range gjson.Get(body, path).Array() {
		ids = append(ids, m.String())
	}
	return ids
}

// The listing is the union of the credentials' own lists and their
// upstreams' lists, without excluded models, models of credentials the
// member may not use, and models no credential can serve now.
func TestServeModelsFromThePool(t *testing.T) {
	literal := claude("lit")
	literal.Models = []string{"claude-private-1", "claude-sonnet-*"} // a pattern: the upstream is asked too
	fetched := claude("up")
	fetched.ExcludedModels = []string{"claude-3-5-*"}
	mine := claude("mine")
	mine.Models = []string{"claude-mine-only"}
	mine.AllowedClients = []string{"bob"}
	h := newHarness(t, withTransports, literal, fetched, mine)
	h.mock.SetModels("anthropic", "claude-sonnet-4-5-20250929", "claude-3-5-haiku-20241022", "claude-opus-4-1-20250805")

	res := h.serve(http.MethodGet, "/v1/models", anthropicHeader(), "")
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	body := res.Body.String()
	assert.Equal(t, []string{"claude-opus-4-1-20250805", "claude-private-1", "claude-sonnet-4-5-20250929"},
		listedIDs(body, "data.#.id"), body)
	assert.Equal(t, "model", gjson.Get(body, "data.0.type").String(), body)
	assert.Equal(t, "Claude Opus 4.1", gjson.Get(body, "data.0.display_name").String(), body)
	assert.False(t, gjson.Get(body, "has_more").Bool(), body)
	assert.Equal(t, "claude-opus-4-1-20250805", gjson.Get(body, "first_id").String(), body)

	// one model, and one not served
	res = h.serve(http.MethodGet, "/v1/models/claude-private-1", anthropicHeader(), "")
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.Equal(t, "claude-private-1", gjson.Get(res.Body.String(), "id").String())
	res = h.serve(http.MethodGet, "/v1/models/claude-3-5-haiku-20241022", anthropicHeader(), "")
	assert.Equal(t, http.StatusNotFound, res.Code, "an excluded model was served: %s", res.Body.String())

	// a model whose every credential cools is not listed
	h.pool.RecordFailure(h.pool.Get("up"), "claude-opus-4-1-20250805", auth.Outcome{Status: 429, Hint: auth.Hint{RetryAfter: time.Minute}})
	h.pool.RecordFailure(h.pool.Get("lit"), "claude-private-1", auth.Outcome{Status: 429, Hint: auth.Hint{RetryAfter: time.Minute}})
	res = h.serve(http.MethodGet, "/v1/models", anthropicHeader(), "")
	assert.Equal(t, []string{"claude-sonnet-4-5-20250929"}, listedIDs(res.Body.String(), "data.#.id"), res.Body.String())
}

// The upstream list is fetched once per credential for 10 minutes; a
// failed fetch keeps the last list.
func TestServeModelsCachesTheUpstreamList(t *testing.T) {
	h := newHarness(t, withTransports, claude("a"))
	now := time.Unix(1_900_000_000, 0)
	h.pool.Now = func() time.Time { return now }
	h.mock.SetModels("anthropic", "claude-one")
	for range 3 {
		res := h.serve(http.MethodGet, "/v1/models", anthropicHeader(), "")
		assert.Equal(t, []string{"claude-one"}, listedIDs(res.Body.String(), "data.#.id"))
	}
	assert.Len(t, h.mock.Requests(), 1, "the list was fetched again within its 10 minutes")

	now = now.Add(11 * time.Minute)
	h.mock.SetFault("*", mockupstream.Fault{Status: http.StatusInternalServerError})
	res := h.serve(http.MethodGet, "/v1/models", anthropicHeader(), "")
	assert.Equal(t, []string{"claude-one"}, listedIDs(res.Body.String(), "data.#.id"), "a failed fetch lost the last list")
	assert.Len(t, h.mock.Requests(), 2)

	h.mock.ClearFaults()
	h.mock.SetModels("anthropic", "claude-two")
	now = now.Add(2 * time.Minute)
	res = h.serve(http.MethodGet, "/v1/models", anthropicHeader(), "")
	assert.Equal(t, []string{"claude-two"}, listedIDs(res.Body.String(), "data.#.id"))
}

// Each client gets its own shape: OpenAI by default, Gemini's on /v1beta.
func TestServeModelsShapes(t *testing.T) {
	oa := openai("o")
	gm := &auth.Credential{Name: "g", Provider: auth.Gemini, APIKey: "key-g"}
	h := newHarness(t, withTransports, oa, gm)
	h.mock.SetModels("openai", "gpt-4o")
	h.mock.SetModels("gemini", "gemini-2.5-pro")

	res := h.serve(http.MethodGet, "/v1/models", http.Header{"Authorization": {"Bearer client"}}, "")
	body := res.Body.String()
	assert.Equal(t, "list", gjson.Get(body, "object").String(), body)
	assert.Equal(t, "gpt-4o", gjson.Get(body, "data.0.id").String(), body)
	assert.Equal(t, "model", gjson.Get(body, "data.0.object").String(), body)
	assert.NotEmpty(t, gjson.Get(body, "data.0.owned_by").String(), body)

	res = h.serve(http.MethodGet, "/v1beta/models", http.Header{"X-Goog-Api-Key": {"client"}}, "")
	body = res.Body.String()
	assert.Equal(t, "models/gemini-2.5-pro", gjson.Get(body, "models.0.name").String(), body)
	assert.True(t, gjson.Get(body, "models.0.supportedGenerationMethods").IsArray(), body)
	res = h.serve(http.MethodGet, "/v1beta/models/gemini-2.5-pro", http.Header{"X-Goog-Api-Key": {"client"}}, "")
	assert.Equal(t, "models/gemini-2.5-pro", gjson.Get(res.Body.String(), "name").String(), res.Body.String())
}
