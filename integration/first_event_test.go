package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// claudeJSONBody asks for a whole (non-streaming) answer.
const claudeJSONBody = `{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"a question worth failing over for"}]}`

// An upstream that sends nothing (no headers, or headers and then no first
// event or body byte) within first_event_timeout is given up before
// anything reached the client: the credential rests like after a
// connection error, and the request moves to the next one.
func TestSilentUpstreamFailsOverAfterFirstEventTimeout(t *testing.T) {
	cases := []struct {
		name, body string
		fault      mockupstream.Fault
		answer     func(t *testing.T, body string) string
	}{
		{"no headers", claudeBody, mockupstream.Fault{FirstByteDelay: 30 * time.Second}, anthropicStreamText},
		{"stream headers then nothing", claudeBody, mockupstream.Fault{Stall: 30 * time.Second}, anthropicStreamText},
		{
			"json headers then nothing", claudeJSONBody,
			mockupstream.Fault{Stall: 30 * time.Second},
			func(_ *testing.T, body string) string { return gjson.Get(body, "content.0.text").String() },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, gatewayOptions{Handler: poolConfig + "\t\tstrategy fill-first\n\t\tfirst_event_timeout 500ms\n"})
			g.mock.SetFault(claudeKeyA, tc.fault)
			g.mock.SetReply(claudeKeyB, "answered by b")
			began := time.Now()
			res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), tc.body)
			require.Equal(t, http.StatusOK, res.StatusCode, body)
			assert.Equal(t, "answered by b", tc.answer(t, body))
			assert.Less(t, time.Since(began), 10*time.Second, "the request waited for the silent upstream")

			// a rests: the next request does not try it
			res, body = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), tc.body)
			require.Equal(t, http.StatusOK, res.StatusCode, body)
			assert.Len(t, g.mock.RequestsFor(claudeKeyA), 1, "a silent credential was tried again")
			st := credentialModelState(t, "claude-a", "claude-sonnet-4-5")
			assert.Contains(t, st.Get("last_error.message").String(), "first_event_timeout", st.Raw)
			assert.WithinDuration(t, time.Now().Add(time.Minute), st.Get("next_retry_after").Time(), 10*time.Second, "not the transient cooldown: %s", st.Raw)
		})
	}

	t.Run("every credential silent", func(t *testing.T) {
		g := startGateway(t, gatewayOptions{Handler: poolConfig + "\t\tfirst_event_timeout 300ms\n"})
		g.mock.SetFault("*", mockupstream.Fault{Stall: 30 * time.Second})
		res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
		assert.Equal(t, http.StatusGatewayTimeout, res.StatusCode, body)
		assert.Equal(t, "error", gjson.Get(body, "type").String(), body)
		assert.Equal(t, "upstream_timeout", gjson.Get(body, "error.code").String(), body)
		assert.Len(t, g.mock.Requests(), 2)
	})
}

// A stream that opens with an error event and then stays open fails over
// at once: the gateway does not wait for the upstream to close it, nor for
// first_event_timeout (5 minutes by default).
func TestErrorEventOnOpenStreamFailsOverAtOnce(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig + "\t\tstrategy fill-first\n"})
	g.mock.SetFault(claudeKeyA, mockupstream.Fault{StreamError: "overloaded_error", Stall: 30 * time.Second})
	g.mock.SetReply(claudeKeyB, "answered by b")
	began := time.Now()
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Less(t, time.Since(began), 10*time.Second, "the failover waited for the upstream to close its stream")
	assert.Equal(t, "answered by b", anthropicStreamText(t, body))
	assert.NotContains(t, body, "overloaded_error")
	require.Len(t, g.mock.Requests(), 2)
	assert.Equal(t, claudeKeyB, g.mock.Requests()[1].Key)
	assert.False(t, strings.Contains(g.logs(), `"aborting with incomplete response"`), "halting the attempt made the proxy abort")
}

// credentialModelState is the admin API's health of credential for model.
func credentialModelState(t *testing.T, credential, model string) gjson.Result {
	t.Helper()
	res, err := http.Get(adminURL + "/cliproxy/credentials")
	require.NoError(t, err)
	raw, err := readAll(res)
	require.NoError(t, err)
	st := gjson.GetBytes(raw, `credentials.#(name=="`+credential+`").models.`+gjson.Escape(model))
	require.True(t, st.Exists(), "%s", raw)
	return st
}

// An upstream that takes a streamed request and never sends its headers
// is given up with the default settings well before a client that waits a
// minute gives up: the credential rests, and another one answers. (Before
// stream_header_timeout, the gateway waited first_event_timeout, 5
// minutes, and the client left first, blaming nobody.)
func TestHungUpstreamFailsOverBeforeTheClientGivesUp(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig + "\t\tstrategy fill-first\n"})
	g.mock.SetFault(claudeKeyA, mockupstream.Fault{FirstByteDelay: 10 * time.Minute})
	g.mock.SetReply(claudeKeyB, "answered by b")
	clientWaits := g.tester.Client.Timeout
	require.Equal(t, time.Minute, clientWaits)

	began := time.Now()
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	took := time.Since(began)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, "answered by b", anthropicStreamText(t, body))
	assert.Less(t, took, clientWaits*3/4, "the answer came too close to the client's own timeout")

	st := credentialModelState(t, "claude-a", "claude-sonnet-4-5")
	assert.Contains(t, st.Get("last_error.message").String(), "stream_header_timeout", st.Raw)
	assert.WithinDuration(t, time.Now().Add(time.Minute), st.Get("next_retry_after").Time(), 10*time.Second, "not the transient cooldown: %s", st.Raw)
	res, body = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Len(t, g.mock.RequestsFor(claudeKeyA), 1, "the hung credential was tried again while it rests")
}

// stream_header_timeout bounds only requests that ask for a stream: a
// whole answer's headers come with it, after the model has written it, so
// a slow one is waited for (up to first_event_timeout).
func TestStreamHeaderTimeoutSparesWholeAnswers(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig + "\t\tstrategy fill-first\n\t\tstream_header_timeout 300ms\n"})
	g.mock.SetFault(claudeKeyA, mockupstream.Fault{FirstByteDelay: time.Second, Times: 1})
	g.mock.SetReply(claudeKeyA, "answered by a")
	g.mock.SetReply(claudeKeyB, "answered by b")
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeJSONBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, "answered by a", gjson.Get(body, "content.0.text").String(), body)

	g.mock.SetFault(claudeKeyA, mockupstream.Fault{FirstByteDelay: time.Second, Times: 1})
	res, body = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, "answered by b", anthropicStreamText(t, body), "a streamed request waited past stream_header_timeout")
}
