package integration

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// The client's key must not reach the upstream from any of the places a
// client can put it.
func TestClientKeyNeverGoesUpstream(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	cases := []struct {
		name   string
		path   string
		header http.Header
		body   string
	}{
		{"x-api-key", "/v1/messages", anthropicHeader(), claudeBody},
		{"bearer", "/v1/messages", hdr("Authorization", "Bearer "+clientKey, "Anthropic-Version", "2023-06-01"), claudeBody},
		{"bearer openai", "/v1/chat/completions", bearer(), `{"model":"gpt-5","messages":[]}`},
		{"x-goog-api-key", "/v1beta/models/gemini-2.5-pro:generateContent", geminiHeader(), `{"contents":[]}`},
		{"key query", "/v1beta/models/gemini-2.5-pro:streamGenerateContent?key=" + clientKey + "&alt=sse", nil, `{"contents":[]}`},
		{
			"every place at once", "/v1/messages?key=" + clientKey,
			hdr("Authorization", "Bearer "+clientKey, "X-Api-Key", clientKey, "X-Goog-Api-Key", clientKey, "Anthropic-Version", "2023-06-01"), claudeBody,
		},
		// headers the gateway does not read a key from: Azure SDKs send
		// Api-Key, proxies move Authorization aside, identity-aware
		// proxies forward their tokens
		{"api-key beside x-api-key", "/v1/messages", withHeaders(anthropicHeader(), "Api-Key", clientKey), claudeBody},
		{
			"x-forwarded-authorization", "/v1/chat/completions",
			withHeaders(bearer(), "X-Forwarded-Authorization", "Bearer "+clientKey), `{"model":"gpt-5","messages":[]}`,
		},
		{
			"proxy tokens", "/v1beta/models/gemini-2.5-pro:generateContent",
			withHeaders(geminiHeader(), "Cf-Access-Jwt-Assertion", clientKey, "X-Amzn-Oidc-Accesstoken", clientKey,
				"X-Auth-Request-Access-Token", clientKey, "Ocp-Apim-Subscription-Key", clientKey, "Cookie", "k="+clientKey), `{"contents":[]}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g.mock.Reset()
			res, body := g.do(http.MethodPost, tc.path, tc.header, tc.body)
			require.Equal(t, http.StatusOK, res.StatusCode, body)
			reqs := g.mock.Requests()
			require.Len(t, reqs, 1)
			assertNoSecretIn(t, reqs[0], clientKey)
			assert.Contains(t, upstreamKeys, reqs[0].Key, "the upstream got no gateway key")
		})
	}
}

// withHeaders adds name/value pairs to h.
func withHeaders(h http.Header, pairs ...string) http.Header {
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Add(pairs[i], pairs[i+1])
	}
	return h
}

// assertNoSecretIn checks every part of a recorded upstream request.
func assertNoSecretIn(t *testing.T, r mockupstream.Recorded, secret string) {
	t.Helper()
	var dump bytes.Buffer
	dump.WriteString(r.Path + "?" + r.RawQuery + "\n")
	_ = r.Header.Write(&dump)
	dump.Write(r.Body)
	assert.NotContains(t, dump.String(), secret)
}

// No upstream secret may appear in a response (success or error) or in
// any log line, even at debug level where reverse_proxy logs the requests
// it sends.
func TestUpstreamKeysNeverInResponsesOrLogs(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	var seen bytes.Buffer
	record := func(res *http.Response, body string) {
		_ = res.Header.Write(&seen)
		seen.WriteString(body)
	}
	record(g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody))
	record(g.do(http.MethodPost, "/v1/chat/completions", bearer(), `{"model":"gpt-5","messages":[]}`))
	record(g.do(http.MethodPost, "/v1/chat/completions", bearer(), `{"model":"llama-4","messages":[]}`))
	record(g.do(http.MethodPost, "/v1beta/models/gemini-2.5-pro:generateContent", geminiHeader(), `{"contents":[]}`))
	g.mock.SetFault("*", mockupstream.Fault{Status: http.StatusTooManyRequests})
	record(g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody))
	record(g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody))
	record(g.do(http.MethodPost, "/v1beta/models/gemini-2.5-pro:generateContent", geminiHeader(), `{"contents":[]}`))
	// OpenAI's 401 names the refused key masked, with its last four
	// characters: that fragment must not reach the client either
	g.mock.SetFault("*", mockupstream.Fault{Status: http.StatusUnauthorized})
	res, body := g.do(http.MethodPost, "/v1/chat/completions", bearer(), `{"model":"gpt-5","messages":[]}`)
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode, body)
	record(res, body)
	g.mock.SetFault("*", mockupstream.Fault{Status: http.StatusBadRequest})
	record(g.do(http.MethodPost, "/v1/chat/completions", bearer(), `{"model":"gpt-5","messages":[]}`))

	assert.NotContains(t, seen.String(), "Incorrect API key", "an upstream's refusal of its key reached a client")
	assert.NotContains(t, seen.String(), "****", "a masked upstream key reached a client")
	assert.Empty(t, containsAny(seen.Bytes(), upstreamKeys...), "an upstream key reached a client")
	logs := g.logs()
	require.Contains(t, logs, "upstream roundtrip", "debug logs of reverse_proxy were not captured")
	require.Contains(t, logs, `"cliproxy_credential"`, "access logs were not captured")
	assert.Empty(t, containsAny([]byte(logs), upstreamKeys...), "an upstream key reached the logs")
}

// A missing or wrong client key is refused in the client's own protocol.
func TestUnauthorizedShapes(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	cases := []struct {
		name, path string
		header     http.Header
		check      func(t *testing.T, body string)
	}{
		{"anthropic", "/v1/messages", hdr("X-Api-Key", "sk-wrong", "Anthropic-Version", "2023-06-01"), func(t *testing.T, body string) {
			assert.Equal(t, "error", gjson.Get(body, "type").String())
			assert.Equal(t, "authentication_error", gjson.Get(body, "error.type").String())
			assert.Equal(t, "invalid_client_key", gjson.Get(body, "error.code").String())
		}},
		{"openai without key", "/v1/chat/completions", nil, func(t *testing.T, body string) {
			assert.Equal(t, "authentication_error", gjson.Get(body, "error.type").String())
			assert.Equal(t, "invalid_client_key", gjson.Get(body, "error.code").String())
			assert.True(t, gjson.Get(body, "error.message").Exists())
		}},
		{"gemini", "/v1beta/models/gemini-2.5-pro:generateContent?key=nope", nil, func(t *testing.T, body string) {
			assert.EqualValues(t, 401, gjson.Get(body, "error.code").Int())
			assert.Equal(t, "UNAUTHENTICATED", gjson.Get(body, "error.status").String())
			assert.Equal(t, "invalid_client_key", gjson.Get(body, "error.details.0.reason").String())
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, body := g.do(http.MethodPost, tc.path, tc.header, `{"model":"x"}`)
			assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
			assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
			assert.True(t, json.Valid([]byte(body)), body)
			tc.check(t, body)
		})
	}
	assert.Empty(t, g.mock.Requests(), "an unauthenticated request reached an upstream")
}

// A body over max_body is refused with 413 before any upstream is called.
func TestBodyOverMaxBodyIs413(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig + "\n max_body 1KiB\n"})
	big := `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"` + strings.Repeat("x", 2048) + `"}]}`
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	assert.Equal(t, "request_too_large", gjson.Get(body, "error.type").String(), body)
	assert.Equal(t, "request_too_large", gjson.Get(body, "error.code").String(), body)

	res, body = g.do(http.MethodPost, "/v1/chat/completions", bearer(), big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	assert.Equal(t, "invalid_request_error", gjson.Get(body, "error.type").String(), body)
	assert.Empty(t, g.mock.Requests())

	// just under the limit passes
	small := `{"model":"claude-sonnet-4-5","messages":[]}`
	res, _ = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), small)
	assert.Equal(t, http.StatusOK, res.StatusCode)
}

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

// The gateway's own answers that no retry can change carry
// x-should-retry: false, which Claude Code and the Stainless SDKs obey
// (without it Claude Code retries a refused key for minutes); a cooldown
// or an outage, which a retry may outlast, does not.
func TestGatewayRefusalsSayNotToRetry(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig + "\n max_body 4KiB\n"})
	final := []struct {
		name   string
		path   string
		header http.Header
		body   string
		status int
	}{
		{"wrong client key", "/v1/messages", hdr("X-Api-Key", "sk-wrong", "Anthropic-Version", "2023-06-01"), claudeBody, http.StatusUnauthorized},
		{"no client key, gemini", "/v1beta/models/gemini-2.5-pro:generateContent", nil, `{"contents":[]}`, http.StatusUnauthorized},
		{"model name too long", "/v1/messages", anthropicHeader(), `{"model":"` + strings.Repeat("m", 300) + `","messages":[]}`, http.StatusBadRequest},
		{"model nobody serves", "/v1/chat/completions", bearer(), `{"model":"mistral-large","messages":[]}`, http.StatusNotFound},
		{"body over max_body", "/v1/chat/completions", bearer(), `{"model":"gpt-5","messages":[{"role":"user","content":"` + strings.Repeat("x", 5000) + `"}]}`, http.StatusRequestEntityTooLarge},
		{"content encoding unknown", "/v1/messages", func() http.Header { h := anthropicHeader(); h.Set("Content-Encoding", "compress"); return h }(), claudeBody, http.StatusUnsupportedMediaType},
	}
	for _, tc := range final {
		t.Run(tc.name, func(t *testing.T) {
			res, body := g.do(http.MethodPost, tc.path, tc.header, tc.body)
			require.Equal(t, tc.status, res.StatusCode, body)
			assert.Equal(t, "false", res.Header.Get("X-Should-Retry"), body)
		})
	}
	// an upstream 404 for the model: no credential can serve it now
	g.mock.SetFault("*", mockupstream.Fault{Status: http.StatusNotFound})
	res, body := g.do(http.MethodPost, "/v1/chat/completions", bearer(), `{"model":"gpt-unknown","messages":[]}`)
	require.Equal(t, http.StatusNotFound, res.StatusCode, body)
	assert.Equal(t, "false", res.Header.Get("X-Should-Retry"), body)

	// every credential cooling: a retry after Retry-After will do
	g.mock.SetFault("*", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "600"})
	res, body = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, body)
	assert.Empty(t, res.Header.Values("X-Should-Retry"), "a cooldown said no retry helps")
	res, body = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, body)
	assert.Empty(t, res.Header.Values("X-Should-Retry"))
	// an outage of every Gemini credential
	g.mock.SetFault("*", mockupstream.Fault{Status: http.StatusServiceUnavailable})
	res, body = g.do(http.MethodPost, "/v1beta/models/gemini-2.5-pro:generateContent", geminiHeader(), `{"contents":[]}`)
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, body)
	assert.Empty(t, res.Header.Values("X-Should-Retry"), "an outage said no retry helps")
}
