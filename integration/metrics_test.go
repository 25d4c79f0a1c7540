package integration

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// scrape is one read of Caddy's admin /metrics.
type scrape struct {
	raw      string
	families map[string]*dto.MetricFamily
}

func (g *gateway) scrape() scrape {
	g.t.Helper()
	res, err := http.Get(adminURL + "/metrics")
	require.NoError(g.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(g.t, err)
	require.Equal(g.t, http.StatusOK, res.StatusCode, string(raw))
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(string(raw)))
	require.NoError(g.t, err)
	return scrape{raw: string(raw), families: families}
}

// series returns the metrics of family name whose labels include the given
// name/value pairs.
func (s scrape) series(name string, labels ...string) []*dto.Metric {
	f := s.families[name]
	if f == nil {
		return nil
	}
	var out []*dto.Metric
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}

// value sums the counters or gauges of name matching labels.
func (s scrape) value(name string, labels ...string) float64 {
	var sum float64
	for _, m := range s.series(name, labels...) {
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return sum
}

// observations counts the histogram observations of name matching labels.
func (s scrape) observations(name string, labels ...string) uint64 {
	var n uint64
	for _, m := range s.series(name, labels...) {
		n += m.GetHistogram().GetSampleCount()
	}
	return n
}

// scrapeAfter scrapes once the gateway has counted n more requests than
// in before: a request is counted when its handler returns, which can be
// just after the client has read the whole answer.
func (g *gateway) scrapeAfter(before scrape, n int, labels ...string) scrape {
	g.t.Helper()
	const req = "caddy_cliproxy_requests_total"
	var s scrape
	require.Eventually(g.t, func() bool {
		s = g.scrape()
		return s.value(req, labels...)-before.value(req, labels...) >= float64(n)
	}, 5*time.Second, 10*time.Millisecond, "the gateway did not count %d requests", n)
	return s
}

// metricsPool has credentials of their own: the collectors live as long as
// the process, and other tests' credentials share names.
const metricsPool = `
		client_key ` + clientKey + ` alice
		strategy fill-first
		request_log off
		credential m-claude-a {
			provider claude
			api_key ` + claudeKeyA + `
			base_url MOCK
		}
		credential m-openai {
			provider openai
			api_key ` + openAIKey + `
			base_url MOCK/v1
		}
		credential m-gemini-a {
			provider gemini
			api_key ` + geminiKeyA + `
			base_url MOCK
		}
		credential m-gemini-b {
			provider gemini
			api_key ` + geminiKeyB + `
			base_url MOCK
		}
`

const metricsClaudeB = `
		credential m-claude-b {
			provider claude
			api_key ` + claudeKeyB + `
			base_url MOCK
		}
`

// A scripted run of successes, a failover, cooldowns, the gateway's own
// refusals and affinity picks shows in the metrics with exactly those
// counts, survives a reload, and loses the series of a removed credential.
func TestMetricsAfterAScriptedRun(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: metricsPool + metricsClaudeB})
	const (
		req = "caddy_cliproxy_requests_total"
		att = "caddy_cliproxy_attempts_total"
	)
	before := g.scrape()
	delta := func(s scrape, name string, labels ...string) float64 {
		return s.value(name, labels...) - before.value(name, labels...)
	}

	// two successes
	for range 2 {
		res, body := g.do(http.MethodPost, "/v1/chat/completions", bearer(), `{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}`)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
	}
	// a failover: a is out of quota for 120 s, b answers
	g.mock.SetFault(claudeKeyA, mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "120", Times: 1})
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	cooledAt := time.Now()
	// b fails too, with nobody left to try: the gateway answers 503
	g.mock.SetFault(claudeKeyB, mockupstream.Fault{Status: http.StatusServiceUnavailable, Times: 1})
	res, body = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, body)
	// both rest now: the gateway answers itself
	res, body = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, body)
	// and refuses a wrong client key
	res, body = g.do(http.MethodPost, "/v1/messages", hdr("x-api-key", "sk-wrong", "anthropic-version", "2023-06-01"), claudeBody)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, body)

	s := g.scrapeAfter(before, 6)
	assert.Equal(t, 2.0, delta(s, req, "provider", "openai", "credential", "m-openai", "status", "2xx"))
	assert.Equal(t, 2.0, delta(s, att, "provider", "openai", "credential", "m-openai", "status", "2xx"))
	assert.Equal(t, 1.0, delta(s, att, "credential", "m-claude-a", "status", "4xx"))
	assert.Equal(t, 0.0, delta(s, req, "credential", "m-claude-a"), "a served no answer")
	assert.Equal(t, 1.0, delta(s, att, "credential", "m-claude-b", "status", "2xx"))
	assert.Equal(t, 1.0, delta(s, att, "credential", "m-claude-b", "status", "5xx"))
	assert.Equal(t, 1.0, delta(s, req, "provider", "claude", "credential", "m-claude-b", "status", "2xx"))
	assert.Equal(t, 0.0, delta(s, req, "credential", "m-claude-b", "status", "5xx"), "the gateway answered, not b")
	assert.Equal(t, 1.0, delta(s, req, "provider", "", "credential", "", "status", "5xx"), "the gateway's own 503")
	assert.Equal(t, 2.0, delta(s, req, "provider", "", "credential", "", "status", "4xx"), "the gateway's own 429 and 401")
	assert.Equal(t, 3.0, delta(s, att, "provider", "claude"), "three claude attempts reached an upstream")

	ttfb := "caddy_cliproxy_upstream_ttfb_seconds"
	assert.Equal(t, uint64(1), s.observations(ttfb, "credential", "m-claude-a"))
	assert.Equal(t, uint64(2), s.observations(ttfb, "credential", "m-claude-b"))
	assert.Equal(t, uint64(2), s.observations(ttfb, "credential", "m-openai"))

	// health as it is now
	model := "claude-sonnet-4-5"
	assert.Equal(t, 1.0, s.value("caddy_cliproxy_credential_available", "credential", "m-claude-a"), "one model blocked leaves the credential up")
	assert.Equal(t, 0.0, s.value("caddy_cliproxy_credential_model_available", "credential", "m-claude-a", "model", model))
	assert.Equal(t, 0.0, s.value("caddy_cliproxy_credential_model_available", "credential", "m-claude-b", "model", model))
	assert.Equal(t, 1.0, s.value("caddy_cliproxy_credential_available", "credential", "m-openai"))
	assert.Empty(t, s.series("caddy_cliproxy_credential_model_available", "credential", "m-openai"), "a model that never failed has no state")
	until := s.value("caddy_cliproxy_credential_cooldown_until_seconds", "credential", "m-claude-a", "model", model, "reason", "cooldown")
	assert.InDelta(t, float64(cooledAt.Add(120*time.Second).Unix()), until, 3, "a rests until its Retry-After")
	untilB := s.value("caddy_cliproxy_credential_cooldown_until_seconds", "credential", "m-claude-b", "model", model, "reason", "other")
	assert.InDelta(t, float64(time.Now().Add(60*time.Second).Unix()), untilB, 3, "b rests the transient cooldown")

	for _, secret := range append(upstreamKeys, clientKey, "sk-wrong") {
		assert.NotContains(t, s.raw, secret)
	}
	assert.NotContains(t, s.raw, `member="`+clientKey)

	// an operator's disable shows at once
	admin := func(action string) {
		t.Helper()
		res, err := http.Post(adminURL+"/cliproxy/credentials/m-openai/"+action, "application/json", nil)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
	}
	admin("disable")
	assert.Equal(t, 0.0, g.scrape().value("caddy_cliproxy_credential_available", "credential", "m-openai"))
	admin("enable")
	assert.Equal(t, 1.0, g.scrape().value("caddy_cliproxy_credential_available", "credential", "m-openai"))

	// a reload keeps every count; affinity picks are counted by outcome
	g.reload(gatewayOptions{Handler: metricsPool + metricsClaudeB + "\t\tsession_affinity on\n"})
	s = g.scrape()
	assert.Equal(t, 2.0, delta(s, req, "credential", "m-openai", "status", "2xx"), "a reload lost the counts")
	assert.Equal(t, uint64(2), s.observations(ttfb, "credential", "m-claude-b"))
	aff := "caddy_cliproxy_affinity_total"
	gem := func() {
		t.Helper()
		res, body := g.do(http.MethodPost, "/v1beta/models/gemini-2.5-pro:generateContent",
			hdr("x-goog-api-key", clientKey, "X-Session-ID", "metrics-session"), `{"contents":[{"parts":[{"text":"hi"}]}]}`)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
	}
	gem() // miss: bound to m-gemini-a
	g.mock.SetFault(geminiKeyA, mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "600", Times: 1})
	gem() // hit on a, which is out for 10 min: rebind to b
	gem() // hit on b
	s = g.scrapeAfter(before, 9)
	assert.Equal(t, 1.0, delta(s, aff, "outcome", "miss"))
	assert.Equal(t, 2.0, delta(s, aff, "outcome", "hit"))
	assert.Equal(t, 1.0, delta(s, aff, "outcome", "rebind"))
	assert.Equal(t, 0.0, delta(s, aff, "outcome", "detour"))
	assert.Equal(t, 2.0, delta(s, req, "credential", "m-gemini-b", "status", "2xx"))

	// a credential taken out of the config takes its series along
	g.reload(gatewayOptions{Handler: metricsPool})
	s = g.scrape()
	for _, name := range []string{req, att, ttfb, "caddy_cliproxy_credential_available", "caddy_cliproxy_credential_model_available", "caddy_cliproxy_credential_cooldown_until_seconds"} {
		assert.Empty(t, s.series(name, "credential", "m-claude-b"), name)
	}
	assert.Equal(t, 1.0, delta(s, att, "credential", "m-claude-a", "status", "4xx"), "a kept credential keeps its series")

	// disable_metrics leaves no cliproxy series in the registry
	g.reload(gatewayOptions{Handler: metricsPool + "\t\tdisable_metrics\n"})
	s = g.scrape()
	for name := range s.families {
		assert.False(t, strings.HasPrefix(name, "caddy_cliproxy_"), name)
	}
}

// A credential whose auth file is deleted loses its series without a
// reload; the file's token never shows in the metrics.
func TestMetricsFollowTheAuthDirectory(t *testing.T) {
	o := startOAuthGateway(t, "")
	o.writeAuthFile(t, "m-dir-a.json", claudeOAuthFile("tok-metrics-a", "ref-metrics-a", time.Now().Add(6*time.Hour), o.mockURL))
	waitFor(t, "m-dir-a is served", func() bool {
		res, _ := o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		return res.StatusCode == http.StatusOK
	})
	var s scrape
	waitFor(t, "the request is counted", func() bool {
		s = o.scrape()
		return s.value("caddy_cliproxy_requests_total", "provider", "claude", "credential", "m-dir-a", "status", "2xx") >= 1
	})
	assert.Equal(t, 1.0, s.value("caddy_cliproxy_credential_available", "credential", "m-dir-a"))
	assert.NotContains(t, s.raw, "tok-metrics-a")
	assert.NotContains(t, s.raw, "ref-metrics-a")

	require.NoError(t, os.Remove(filepath.Join(o.dir, "m-dir-a.json")))
	waitFor(t, "the removed file's series are gone", func() bool {
		s = o.scrape()
		return len(s.series("caddy_cliproxy_requests_total", "credential", "m-dir-a")) == 0
	})
	for _, name := range []string{"caddy_cliproxy_attempts_total", "caddy_cliproxy_upstream_ttfb_seconds", "caddy_cliproxy_credential_available"} {
		assert.Empty(t, s.series(name, "credential", "m-dir-a"), name)
	}
}

// A member can name any model, and an upstream refuses the made-up ones
// with 404, which blocks the name on the credential: those states must not
// become series. Per-model health is exported for models the pool has
// served and models the config names, and for no other.
func TestMetricsModelSeriesOnlyForKnownModels(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: `
		client_key ` + clientKey + ` alice
		credential card-claude {
			provider claude
			api_key ` + claudeKeyA + `
			base_url MOCK
			models claude-opus-4-1 claude-*
		}
`})
	send := func(model string) int {
		t.Helper()
		res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(),
			`{"model":"`+model+`","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`)
		if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusNotFound {
			t.Fatalf("%s: %d %s", model, res.StatusCode, body)
		}
		return res.StatusCode
	}
	require.Equal(t, http.StatusOK, send("claude-sonnet-4-5"), "the served model")
	// Anthropic's answer to a model it does not have
	g.mock.SetFault("*", mockupstream.Fault{
		Status: http.StatusNotFound,
		Body:   `{"type":"error","error":{"type":"not_found_error","message":"model: no such model"}}`,
	})
	const madeUp = 40
	for i := range madeUp {
		require.Equal(t, http.StatusNotFound, send(fmt.Sprintf("claude-made-up-%d", i)))
	}
	require.Equal(t, http.StatusNotFound, send("claude-sonnet-4-5"))
	require.Equal(t, http.StatusNotFound, send("claude-opus-4-1"), "the model the config names, never served")
	require.Equal(t, http.StatusNotFound, send("CLAUDE-OPUS-4-1"), "another spelling of it")

	// the pool keeps every state: the upstream refused those names
	list := g.adminAPI().credential("card-claude")
	assert.Len(t, list.Get("models").Map(), madeUp+3, list.Raw)

	s := g.scrape()
	modelsOf := func(name string) []string {
		var out []string
		for _, m := range s.series(name, "credential", "card-claude") {
			for _, l := range m.GetLabel() {
				if l.GetName() == "model" {
					out = append(out, l.GetValue())
				}
			}
		}
		return out
	}
	want := []string{"claude-sonnet-4-5", "claude-opus-4-1"}
	assert.ElementsMatch(t, want, modelsOf("caddy_cliproxy_credential_model_available"))
	assert.ElementsMatch(t, want, modelsOf("caddy_cliproxy_credential_cooldown_until_seconds"))
	assert.False(t, strings.Contains(s.raw, "claude-made-up-"), "a made-up model name is a label")
	assert.Equal(t, 0.0, s.value("caddy_cliproxy_credential_model_available", "credential", "card-claude", "model", "claude-sonnet-4-5"))
}
