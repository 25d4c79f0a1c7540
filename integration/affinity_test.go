package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// affinityPool has four credentials for each provider family, all at the
// mock, and session affinity on. extra is added to the cliproxy block.
func affinityPool(extra string) string {
	var b strings.Builder
	b.WriteString("\t\tclient_key " + clientKey + " alice\n\t\tsession_affinity on\n" + extra + "\n")
	for _, p := range []struct{ provider, base string }{{"claude", "MOCK"}, {"openai", "MOCK/v1"}, {"gemini", "MOCK"}} {
		for i := 1; i <= 4; i++ {
			fmt.Fprintf(&b, "\t\tcredential %s-%d {\n\t\t\tprovider %s\n\t\t\tapi_key key-%s-%d\n\t\t\tbase_url %s\n\t\t}\n",
				p.provider, i, p.provider, p.provider, i, p.base)
		}
	}
	return b.String()
}

// conversation builds turn n (1-based) of a conversation in one of the
// four body formats. No session header or ID field: the gateway has only
// the messages to go by (the hash fallback).
type format struct {
	name   string
	path   func(model string) string
	header func() http.Header
	model  string
	body   func(id, turn int) string
}

func turns(id, turn int, render func(role, text string) string) string {
	parts := []string{render("user", fmt.Sprintf("conversation %d opens", id))}
	for i := 2; i <= turn; i++ {
		parts = append(parts, render("assistant", fmt.Sprintf("answer %d to %d", i-1, id)), render("user", fmt.Sprintf("follow-up %d of %d", i, id)))
	}
	return strings.Join(parts, ",")
}

var formats = []format{
	{
		name: "claude", model: "claude-sonnet-4-5",
		path:   func(string) string { return "/v1/messages" },
		header: anthropicHeader,
		body: func(id, turn int) string {
			return `{"model":"claude-sonnet-4-5","max_tokens":16,"system":[{"type":"text","text":"you are terse"}],"messages":[` +
				turns(id, turn, func(role, text string) string {
					return `{"role":"` + role + `","content":[{"type":"text","text":"` + text + `"}]}`
				}) + `]}`
		},
	},
	{
		name: "openai-chat", model: "gpt-5",
		path:   func(string) string { return "/v1/chat/completions" },
		header: bearer,
		body: func(id, turn int) string {
			return `{"model":"gpt-5","messages":[{"role":"system","content":"you are terse"},` +
				turns(id, turn, func(role, text string) string {
					return `{"role":"` + role + `","content":"` + text + `"}`
				}) + `]}`
		},
	},
	{
		name: "openai-responses", model: "gpt-5",
		path:   func(string) string { return "/v1/responses" },
		header: bearer,
		body: func(id, turn int) string {
			return `{"model":"gpt-5","instructions":"you are terse","input":[` +
				turns(id, turn, func(role, text string) string {
					kind := "input_text"
					if role == "assistant" {
						kind = "output_text"
					}
					return `{"type":"message","role":"` + role + `","content":[{"type":"` + kind + `","text":"` + text + `"}]}`
				}) + `]}`
		},
	},
	{
		name: "gemini", model: "gemini-2.5-pro",
		path:   func(m string) string { return "/v1beta/models/" + m + ":generateContent" },
		header: geminiHeader,
		body: func(id, turn int) string {
			return `{"systemInstruction":{"parts":[{"text":"you are terse"}]},"contents":[` +
				turns(id, turn, func(role, text string) string {
					if role == "assistant" {
						role = "model"
					}
					return `{"role":"` + role + `","parts":[{"text":"` + text + `"}]}`
				}) + `]}`
		},
	},
}

// send runs turn of conversation id and returns the upstream key that
// served it.
func (g *gateway) sendTurn(t *testing.T, f format, id, turn int) string {
	t.Helper()
	before := len(g.mock.Requests())
	res, body := g.do(http.MethodPost, f.path(f.model), f.header(), f.body(id, turn))
	require.Equal(t, http.StatusOK, res.StatusCode, "%s conversation %d turn %d: %s", f.name, id, turn, body)
	reqs := g.mock.Requests()
	require.Greater(t, len(reqs), before)
	return reqs[len(reqs)-1].Key
}

func TestAffinityKeepsEveryConversationOnOneCredential(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			g := startGateway(t, gatewayOptions{Handler: affinityPool("")})
			const sessions = 40
			home := map[int]string{}
			for turn := 1; turn <= 4; turn++ {
				for i := range sessions {
					// alternate the order of the sessions, so a plain
					// rotation cannot land each on its old credential
					id := i
					if turn%2 == 0 {
						id = sessions - 1 - i
					}
					key := g.sendTurn(t, f, id, turn)
					if turn == 1 {
						home[id] = key
						continue
					}
					assert.Equal(t, home[id], key, "conversation %d moved on turn %d", id, turn)
				}
			}
			perCred := map[string]int{}
			for _, k := range home {
				perCred[k]++
			}
			assert.Len(t, perCred, 4, "sessions were not spread over the four credentials: %v", perCred)
			for k, n := range perCred {
				assert.LessOrEqual(t, float64(n), 1.5*sessions/4, "credential %s holds %d of %d sessions", k, n, sessions)
			}
		})
	}
}

func TestAffinityMovesOnceWhenHomeCools(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			g := startGateway(t, gatewayOptions{Handler: affinityPool("")})
			home := g.sendTurn(t, f, 7, 1)
			require.Equal(t, home, g.sendTurn(t, f, 7, 2))
			g.mock.SetFault(home, mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "3600"})
			moved := g.sendTurn(t, f, 7, 3)
			assert.NotEqual(t, home, moved)
			for turn := 4; turn <= 8; turn++ {
				assert.Equal(t, moved, g.sendTurn(t, f, 7, turn), "the session moved again on turn %d", turn)
			}
		})
	}
}

// While its home cools for a short while (here a 429 with a minute's
// Retry-After, under the two-minute hold), a conversation stays on one
// detour credential instead of moving every turn, and the other
// conversations turning the rotation meanwhile do not move it.
func TestAffinityKeepsOneDetourWhileHomeCools(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			g := startGateway(t, gatewayOptions{Handler: affinityPool("")})
			home := g.sendTurn(t, f, 7, 1)
			g.mock.SetFault(home, mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "60"})
			detour := g.sendTurn(t, f, 7, 2)
			require.NotEqual(t, home, detour)
			for turn := 3; turn <= 6; turn++ {
				g.sendTurn(t, f, 100+turn, 1) // another conversation turns the round robin
				assert.Equal(t, detour, g.sendTurn(t, f, 7, turn), "the conversation left its detour on turn %d", turn)
			}
		})
	}
}

func TestAffinitySurvivesConfigReload(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			g := startGateway(t, gatewayOptions{Handler: affinityPool("")})
			home := map[int]string{}
			for id := range 12 {
				home[id] = g.sendTurn(t, f, id, 1)
			}
			// a reload that changes the strategy (fill-first would put
			// every new session on one credential) keeps the bindings
			g.reload(gatewayOptions{Handler: affinityPool("\t\tstrategy fill-first\n\t\tmax_attempts 2")})
			for id := range 12 {
				assert.Equal(t, home[id], g.sendTurn(t, f, id, 2), "conversation %d changed credential across the reload", id)
			}
		})
	}
}
