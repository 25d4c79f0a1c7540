package integration

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// A member's own account headers and cookies do not reach the upstream
// (OpenAI answers a foreign organization with 401, which would block the
// pooled credential), and neither does the client's Accept-Encoding.
func TestClientAccountHeadersAreStripped(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	h := bearer()
	h.Set("OpenAI-Organization", "org-member")
	h.Set("OpenAI-Project", "proj-member")
	h.Set("Chatgpt-Account-Id", "acct-member")
	h.Set("Cookie", "session=member-cookie")
	h.Set("Accept-Encoding", "br")
	res, body := g.do(http.MethodPost, "/v1/chat/completions", h, `{"model":"gpt-5","messages":[]}`)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	r := g.mock.Requests()[0]
	for _, name := range []string{"Openai-Organization", "Openai-Project", "Chatgpt-Account-Id", "Cookie"} {
		assert.Empty(t, r.Header.Get(name), name)
	}
	assert.NotEqual(t, "br", r.Header.Get("Accept-Encoding"))
}

// A stream that opened with an error on the last attempt is answered by the
// gateway with a retryable error, and the credential stays cooled: the
// failed answer is not taken for a success.
func TestReleasedStreamErrorKeepsTheCooldown(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: `
		client_key ` + clientKey + `
		credential only {
			provider claude
			api_key key-only
			base_url MOCK
		}`})
	g.mock.SetFault("*", mockupstream.Fault{StreamError: "overloaded_error"})
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode, body)
	assert.Contains(t, gjson.Get(body, "error.message").String(), "failed", body)
	assert.NotEmpty(t, res.Header.Get("Retry-After"))
	res, body = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode, body)
	assert.Len(t, g.mock.Requests(), 1, "the overloaded credential was not cooled")
}

// A lookup of a model that does not exist blocks nothing.
func TestUnknownModelLookupBlocksNothing(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	g.mock.SetFault("*", mockupstream.Fault{Status: http.StatusNotFound, Times: 1,
		Body: `{"type":"error","error":{"type":"not_found_error","message":"model: claude-typo"}}`})
	res, _ := g.do(http.MethodGet, "/v1/models/claude-typo", anthropicHeader(), "")
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	res, body := g.do(http.MethodGet, "/v1/models", anthropicHeader(), "")
	assert.Equal(t, http.StatusOK, res.StatusCode, body)
}

// Dot segments cannot walk a served prefix onto another upstream path.
func TestDotSegmentsAreNotServed(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	req, err := http.NewRequest(http.MethodGet, g.url("/v1/models/x/../../v1/files"), nil)
	require.NoError(t, err)
	req.URL.RawPath = "/v1/models/x/../../v1/files"
	req.URL.Opaque = "/v1/models/x/../../v1/files"
	req.Header = bearer()
	res, err := g.tester.Client.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Empty(t, g.mock.Requests(), "a dot-segment path reached an upstream")
}

// Model names are bounded: they key cursors, bindings and health states.
func TestOverlongModelIsRefused(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(),
		`{"model":"`+strings.Repeat("m", 300)+`","messages":[]}`)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.Equal(t, "invalid_request", gjson.Get(body, "error.code").String(), body)
	assert.Empty(t, g.mock.Requests())
}
