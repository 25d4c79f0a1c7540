package executor_test

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/executor"
	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

func prefixed(c *auth.Credential, prefix string) *auth.Credential {
	c.Prefix = prefix
	return c
}

// A prefixed credential serves "<prefix>/<model>" alone, and its upstream
// sees <model>; a credential without a prefix serves plain names, not
// names under another credential's prefix.
func TestServePrefixedModelGoesToItsCredentialsStripped(t *testing.T) {
	h := newHarness(t, nil, prefixed(claude("team"), "team-a"), claude("plain"))

	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(),
		`{"model":"team-a/claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	reqs := h.mock.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "key-team", reqs[0].Key, "a prefixed name went to a credential without that prefix")
	assert.Equal(t, "claude-sonnet-4-5", reqs[0].Model, "the prefix went upstream")
	assert.Equal(t, `{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`, string(reqs[0].Body),
		"anything but the model changed on the way up")
	assert.Equal(t, "team-a/claude-sonnet-4-5", h.rec.last(t).Model, "usage names the model as the client did")

	res = h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	reqs = h.mock.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "key-plain", reqs[1].Key, "a plain name went to a prefixed credential")

	// the prefixed credential is the only one for its names: when it
	// cools, the plain one does not stand in
	h.mock.SetFault("key-team", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "30"})
	res = h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), `{"model":"team-a/claude-sonnet-4-5","max_tokens":8,"messages":[]}`)
	assert.Equal(t, http.StatusTooManyRequests, res.Code, res.Body.String())
	assert.Len(t, h.mock.RequestsFor("key-plain"), 1)
	blocked, _ := h.pool.BlockedBy(h.pool.Get("team"), "team-a/claude-sonnet-4-5")
	assert.Equal(t, auth.BlockCooldown, blocked, "the cooldown keys on the model as the client named it")
}

// A name under a prefix nobody has is a plain name: it goes as it is to
// credentials without a prefix (OpenRouter-style "vendor/model" names).
func TestServeSlashedNameWithoutSuchPrefixIsPlain(t *testing.T) {
	oa := &auth.Credential{Name: "or", Provider: auth.OpenAI, APIKey: "key-or", BaseURL: &url.URL{Path: "/v1"}}
	team := &auth.Credential{Name: "team", Provider: auth.OpenAI, APIKey: "key-team", BaseURL: &url.URL{Path: "/v1"}}
	h := newHarness(t, nil, oa, prefixed(team, "team-a"))
	res := h.serve(http.MethodPost, "/v1/chat/completions", openAIHeader(), `{"model":"meta/llama-3","messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	reqs := h.mock.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "key-or", reqs[0].Key)
	assert.Equal(t, "meta/llama-3", reqs[0].Model)
}

// A compressed body is sent decoded, with the model stripped.
func TestServePrefixedCompressedBodyIsSentDecoded(t *testing.T) {
	h := newHarness(t, nil, prefixed(claude("team"), "team-a"))
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write([]byte(`{"model":"team-a/claude-sonnet-4-5","max_tokens":8,"messages":[]}`))
	require.NoError(t, zw.Close())
	header := anthropicHeader()
	header.Set("Content-Encoding", "gzip")
	res := h.serve(http.MethodPost, "/v1/messages", header, zipped.String())
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	reqs := h.mock.Requests()
	require.Len(t, reqs, 1)
	assert.Empty(t, reqs[0].Header.Get("Content-Encoding"))
	assert.Equal(t, "claude-sonnet-4-5", reqs[0].Model)
}

// Gemini names the model in the path: the prefix is stripped there, for
// the Gemini API and for Code Assist's envelope.
func TestServePrefixedGeminiPath(t *testing.T) {
	gm := prefixed(&auth.Credential{Name: "gm", Provider: auth.Gemini, APIKey: "key-gm"}, "team-a")
	h := newHarness(t, nil, gm)
	res := h.serve(http.MethodPost, "/v1beta/models/team-a/gemini-2.5-pro:generateContent", http.Header{"X-Goog-Api-Key": {"client"}, "Content-Type": {"application/json"}},
		`{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	reqs := h.mock.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/v1beta/models/gemini-2.5-pro:generateContent", reqs[0].Path)
	assert.Equal(t, "gemini-2.5-pro", reqs[0].Model)

	res = h.serve(http.MethodPost, "/v1beta/models/gemini-2.5-pro:generateContent", http.Header{"X-Goog-Api-Key": {"client"}, "Content-Type": {"application/json"}},
		`{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`)
	assert.Equal(t, http.StatusNotFound, res.Code, "a plain name reached the prefixed credential")

	// a slashed name under no prefix is not put into an upstream path
	h = newHarness(t, nil, &auth.Credential{Name: "plain", Provider: auth.Gemini, APIKey: "key-plain"})
	res = h.serve(http.MethodPost, "/v1beta/models/tunedModels/x:generateContent", http.Header{"X-Goog-Api-Key": {"client"}, "Content-Type": {"application/json"}},
		`{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`)
	assert.Equal(t, http.StatusNotFound, res.Code, res.Body.String())
	assert.Empty(t, h.mock.Requests())
}

// The listing shows a prefixed credential's models under its prefix.
func TestModelsListedUnderTheCredentialPrefix(t *testing.T) {
	team := prefixed(claude("team"), "team-a")
	team.Models = []string{"claude-team-special"}
	fetched := prefixed(claude("fetched"), "team-b")
	h := newHarness(t, withTransports, team, fetched, claude("plain"))
	h.mock.SetModels("anthropic", "claude-sonnet-4-5")
	res := h.serve(http.MethodGet, "/v1/models", anthropicHeader(), "")
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	var listed []string
	for _, id := range gjson.Get(res.Body.String(), "data.#.id").Array() {
		listed = append(listed, id.String())
	}
	assert.Equal(t, []string{"claude-sonnet-4-5", "team-a/claude-team-special", "team-b/claude-sonnet-4-5"}, listed)

	res = h.serve(http.MethodGet, "/v1/models/team-b/claude-sonnet-4-5", anthropicHeader(), "")
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	assert.Equal(t, "team-b/claude-sonnet-4-5", gjson.Get(res.Body.String(), "id").String())
}

// A big body that could go upstream as it arrives is read whole first
// when its credential has a prefix: the model in it is rewritten.
func TestServePrefixedBigBodyIsRewrittenWhole(t *testing.T) {
	h := newHarness(t, func(o *executor.Options) { o.MaxBody = 4 << 20 }, prefixed(claude("team"), "team-a"))
	body := `{"model":"team-a/claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"` + strings.Repeat("x", 300<<10) + `"}]}`
	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), body)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	reqs := h.mock.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, strings.Replace(body, "team-a/", "", 1), string(reqs[0].Body))
}
