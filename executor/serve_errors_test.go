package executor_test

import (
	"fmt"
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
	"github.com/caddy-cliproxy/cliproxy/internal/testutil"
)

func openAIHeader() http.Header {
	return http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer client-secret-of-alice"}}
}

// The gateway's own answer to a request no credential could serve speaks
// the client's API: an OpenAI SDK and a Gemini SDK each parse theirs.
func TestServeAnswersInTheClientsErrorShape(t *testing.T) {
	oa := &auth.Credential{Name: "oa", Provider: auth.OpenAI, APIKey: "sk-oa", BaseURL: &url.URL{Path: "/v1"}}
	gm := &auth.Credential{Name: "gm", Provider: auth.Gemini, APIKey: "AIza-gm"}
	h := newHarness(t, nil, oa, gm)
	h.mock.SetFault("*", mockupstream.Fault{Status: http.StatusServiceUnavailable})

	res := h.serve(http.MethodPost, "/v1/chat/completions", openAIHeader(), `{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}`)
	require.GreaterOrEqual(t, res.Code, 500, res.Body.String())
	body := res.Body.String()
	assert.NotEmpty(t, gjson.Get(body, "error.message").String(), body)
	assert.NotEmpty(t, gjson.Get(body, "error.type").String(), body)
	assert.NotContains(t, body, "sk-oa")

	gh := http.Header{"Content-Type": {"application/json"}, "X-Goog-Api-Key": {"client-secret-of-alice"}}
	res = h.serve(http.MethodPost, "/v1beta/models/gemini-2.5-pro:generateContent", gh, `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`)
	require.GreaterOrEqual(t, res.Code, 500, res.Body.String())
	body = res.Body.String()
	assert.Equal(t, int64(res.Code), gjson.Get(body, "error.code").Int(), "Google's shape carries the status as a number: %s", body)
	assert.NotEmpty(t, gjson.Get(body, "error.status").String(), body)
	assert.NotContains(t, body, "AIza-gm")
}

// Every credential unreachable is a 502 saying so, not a hang or a 500.
func TestServeSaysTheUpstreamCouldNotBeReached(t *testing.T) {
	dead := claude("dead")
	dead.BaseURL = &url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", testutil.Port(t))}
	h := newHarness(t, nil, dead)

	res := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.NoError(t, res.err)
	assert.Equal(t, http.StatusBadGateway, res.Code, res.Body.String())
	assert.Equal(t, executor.CodeUpstreamUnreachable, gjson.Get(res.Body.String(), "error.code").String(), res.Body.String())
	assert.NotContains(t, res.Body.String(), "key-dead")
}

// Bodies the gateway cannot read are refused before any credential is
// spent on them.
func TestServeRefusesBodiesItCannotRead(t *testing.T) {
	h := newHarness(t, nil, claude("a"))
	cases := map[string]struct {
		encoding, body string
	}{
		"corrupt gzip":     {"gzip", "this is not gzip"},
		"control in model": {"", `{"model":"claude\u0001sonnet","max_tokens":8,"messages":[]}`},
		"overlong model":   {"", `{"model":"` + strings.Repeat("m", 300) + `","max_tokens":8,"messages":[]}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			header := anthropicHeader()
			if tc.encoding != "" {
				header.Set("Content-Encoding", tc.encoding)
			}
			res := h.serve(http.MethodPost, "/v1/messages", header, tc.body)
			require.NoError(t, res.err)
			assert.Equal(t, http.StatusBadRequest, res.Code, res.Body.String())
			assert.Equal(t, "error", gjson.Get(res.Body.String(), "type").String(), res.Body.String())
		})
	}
	assert.Empty(t, h.mock.Requests(), "nothing reached the upstream")
}

// An OpenAI key the upstream refuses is not the client's key: the client
// does not get a 401, nor OpenAI's message naming the masked upstream key.
func TestServeKeepsAnUpstreamKeysRefusalFromTheOpenAIClient(t *testing.T) {
	oa := &auth.Credential{Name: "oa", Provider: auth.OpenAI, APIKey: "sk-oa-refused-1234", BaseURL: &url.URL{Path: "/v1"}}
	h := newHarness(t, nil, oa)
	h.mock.SetFault("sk-oa-refused-1234", mockupstream.Fault{Status: http.StatusUnauthorized})

	res := h.serve(http.MethodPost, "/v1/chat/completions", openAIHeader(), `{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}`)
	require.NoError(t, res.err)
	assert.NotEqual(t, http.StatusUnauthorized, res.Code, res.Body.String())
	assert.NotEmpty(t, gjson.Get(res.Body.String(), "error.message").String(), res.Body.String())
	assert.NotContains(t, res.Body.String(), "1234", "not even the masked key")
	ok, _ := h.pool.Available(oa, "gpt-5")
	assert.False(t, ok, "the refused key is out of rotation")
}
