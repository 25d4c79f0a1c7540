package integration

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// The gateway's model_cooldown error says which model of which provider is
// out and until when, in each client's own shape: reset_seconds agrees
// with Retry-After and reset_time is that moment in RFC 3339.
func TestCooldownErrorSaysWhatAndUntilWhen(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	g.mock.SetFault("*", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "30"})

	type call struct {
		name, path, body, model, provider string
		header                            http.Header
		fields                            func(body string) gjson.Result // the object holding the fields
	}
	errorObj := func(body string) gjson.Result { return gjson.Get(body, "error") }
	geminiMeta := func(body string) gjson.Result {
		return gjson.Get(body, `error.details.#(@type=="type.googleapis.com/google.rpc.ErrorInfo").metadata`)
	}
	calls := []call{
		{"anthropic", "/v1/messages", claudeReq("claude-sonnet-4-5"), "claude-sonnet-4-5", "claude", anthropicHeader(), errorObj},
		{"openai", "/v1/chat/completions", `{"model":"gpt-5","messages":[]}`, "gpt-5", "openai", bearer(), errorObj},
		{"gemini", "/v1beta/models/gemini-2.5-pro:generateContent", `{"contents":[]}`, "gemini-2.5-pro", "gemini", geminiHeader(), geminiMeta},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			// the first request spends the credentials (answered after
			// failover), the second finds them cooling: both say the same
			for round := range 2 {
				before := time.Now()
				res, body := g.do(http.MethodPost, c.path, c.header, c.body)
				require.Equal(t, http.StatusTooManyRequests, res.StatusCode, "round %d: %s", round, body)
				f := c.fields(body)
				require.True(t, f.Exists(), body)
				code := gjson.Get(body, "error.code").String()
				if c.name == "gemini" {
					code = gjson.Get(body, `error.details.#(@type=="type.googleapis.com/google.rpc.ErrorInfo").reason`).String()
				}
				assert.Equal(t, "model_cooldown", code, body)
				assert.Equal(t, c.model, f.Get("model").String(), body)
				assert.Equal(t, c.provider, f.Get("provider").String(), body)
				retry, err := strconv.Atoi(res.Header.Get("Retry-After"))
				require.NoError(t, err)
				assert.InDelta(t, 30, retry, 2)
				assert.EqualValues(t, retry, f.Get("reset_seconds").Int(), body)
				at, err := time.Parse(time.RFC3339, f.Get("reset_time").String())
				require.NoError(t, err, body)
				assert.WithinDuration(t, before.Add(30*time.Second), at, 3*time.Second, body)
			}
		})
	}
}
