package integration

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

const modelRules = `
		client_key ` + clientKey + `
		credential opus-only {
			provider claude
			api_key ` + claudeKeyA + `
			base_url MOCK
			models claude-opus-*
		}
		credential no-opus {
			provider claude
			api_key ` + claudeKeyB + `
			base_url MOCK
			excluded_models claude-opus-* claude-3-*
		}
		credential gem-pro {
			provider gemini
			api_key ` + geminiKeyA + `
			base_url MOCK
			models gemini-*-pro
		}
`

func TestModelAllowAndDenyLists(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: modelRules})
	send := func(model string) (*http.Response, string) {
		return g.do(http.MethodPost, "/v1/messages", anthropicHeader(), `{"model":"`+model+`","max_tokens":1,"messages":[]}`)
	}
	for range 3 {
		res, body := send("claude-opus-4-1")
		require.Equal(t, http.StatusOK, res.StatusCode, body)
		res, body = send("claude-sonnet-4-5")
		require.Equal(t, http.StatusOK, res.StatusCode, body)
	}
	for _, r := range g.mock.Requests() {
		switch r.Model {
		case "claude-opus-4-1":
			assert.Equal(t, claudeKeyA, r.Key, "opus served by a credential that excludes it")
		case "claude-sonnet-4-5":
			assert.Equal(t, claudeKeyB, r.Key, "sonnet served by an opus-only credential")
		}
	}

	// excluded everywhere and allowed nowhere: not supported, in the
	// client's protocol, and no upstream is called
	g.mock.Reset()
	res, body := send("claude-3-haiku")
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.Equal(t, "model_not_supported", gjson.Get(body, "error.code").String(), body)
	assert.Contains(t, gjson.Get(body, "error.message").String(), "claude-3-haiku")

	// the Gemini model comes from the URL path
	res, _ = g.do(http.MethodPost, "/v1beta/models/gemini-2.5-pro:generateContent", geminiHeader(), `{"contents":[]}`)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	res, body = g.do(http.MethodPost, "/v1beta/models/gemini-2.5-flash:generateContent", geminiHeader(), `{"contents":[]}`)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.Equal(t, "NOT_FOUND", gjson.Get(body, "error.status").String(), body)
	assert.Len(t, g.mock.Requests(), 1)

	// no OpenAI credential at all
	res, body = g.do(http.MethodPost, "/v1/chat/completions", bearer(), `{"model":"gpt-5","messages":[]}`)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.Equal(t, "model_not_supported", gjson.Get(body, "error.code").String(), body)
}

// A compressed body is decoded to read the model, and forwarded as sent.
func TestCompressedBodiesAreInspectedAndForwardedUnchanged(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: modelRules})
	plain := []byte(`{"model":"claude-opus-4-1","max_tokens":1,"messages":[]}`)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(plain)
	require.NoError(t, zw.Close())
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	zs := enc.EncodeAll(plain, nil)

	for _, tc := range []struct {
		encoding string
		body     []byte
	}{{"gzip", gz.Bytes()}, {"zstd", zs}} {
		t.Run(tc.encoding, func(t *testing.T) {
			g.mock.Reset()
			h := anthropicHeader()
			h.Set("Content-Encoding", tc.encoding)
			res, body := g.do(http.MethodPost, "/v1/messages", h, string(tc.body))
			require.Equal(t, http.StatusOK, res.StatusCode, body)
			reqs := g.mock.Requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, claudeKeyA, reqs[0].Key, "the model was not read from the compressed body")
			assert.Equal(t, tc.body, reqs[0].Body, "the compressed bytes were not forwarded as sent")
			assert.Equal(t, tc.encoding, reqs[0].Header.Get("Content-Encoding"))
		})
	}
	h := anthropicHeader()
	h.Set("Content-Encoding", "br")
	res, _ := g.do(http.MethodPost, "/v1/messages", h, "whatever")
	assert.Equal(t, http.StatusUnsupportedMediaType, res.StatusCode)
}

// Paths the gateway does not serve go to the next handler; the model
// listing follows the protocol of the client (more in models_test.go).
func TestOtherPathsAndModelListing(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	res, body := g.do(http.MethodGet, "/healthz", nil, "")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Empty(t, body)
	assert.Empty(t, g.mock.Requests(), "an unserved path reached an upstream")

	res, body = g.do(http.MethodGet, "/v1/models", anthropicHeader(), "")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.True(t, gjson.Get(body, "has_more").Exists(), "not an Anthropic model list: %s", body)
	res, body = g.do(http.MethodGet, "/v1/models", bearer(), "")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, "list", gjson.Get(body, "object").String(), body)
	// the listing comes from the pool: each credential of the family asked
	// its upstream once, with its own key
	var keys []string
	for _, r := range g.mock.Requests() {
		keys = append(keys, r.Key)
	}
	assert.ElementsMatch(t, []string{claudeKeyA, claudeKeyB, openAIKey, compatKey}, keys)
}

// A body that names "model" twice, once plainly and once again or with \u
// escapes, would be routed on the first and served as the last by the
// upstream's parser: it is refused in the client's shape before any
// upstream is called. One escaped key alone is read as the upstream reads
// it, and the usage event names that model.
func TestDuplicateModelKeysAreRefused(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: modelRules + `
		credential gpt {
			provider openai
			api_key ` + openAIKey + `
			base_url MOCK/v1
			models gpt-*
		}`})
	cases := []struct {
		name, path string
		header     http.Header
		body       string
		check      func(t *testing.T, body string)
	}{
		{
			"anthropic repeated", "/v1/messages", anthropicHeader(),
			`{"model":"claude-sonnet-4-5","max_tokens":1,"messages":[],"model":"claude-opus-4-1"}`,
			func(t *testing.T, body string) {
				assert.Equal(t, "error", gjson.Get(body, "type").String(), body)
				assert.Equal(t, "invalid_request_error", gjson.Get(body, "error.type").String(), body)
			},
		},
		{
			"anthropic escaped", "/v1/messages", anthropicHeader(),
			`{"model":"claude-sonnet-4-5","mod\u0065l":"claude-opus-4-1","max_tokens":1,"messages":[]}`,
			func(t *testing.T, body string) {
				assert.Equal(t, "invalid_request_error", gjson.Get(body, "error.type").String(), body)
			},
		},
		{
			"openai repeated", "/v1/chat/completions", bearer(),
			`{"model":"gpt-5","messages":[],"model":"o3"}`,
			func(t *testing.T, body string) {
				assert.Equal(t, "invalid_request_error", gjson.Get(body, "error.type").String(), body)
				assert.Equal(t, "invalid_request", gjson.Get(body, "error.code").String(), body)
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g.mock.Reset()
			res, body := g.do(http.MethodPost, tc.path, tc.header, tc.body)
			assert.Equal(t, http.StatusBadRequest, res.StatusCode, body)
			assert.Contains(t, gjson.Get(body, "error.message").String(), `"model" more than once`, body)
			tc.check(t, body)
			assert.Empty(t, g.mock.Requests(), "a body with two models went upstream")
		})
	}

	g.mock.Reset()
	res, body := g.do(http.MethodPost, "/v1/chat/completions", bearer(), `{"mod\u0065l":"gpt-5","messages":[]}`)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.Len(t, g.mock.Requests(), 1)
	assert.Equal(t, "gpt-5", g.mock.Requests()[0].Model)
	var events []gjson.Result
	require.Eventually(t, func() bool { events = g.usageEvents(); return len(events) == len(cases)+1 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, "gpt-5", events[len(cases)].Get("model").String(), events[len(cases)].Raw)
	assert.Equal(t, "gpt", events[len(cases)].Get("credential").String())
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
