package integration

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// wsTiered puts ws-a in a higher tier, so every session starts there.
const wsTiered = `
		client_key ` + clientKey + ` alice
		session_affinity on
		credential ws-a {
			provider openai
			api_key ` + wsKeyA + `
			base_url MOCK/v1
			priority 1
		}
		credential ws-b {
			provider openai
			api_key ` + wsKeyB + `
			base_url MOCK/v1
		}
`

// keysOf lists the upstream keys of records.
func keysOf(recs []mockupstream.Recorded) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Key
	}
	return out
}

func TestWebSocketTurnFailsOverBeforeOutput(t *testing.T) {
	cases := map[string]mockupstream.Fault{
		"rate limit":  {WSError: "rate_limit_exceeded"},
		"usage limit": {WSError: "usage_limit_reached", RetryAfter: "3600"},
		"overloaded":  {WSError: "server_is_overloaded"},
		"dropped":     {WSDrop: true},
		"handshake":   {Status: http.StatusTooManyRequests, RetryAfter: "600"},
	}
	for name, fault := range cases {
		t.Run(name, func(t *testing.T) {
			g := startGateway(t, gatewayOptions{Handler: wsTiered})
			g.mock.SetFault(wsKeyA, fault)
			g.mock.SetReply(wsKeyB, "answered by b")
			conn := g.mustDialWS(codexHeader("sess-failover"))

			turn := turnMsg("gpt-5.5", "first", "")
			sendWS(t, conn, turn)
			events := readTurn(t, conn)
			assert.Equal(t, "answered by b", turnText(events))
			for _, e := range events {
				assert.NotEqual(t, "error", gjson.Get(e, "type").String(), "the refusal reached the client: %s", e)
			}

			turns := wsRecords(g.mock, "WS")
			if name == "handshake" {
				require.Len(t, turns, 1)
				assert.Equal(t, wsKeyB, turns[0].Key)
			} else {
				require.Len(t, turns, 2)
				assert.Equal(t, []string{wsKeyA, wsKeyB}, keysOf(turns))
				assert.Equal(t, string(turns[0].Body), string(turns[1].Body), "the turn was not replayed intact")
			}

			// a is cooling: the next turn stays on b's connection
			sendWS(t, conn, turnMsg("gpt-5.5", "second", ""))
			assert.Equal(t, "answered by b", turnText(readTurn(t, conn)))
			turns = wsRecords(g.mock, "WS")
			assert.Equal(t, wsKeyB, turns[len(turns)-1].Key)
			assert.Len(t, wsRecords(g.mock, http.MethodGet), 2, "one handshake per credential")
			logs := g.logs()
			for _, secret := range []string{wsKeyA, wsKeyB, clientKey} {
				assert.NotContains(t, logs, secret, "a secret reached the log")
			}
		})
	}
}

func TestWebSocketClientFaultIsNotFailedOver(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: wsTiered})
	g.mock.SetFault(wsKeyA, mockupstream.Fault{WSError: "invalid_prompt", Times: 1})
	conn := g.mustDialWS(codexHeader("sess-client-fault"))
	sendWS(t, conn, turnMsg("gpt-5.5", "bad", ""))
	events := readTurn(t, conn)
	require.Len(t, events, 1)
	assert.Equal(t, "invalid_prompt", gjson.Get(events[0], "error.code").String())
	assert.Equal(t, []string{wsKeyA}, keysOf(wsRecords(g.mock, "WS")))

	// nothing cooled: the next turn goes to a again
	sendWS(t, conn, turnMsg("gpt-5.5", "good", ""))
	readTurn(t, conn)
	assert.Equal(t, []string{wsKeyA, wsKeyA}, keysOf(wsRecords(g.mock, "WS")))
}

func TestWebSocketEveryCredentialLimited(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: wsTiered})
	g.mock.SetFault("*", mockupstream.Fault{WSError: "rate_limit_exceeded"})
	conn := g.mustDialWS(codexHeader("sess-all-limited"))
	sendWS(t, conn, turnMsg("gpt-5.5", "anyone?", ""))
	events := readTurn(t, conn)
	require.Len(t, events, 1)
	// the gateway's own words, not the upstream's error
	assert.Equal(t, int64(http.StatusTooManyRequests), gjson.Get(events[0], "status").Int(), events[0])
	assert.Equal(t, "model_cooldown", gjson.Get(events[0], "error.code").String(), events[0])
	assert.Positive(t, gjson.Get(events[0], "error.reset_seconds").Int(), events[0])
	assert.Equal(t, "gpt-5.5", gjson.Get(events[0], "error.model").String(), events[0])
	assert.Equal(t, "openai", gjson.Get(events[0], "error.provider").String(), events[0])
	_, err := time.Parse(time.RFC3339, gjson.Get(events[0], "error.reset_time").String())
	assert.NoError(t, err, events[0])
	assert.NotContains(t, events[0], "Rate limit reached for requests")
	assert.Len(t, wsRecords(g.mock, "WS"), 2)

	// both cool now: the gateway answers without calling an upstream
	sendWS(t, conn, turnMsg("gpt-5.5", "still?", ""))
	events = readTurn(t, conn)
	assert.Equal(t, "model_cooldown", gjson.Get(events[0], "error.code").String(), events[0])
	assert.Len(t, wsRecords(g.mock, "WS"), 2)
}

func TestWebSocketPreviousResponseOfAnotherCredential(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: wsTiered})
	conn := g.mustDialWS(codexHeader("sess-previous"))
	sendWS(t, conn, turnMsg("gpt-5.5", "first", ""))
	events := readTurn(t, conn)
	id := gjson.Get(events[len(events)-1], "response.id").String()
	require.NotEmpty(t, id)

	// a runs out; the continuation cannot be served elsewhere
	g.mock.SetFault(wsKeyA, mockupstream.Fault{WSError: "rate_limit_exceeded"})
	sendWS(t, conn, turnMsg("gpt-5.5", "second", `,"previous_response_id":"`+id+`"`))
	events = readTurn(t, conn)
	require.Len(t, events, 1)
	assert.Equal(t, "previous_response_not_found", gjson.Get(events[0], "error.code").String(), events[0])
	assert.Equal(t, "previous_response_id", gjson.Get(events[0], "error.param").String())
	assert.Equal(t, []string{wsKeyA, wsKeyA}, keysOf(wsRecords(g.mock, "WS")), "the continuation went to a credential without the response")

	// the client resends the whole conversation: b serves it
	sendWS(t, conn, turnMsg("gpt-5.5", "first and second", ""))
	events = readTurn(t, conn)
	assert.Equal(t, "response.completed", gjson.Get(events[len(events)-1], "type").String())
	assert.Equal(t, wsKeyB, wsRecords(g.mock, "WS")[2].Key)
}
