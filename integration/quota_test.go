package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// Two Claude accounts behind real Caddy: when one reports 97 % of its 5h
// window, new sessions and session-less requests go to the other, while a
// session bound to it stays until it reports past the move threshold
// (0.98); the windows show in the management API and one warning is
// logged per crossing.
func TestQuotaAwarePlacement(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: "\t\tclient_key " + clientKey + " alice\n\t\tsession_affinity on\n" +
		"\t\tcredential acct-a {\n\t\t\tprovider claude\n\t\t\tapi_key key-a\n\t\t\tbase_url MOCK\n\t\t}\n" +
		"\t\tcredential acct-b {\n\t\t\tprovider claude\n\t\t\tapi_key key-b\n\t\t\tbase_url MOCK\n\t\t}\n"})
	g.mock.SetUsage("key-a", mockupstream.Usage{Family: mockupstream.UsageAnthropicUnified, Used: 0.5, Weekly: 0.2, ResetIn: time.Hour})
	g.mock.SetUsage("key-b", mockupstream.Usage{Family: mockupstream.UsageAnthropicUnified, Used: 0.1, Weekly: 0.1, ResetIn: 3 * time.Hour})

	ask := func(session string) {
		t.Helper()
		h := anthropicHeader()
		if session != "" {
			h.Set("X-Claude-Code-Session-Id", session)
		}
		res, body := g.do(http.MethodPost, "/v1/messages", h,
			`{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi `+session+`"}]}`)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
	}
	served := func() (a, b int) { return len(g.mock.RequestsFor("key-a")), len(g.mock.RequestsFor("key-b")) }

	// the home session lands on acct-a, the first in round robin
	ask("home-session")
	a, b := served()
	require.Equal(t, 1, a, "the first session goes to acct-a")
	require.Equal(t, 0, b)

	// acct-a fills up to 97 %: its next answer says so
	g.mock.SetUsage("key-a", mockupstream.Usage{Family: mockupstream.UsageAnthropicUnified, Used: 0.97, Weekly: 0.2, ResetIn: time.Hour})
	ask("home-session")
	a, _ = served()
	require.Equal(t, 2, a, "the bound session stays home below the move threshold")

	for i := range 6 {
		ask("new-session-" + string(rune('a'+i)))
		ask("")
	}
	a, b = served()
	assert.Equal(t, 2, a, "no new session nor session-less request went to the account at 97 %")
	assert.Equal(t, 12, b)

	ask("home-session")
	a, _ = served()
	assert.Equal(t, 3, a, "still home at 97 %")

	// past the move threshold, the bound session moves and stays moved
	g.mock.SetUsage("key-a", mockupstream.Usage{Family: mockupstream.UsageAnthropicUnified, Used: 0.985, Weekly: 0.2, ResetIn: time.Hour})
	ask("home-session") // this answer reports 98.5 %
	ask("home-session")
	ask("home-session")
	a, b = served()
	assert.Equal(t, 4, a, "the bound session left its home past the move threshold")
	assert.Equal(t, 14, b)

	// the windows as the management API shows them
	_, creds, _ := g.adminAPI().call(http.MethodGet, "credentials", "")
	var found bool
	for _, c := range creds.Get("credentials").Array() {
		if c.Get("name").String() != "acct-a" {
			continue
		}
		found = true
		windows := c.Get("quota.windows").Array()
		require.Len(t, windows, 2, c.Raw)
		assert.Equal(t, "5h", windows[0].Get("window").String())
		assert.InDelta(t, 0.985, windows[0].Get("utilization").Float(), 1e-9)
		assert.Equal(t, "allowed_warning", windows[0].Get("status").String())
		resets, err := time.Parse(time.RFC3339, windows[0].Get("resets_at").String())
		require.NoError(t, err)
		assert.WithinDuration(t, time.Now().Add(time.Hour), resets, 5*time.Second)
		assert.Equal(t, "7d", windows[1].Get("window").String())
	}
	assert.True(t, found, "acct-a in GET credentials: %s", creds.Raw)

	warnings := strings.Count(g.logs(), "reached the quota threshold")
	assert.Equal(t, 1, warnings, "one warning for acct-a's 5h window crossing 0.9")
}

// Each provider's header family, from a success over HTTP and from a
// WebSocket handshake, ends up as the credential's windows in GET
// credentials and in the quota metrics.
func TestQuotaHeaderFamiliesThroughTheGateway(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: "\t\tclient_key " + clientKey + " alice\n" +
		"\t\tcredential claude-1 {\n\t\t\tprovider claude\n\t\t\tapi_key key-claude\n\t\t\tbase_url MOCK\n\t\t}\n" +
		"\t\tcredential openai-1 {\n\t\t\tprovider openai\n\t\t\tapi_key key-openai\n\t\t\tbase_url MOCK/v1\n\t\t}\n"})
	claude := func() {
		res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), `{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
	}
	chat := func() {
		res, body := g.do(http.MethodPost, "/v1/chat/completions", bearer(), `{"model":"gpt-5.5","messages":[{"role":"user","content":"hi"}]}`)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
	}
	websocketTurn := func() {
		conn := g.mustDialWS(codexHeader("quota-ws"))
		sendWS(t, conn, turnMsg("gpt-5.5", "hi", ""))
		readTurn(t, conn)
	}
	for _, tt := range []struct {
		family     string
		credential string
		send       func()
		windows    map[string]float64
	}{
		{mockupstream.UsageAnthropicUnified, "claude-1", claude, map[string]float64{"5h": 0.42, "7d": 0.2}},
		{mockupstream.UsageAnthropicAPI, "claude-1", claude, map[string]float64{"requests": 0.42, "tokens": 0.2, "input-tokens": 0.2, "output-tokens": 0.2}},
		{mockupstream.UsageOpenAI, "openai-1", chat, map[string]float64{"requests": 0.42, "tokens": 0.2}},
		{mockupstream.UsageCodex, "openai-1", websocketTurn, map[string]float64{"5h": 0.42, "7d": 0.2}},
	} {
		t.Run(tt.family, func(t *testing.T) {
			key := "key-claude"
			if tt.credential == "openai-1" {
				key = "key-openai"
			}
			g.mock.SetUsage(key, mockupstream.Usage{Family: tt.family, Used: 0.42, Weekly: 0.2, ResetIn: 30 * time.Minute})
			tt.send()
			_, creds, _ := g.adminAPI().call(http.MethodGet, "credentials", "")
			got := map[string]float64{}
			for _, c := range creds.Get("credentials").Array() {
				if c.Get("name").String() == tt.credential {
					for _, w := range c.Get("quota.windows").Array() {
						got[w.Get("window").String()] = w.Get("utilization").Float()
					}
				}
			}
			for window, want := range tt.windows {
				assert.InDelta(t, want, got[window], 1e-6, "window %s of %s: %v", window, tt.credential, got)
			}
			s := g.scrape()
			for window, want := range tt.windows {
				assert.InDelta(t, want, s.value("caddy_cliproxy_credential_quota_utilization", "credential", tt.credential, "window", window), 1e-6, window)
			}
			g.mock.SetUsage(key, mockupstream.Usage{})
		})
	}
}
