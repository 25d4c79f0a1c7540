package executor_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// The listing is fetched with the credential's own key: the member's key
// never goes upstream, and the credential's never comes back.
func TestModelListingFetchCarriesOnlyTheCredentialsKey(t *testing.T) {
	h := newHarness(t, withTransports, claude("a"))
	h.mock.SetModels("anthropic", "claude-one")
	res := h.serve(http.MethodGet, "/v1/models", anthropicHeader(), "")
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.NotContains(t, res.Body.String(), "key-a")

	reqs := h.mock.Requests()
	require.Len(t, reqs, 1)
	up := reqs[0]
	assert.Equal(t, "anthropic-models", up.Provider)
	assert.Equal(t, http.MethodGet, up.Method)
	assert.Equal(t, "limit=1000", up.RawQuery)
	assert.Equal(t, "key-a", up.Header.Get("X-Api-Key"))
	for name, values := range up.Header {
		for _, v := range values {
			assert.NotContains(t, v, "client-secret-of-alice", "the member's key went upstream in %s", name)
		}
	}
}

// A credential that names its models without a pattern is not asked for
// its list: its models are listed as named, in the client's shape.
func TestModelListingOfFixedListsAsksNoUpstream(t *testing.T) {
	fixed := claude("fixed")
	fixed.Models = []string{"claude-b-fixed", "claude-a-fixed"}
	off := claude("off")
	off.Models = []string{"claude-of-a-disabled-credential"}
	off.Disabled = true
	h := newHarness(t, withTransports, fixed, off)

	res := h.serve(http.MethodGet, "/v1/models", anthropicHeader(), "")
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	body := res.Body.String()
	assert.Equal(t, []string{"claude-a-fixed", "claude-b-fixed"}, listedIDs(body, "data.#.id"), "sorted, without a disabled credential's")
	assert.Equal(t, "claude-a-fixed", gjson.Get(body, "data.0.display_name").String(), "a model without a display name shows its id")
	assert.Equal(t, "1970-01-01T00:00:00Z", gjson.Get(body, "data.0.created_at").String())
	assert.Equal(t, "claude-b-fixed", gjson.Get(body, "last_id").String())
	assert.Empty(t, h.mock.Requests(), "an upstream was asked for a list the credential names")
}

// An OpenAI credential's named models, as an OpenAI SDK lists them.
func TestModelListingOfFixedListsInOpenAIShape(t *testing.T) {
	o := openai("o")
	o.Models = []string{"gpt-fixed"}
	h := newHarness(t, withTransports, o)
	res := h.serve(http.MethodGet, "/v1/models/gpt-fixed", http.Header{"Authorization": {"Bearer client"}}, "")
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	one := res.Body.String()
	assert.Equal(t, "gpt-fixed", gjson.Get(one, "id").String(), one)
	assert.Equal(t, "model", gjson.Get(one, "object").String(), one)
	assert.Equal(t, "openai", gjson.Get(one, "owned_by").String(), one)
	assert.EqualValues(t, 0, gjson.Get(one, "created").Int(), one)
	assert.Empty(t, h.mock.Requests())
}

// An upstream that answers its listing with something that is not one
// leaves the last list in place, and is asked again only after a minute.
func TestModelListingOfAMalformedUpstream(t *testing.T) {
	h := newHarness(t, withTransports, claude("a"))
	now := time.Unix(1_900_000_000, 0)
	h.pool.Now = func() time.Time { return now }
	h.mock.SetModels("anthropic", "claude-one")
	res := h.serve(http.MethodGet, "/v1/models", anthropicHeader(), "")
	require.Equal(t, []string{"claude-one"}, listedIDs(res.Body.String(), "data.#.id"), res.Body.String())

	now = now.Add(11 * time.Minute) // past the list's ten minutes
	for _, body := range []string{`not json`, `{"models":[]}`} {
		h.mock.SetFault("*", mockupstream.Fault{Body: body})
		asked := len(h.mock.Requests())
		for range 2 {
			res := h.serve(http.MethodGet, "/v1/models", anthropicHeader(), "")
			require.Equal(t, http.StatusOK, res.Code, res.Body.String())
			assert.Equal(t, []string{"claude-one"}, listedIDs(res.Body.String(), "data.#.id"), body)
		}
		assert.Len(t, h.mock.Requests(), asked+1, "%s: asked again within the minute", body)
		now = now.Add(61 * time.Second)
	}

	h.mock.ClearFaults()
	h.mock.SetModels("anthropic", "claude-back")
	res = h.serve(http.MethodGet, "/v1/models", anthropicHeader(), "")
	assert.Equal(t, []string{"claude-back"}, listedIDs(res.Body.String(), "data.#.id"), res.Body.String())
}

// A model no credential serves is a 404 model_not_supported in the
// asking client's own error shape.
func TestModelNotServedInEachClientsShape(t *testing.T) {
	gm := &auth.Credential{Name: "g", Provider: auth.Gemini, APIKey: "key-g"}
	h := newHarness(t, withTransports, claude("c"), openai("o"), gm)

	res := h.serve(http.MethodGet, "/v1/models/claude-none", anthropicHeader(), "")
	assert.Equal(t, http.StatusNotFound, res.Code)
	body := res.Body.String()
	assert.Equal(t, "error", gjson.Get(body, "type").String(), body)
	assert.Equal(t, "not_found_error", gjson.Get(body, "error.type").String(), body)
	assert.Contains(t, gjson.Get(body, "error.message").String(), `"claude-none"`)

	res = h.serve(http.MethodGet, "/v1/models/gpt-none", http.Header{"Authorization": {"Bearer client"}}, "")
	assert.Equal(t, http.StatusNotFound, res.Code)
	assert.Equal(t, "model_not_supported", gjson.Get(res.Body.String(), "error.code").String(), res.Body.String())

	res = h.serve(http.MethodGet, "/v1beta/models/gemini-none", http.Header{"X-Goog-Api-Key": {"client"}}, "")
	assert.Equal(t, http.StatusNotFound, res.Code)
	assert.Equal(t, "NOT_FOUND", gjson.Get(res.Body.String(), "error.status").String(), res.Body.String())
	for _, key := range []string{"key-c", "key-o", "key-g"} {
		assert.False(t, strings.Contains(res.Body.String(), key))
	}
}

// A Gemini client is given the upstream's own model objects, limits and
// methods included; an OpenAI client the same models in its shape.
func TestModelListingKeepsGeminisOwnObjects(t *testing.T) {
	gm := &auth.Credential{Name: "g", Provider: auth.Gemini, APIKey: "key-g"}
	h := newHarness(t, withTransports, gm)
	h.mock.SetModels("gemini", "gemini-2.5-flash", "text-embedding-004")

	res := h.serve(http.MethodGet, "/v1beta/models", http.Header{"X-Goog-Api-Key": {"client"}}, "")
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	body := res.Body.String()
	assert.Equal(t, []string{"models/gemini-2.5-flash", "models/text-embedding-004"}, listedIDs(body, "models.#.name"), body)
	assert.Positive(t, gjson.Get(body, "models.0.inputTokenLimit").Int(), "the upstream's object was not kept: %s", body)
	assert.Equal(t, "pageSize=1000", h.mock.Requests()[0].RawQuery)
	assert.Equal(t, "key-g", h.mock.Requests()[0].Header.Get("X-Goog-Api-Key"))
}

// A credential whose listing has never once succeeded is asked again only
// after a minute too, not on every listing a client asks for.
func TestModelListingThatNeverSucceededWaitsToRetry(t *testing.T) {
	h := newHarness(t, withTransports, claude("a"))
	now := time.Unix(1_900_000_000, 0)
	h.pool.Now = func() time.Time { return now }
	h.mock.SetFault("*", mockupstream.Fault{Status: http.StatusInternalServerError})
	for range 3 {
		res := h.serve(http.MethodGet, "/v1/models", anthropicHeader(), "")
		require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	}
	assert.Len(t, h.mock.Requests(), 1, "a listing that never succeeded was asked again within the minute")

	h.mock.ClearFaults()
	h.mock.SetModels("anthropic", "claude-one")
	now = now.Add(61 * time.Second)
	res := h.serve(http.MethodGet, "/v1/models", anthropicHeader(), "")
	assert.Equal(t, []string{"claude-one"}, listedIDs(res.Body.String(), "data.#.id"), res.Body.String())
}
