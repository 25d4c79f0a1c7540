package integration

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// wsBridged has two OpenAI credentials without WebSocket upstreams.
const wsBridged = `
		client_key ` + clientKey + ` alice
		session_affinity on
		credential br-a {
			provider openai
			api_key ` + wsKeyA + `
			base_url MOCK/v1
			priority 1
			websockets off
		}
		credential br-b {
			provider openai
			api_key ` + wsKeyB + `
			base_url MOCK/v1
			websockets off
		}
`

// posts are the HTTP Responses requests the mock saw.
func posts(m *mockupstream.Server) []mockupstream.Recorded {
	var out []mockupstream.Recorded
	for _, r := range m.Requests() {
		if r.Provider == "openai-responses" {
			out = append(out, r)
		}
	}
	return out
}

func TestWebSocketBridgeToHTTPUpstream(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: wsBridged})
	g.mock.SetReply("*", "bridged answer")
	conn := g.mustDialWS(codexHeader("sess-bridge"))

	// Codex's prewarm: answered by the gateway, nothing goes upstream
	sendWS(t, conn, turnMsg("gpt-5.5", "system context", `,"generate":false`))
	events := readTurn(t, conn)
	assert.Equal(t, []string{"response.created", "response.completed"}, typesOf(events))
	warm := gjson.Get(events[1], "response.id").String()
	require.NotEmpty(t, warm)
	assert.Empty(t, g.mock.Requests(), "a prewarm reached the upstream")

	// the turn that continues it is one streaming POST with the whole input
	sendWS(t, conn, turnMsg("gpt-5.5", "first question", `,"previous_response_id":"`+warm+`"`))
	events = readTurn(t, conn)
	assert.Equal(t, "bridged answer", turnText(events))
	assert.Equal(t, "response.completed", gjson.Get(events[len(events)-1], "type").String())
	first := gjson.Get(events[len(events)-1], "response.id").String()
	ps := posts(g.mock)
	require.Len(t, ps, 1)
	p := ps[0]
	assert.Equal(t, http.MethodPost, p.Method)
	assert.Equal(t, "/v1/responses", p.Path)
	assert.Equal(t, wsKeyA, p.Key)
	assert.True(t, gjson.GetBytes(p.Body, "stream").Bool())
	for _, field := range []string{"type", "generate", "previous_response_id"} {
		assert.False(t, gjson.GetBytes(p.Body, field).Exists(), "the POST carries %q: %s", field, p.Body)
	}
	assert.Equal(t, []string{"system context", "first question"}, inputTexts(p.Body))
	assert.Empty(t, p.Header.Get("Openai-Beta"), "the WebSocket beta went to the HTTP API")
	assert.Equal(t, "sess-bridge", p.Header.Get("Session-Id"))

	// the next turn carries the conversation, the answer included
	sendWS(t, conn, turnMsg("gpt-5.5", "second question", `,"previous_response_id":"`+first+`"`))
	readTurn(t, conn)
	ps = posts(g.mock)
	require.Len(t, ps, 2)
	assert.Equal(t, []string{"system context", "first question", "bridged answer", "second question"}, inputTexts(ps[1].Body))
}

// inputTexts lists the texts of a Responses body's input items.
func inputTexts(body []byte) []string {
	var out []string
	gjson.GetBytes(body, "input").ForEach(func(_, item gjson.Result) bool {
		item.Get("content").ForEach(func(_, part gjson.Result) bool {
			out = append(out, part.Get("text").String())
			return true
		})
		return true
	})
	return out
}

func TestWebSocketBridgeFailsOver(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: wsBridged})
	g.mock.SetFault(wsKeyA, mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "300"})
	g.mock.SetReply(wsKeyB, "b over http")
	conn := g.mustDialWS(codexHeader("sess-bridge-failover"))
	sendWS(t, conn, turnMsg("gpt-5.5", "hi", ""))
	events := readTurn(t, conn)
	assert.Equal(t, "b over http", turnText(events))
	assert.Equal(t, []string{wsKeyA, wsKeyB}, keysOf(posts(g.mock)))

	// a cools for the hinted 300 s
	sendWS(t, conn, turnMsg("gpt-5.5", "again", ""))
	readTurn(t, conn)
	assert.Equal(t, []string{wsKeyA, wsKeyB, wsKeyB}, keysOf(posts(g.mock)))
}

func TestWebSocketUsageIsRecordedPerTurn(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: wsTiered})
	g.mock.SetFault(wsKeyA, mockupstream.Fault{WSError: "rate_limit_exceeded", Times: 1})
	conn := g.mustDialWS(codexHeader("sess-usage"))
	var completed []string
	for _, q := range []string{"first", "second turn, a longer one"} {
		sendWS(t, conn, turnMsg("gpt-5.5", q, ""))
		events := readTurn(t, conn)
		completed = append(completed, events[len(events)-1])
	}
	var events []gjson.Result
	require.Eventually(t, func() bool {
		events = g.usageEvents()
		return len(events) == 2
	}, 5*time.Second, 10*time.Millisecond)
	for i, e := range events {
		assert.Equal(t, "alice", e.Get("client").String())
		assert.Equal(t, "gpt-5.5", e.Get("model").String())
		assert.Equal(t, int64(200), e.Get("status").Int())
		assert.Positive(t, e.Get("input_tokens").Int())
		assert.Equal(t, gjson.Get(completed[i], "response.usage.input_tokens").Int(), e.Get("input_tokens").Int(), e.Raw)
		assert.Equal(t, gjson.Get(completed[i], "response.usage.output_tokens").Int(), e.Get("output_tokens").Int(), e.Raw)
		assert.NotContains(t, e.Raw, wsKeyA)
		assert.NotContains(t, e.Raw, wsKeyB)
		assert.NotContains(t, e.Raw, clientKey)
	}
	// the management API's totals count the turns per credential
	res, err := http.Get(adminURL + "/cliproxy/usage")
	require.NoError(t, err)
	body, err := readAll(res)
	require.NoError(t, err)
	b := gjson.GetBytes(body, "credentials.ws-b")
	assert.Equal(t, int64(2), b.Get("requests").Int(), string(body))
	assert.Equal(t, events[0].Get("input_tokens").Int()+events[1].Get("input_tokens").Int(), b.Get("tokens.input").Int(), string(body))

	// the first turn failed over from a to b; the second stayed on b
	assert.Equal(t, "ws-b", events[0].Get("credential").String())
	assert.Equal(t, int64(2), events[0].Get("attempts").Int())
	assert.Equal(t, "ws-b", events[1].Get("credential").String())
	assert.Equal(t, int64(1), events[1].Get("attempts").Int())
}

// Codex OAuth accounts: the WebSocket upstream gets the access token and
// chatgpt-account-id; a file with "websockets": false is bridged.
func TestWebSocketCodexAccounts(t *testing.T) {
	o := startOAuthGateway(t, "")
	idToken := fakeJWT(map[string]any{"https://api.openai.com/auth": map[string]any{"chatgpt_account_id": "acct-ws"}})
	file := func(access string, ws bool) map[string]any {
		return map[string]any{
			"type": "codex", "email": access + "@example.com",
			"access_token": access, "refresh_token": access + "-refresh", "id_token": idToken,
			"expired":    time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339),
			"base_url":   o.mockURL + "/backend-api/codex",
			"websockets": ws,
		}
	}
	for _, ws := range []bool{true, false} {
		for _, old := range []string{"codex-ws-access.json"} {
			_ = os.Remove(filepath.Join(o.dir, old))
		}
		o.mock.Reset()
		access := "codex-ws-access"
		if !ws {
			access = "codex-http-access"
		}
		// one file per account: a file's token source is shared by every
		// pool built from it
		name := access + ".json"
		o.writeAuthFile(t, name, file(access, ws))
		t.Cleanup(func() { _ = os.Remove(filepath.Join(o.dir, name)) })
		waitFor(t, "the codex file is served", func() bool {
			conn, _, err := o.dialWS("/v1/responses", codexHeader("sess-codex"))
			if err != nil {
				return false
			}
			defer conn.CloseNow()
			sendWS(t, conn, turnMsg("gpt-5.5", "hi", ""))
			events := readTurn(t, conn)
			return gjson.Get(events[len(events)-1], "type").String() == "response.completed" && len(o.mock.RequestsFor(access)) > 0
		})
		r := o.mock.RequestsFor(access)[0]
		assert.Equal(t, "/backend-api/codex/responses", r.Path)
		assert.Equal(t, "Bearer "+access, r.Header.Get("Authorization"))
		assert.Equal(t, "acct-ws", r.Header.Get("Chatgpt-Account-Id"))
		if ws {
			assert.Equal(t, "openai-responses-ws", r.Provider)
			assert.Equal(t, http.MethodGet, r.Method)
		} else {
			assert.Equal(t, "openai-responses", r.Provider, "a file with websockets false was not bridged")
			assert.Equal(t, http.MethodPost, r.Method)
		}
	}
}
