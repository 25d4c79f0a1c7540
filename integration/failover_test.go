package integration

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

const claudeBody = `{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"a question worth failing over for"}]}`

func TestFailoverOn429ReplaysBodyAndHidesTheFailure(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	g.mock.SetFault(claudeKeyA, mockupstream.Fault{
		Status:     http.StatusTooManyRequests,
		RetryAfter: "120",
		Headers:    map[string]string{"X-Failed-Attempt": "yes", "Anthropic-Ratelimit-Requests-Remaining": "0"},
	})
	g.mock.SetReply(claudeKeyB, "answered by b")

	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, "answered by b", anthropicStreamText(t, body))
	assert.Empty(t, res.Header.Get("X-Failed-Attempt"), "a header of the failed response reached the client")
	assert.Empty(t, res.Header.Get("Retry-After"))
	assert.Empty(t, res.Header.Get("Anthropic-Ratelimit-Requests-Remaining"))

	reqs := g.mock.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, claudeKeyA, reqs[0].Key)
	assert.Equal(t, claudeKeyB, reqs[1].Key)
	assert.Equal(t, claudeBody, string(reqs[0].Body))
	assert.Equal(t, claudeBody, string(reqs[1].Body), "the body was not replayed intact")

	// a is cooling for the hinted 120 s: the next requests skip it
	g.mock.Reset()
	for range 3 {
		res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
	}
	for _, r := range g.mock.Requests() {
		assert.Equal(t, claudeKeyB, r.Key, "a cooling credential was offered a request")
	}
}

func TestFailoverOn5xx529AndConnectionErrors(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, 529} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			g := startGateway(t, gatewayOptions{Handler: poolConfig})
			g.mock.SetFault(claudeKeyA, mockupstream.Fault{Status: status})
			res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
			require.Equal(t, http.StatusOK, res.StatusCode, body)
			require.Len(t, g.mock.Requests(), 2)
			assert.Equal(t, claudeKeyB, g.mock.Requests()[1].Key)
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		g := startGateway(t, gatewayOptions{Handler: `
		client_key ` + clientKey + `
		credential a-dead {
			provider claude
			api_key ` + claudeKeyA + `
			base_url http://127.0.0.1:1
		}
		credential b-live {
			provider claude
			api_key ` + claudeKeyB + `
			base_url MOCK
		}`})
		res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
		require.Len(t, g.mock.Requests(), 1)
		assert.Equal(t, claudeKeyB, g.mock.Requests()[0].Key)
	})
}

func TestClientFaultsAreReturnedAtOnce(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			g := startGateway(t, gatewayOptions{Handler: poolConfig})
			g.mock.SetFault("*", mockupstream.Fault{Status: status})
			res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
			assert.Equal(t, status, res.StatusCode, body)
			assert.Len(t, g.mock.Requests(), 1, "a client fault was retried on another credential")
			// and it cooled nothing: the next request goes out normally
			g.mock.ClearFaults()
			res, _ = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
			assert.Equal(t, http.StatusOK, res.StatusCode)
		})
	}
}

// When every credential a request tries answers 429, the client gets the
// gateway's own cooldown error, not the last upstream's answer (whose body
// and headers describe an upstream account).
func TestEveryCredentialRateLimitedIsAnsweredByTheGateway(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	g.mock.SetFault("*", mockupstream.Fault{Status: http.StatusTooManyRequests})
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	assert.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	assert.Equal(t, "rate_limit_error", gjson.Get(body, "error.type").String(), body)
	assert.Equal(t, "model_cooldown", gjson.Get(body, "error.code").String(), body)
	assert.NotEmpty(t, res.Header.Get("Retry-After"), "a rate limit must say when to come back")
	assert.Len(t, g.mock.Requests(), 2)

	// both are cooling now: the gateway answers itself, in Anthropic's
	// shape, with the nearest recovery
	res, body = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	assert.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	assert.Equal(t, "error", gjson.Get(body, "type").String(), body)
	assert.Equal(t, "rate_limit_error", gjson.Get(body, "error.type").String(), body)
	assert.Equal(t, "model_cooldown", gjson.Get(body, "error.code").String(), body)
	assert.NotEmpty(t, res.Header.Get("Retry-After"))
	assert.Len(t, g.mock.Requests(), 2, "a cooling credential was called")
}

func TestCooldownErrorShapePerProtocol(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	g.mock.SetFault("*", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "30"})

	// the first request of each family spends its credentials
	g.do(http.MethodPost, "/v1/chat/completions", bearer(), `{"model":"gpt-5","messages":[]}`)
	g.do(http.MethodPost, "/v1beta/models/gemini-2.5-pro:generateContent", geminiHeader(), `{"contents":[]}`)

	res, body := g.do(http.MethodPost, "/v1/chat/completions", bearer(), `{"model":"gpt-5","messages":[]}`)
	assert.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	assert.Equal(t, "model_cooldown", gjson.Get(body, "error.code").String(), body)
	assert.Positive(t, gjson.Get(body, "error.reset_seconds").Int(), body)
	retry, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	assert.InDelta(t, 30, retry, 2)

	res, body = g.do(http.MethodPost, "/v1beta/models/gemini-2.5-pro:generateContent", geminiHeader(), `{"contents":[]}`)
	assert.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	assert.EqualValues(t, 429, gjson.Get(body, "error.code").Int(), body)
	assert.Equal(t, "RESOURCE_EXHAUSTED", gjson.Get(body, "error.status").String(), body)
	assert.NotEmpty(t, res.Header.Get("Retry-After"))
}

func TestStreamFailsOverOnlyBeforeFirstByte(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	// a stream that breaks after it started cannot move: the client sees
	// the part it got and the connection end, and no second attempt runs
	g.mock.SetFault(claudeKeyA, mockupstream.Fault{ResetAfter: 2, EventDelay: 10 * time.Millisecond})
	req, err := http.NewRequest(http.MethodPost, g.url("/v1/messages"), stringsReader(claudeBody))
	require.NoError(t, err)
	req.Header = anthropicHeader()
	res, err := g.tester.Client.Do(req)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	_, readErr := readAll(res)
	assert.Error(t, readErr, "a broken stream must not look complete")
	assert.Len(t, g.mock.Requests(), 1)
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
	g.mock.SetFault("*", mockupstream.Fault{
		Status: http.StatusNotFound, Times: 1,
		Body: `{"type":"error","error":{"type":"not_found_error","message":"model: claude-typo"}}`,
	})
	res, _ := g.do(http.MethodGet, "/v1/models/claude-typo", anthropicHeader(), "")
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	res, body := g.do(http.MethodGet, "/v1/models", anthropicHeader(), "")
	assert.Equal(t, http.StatusOK, res.StatusCode, body)
}

// claudePool is a cliproxy block of n Claude credentials at the mock, named
// key-1 … key-n with upstream keys sk-pool-1 … sk-pool-n, and extra.
func claudePool(n int, extra string) string {
	var b strings.Builder
	b.WriteString("\t\tclient_key " + clientKey + " alice\n" + extra)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "\t\tcredential key-%d {\n\t\t\tprovider claude\n\t\t\tapi_key sk-pool-%d\n\t\t\tbase_url MOCK\n\t\t}\n", i, i)
	}
	return b.String()
}

// With the default max_attempts a request tries every credential before it
// fails: three broken credentials first in line out of six cost the first
// request three attempts, not a 503.
func TestDefaultAttemptsReachAWorkingCredential(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: claudePool(6, "\t\tstrategy fill-first\n")})
	g.mock.SetFault("sk-pool-1", mockupstream.Fault{Status: http.StatusTooManyRequests})
	g.mock.SetFault("sk-pool-2", mockupstream.Fault{StreamError: "api_error"})
	g.mock.SetFault("sk-pool-3", mockupstream.Fault{Status: 529})
	g.mock.SetReply("sk-pool-4", "answered by the fourth")

	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, "answered by the fourth", anthropicStreamText(t, body))
	var keys []string
	for _, r := range g.mock.Requests() {
		keys = append(keys, r.Key)
	}
	assert.Equal(t, []string{"sk-pool-1", "sk-pool-2", "sk-pool-3", "sk-pool-4"}, keys, "the broken credentials were first in line")
}

// The default is capped: a pool of ten broken credentials costs a request
// eight attempts, and an operator's max_attempts still bounds it.
func TestDefaultAttemptsAreCapped(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: claudePool(10, "")})
	g.mock.SetFault("*", mockupstream.Fault{Status: http.StatusServiceUnavailable})
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, body)
	assert.Equal(t, 8, len(g.mock.Requests()), "eight attempts at most by default")

	g2 := startGateway(t, gatewayOptions{Handler: claudePool(6, "\t\tmax_attempts 2\n")})
	g2.mock.SetFault("*", mockupstream.Fault{Status: http.StatusServiceUnavailable})
	res, body = g2.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, body)
	assert.Equal(t, 2, len(g2.mock.Requests()), "max_attempts 2 tries two")
}
