package integration

import (
	"bytes"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

const (
	bobKey2  = "sk-client-bob-dashboard-0123"
	carolKey = "sk-client-carol-dashboard-0123"
)

// dashboardPool is a pool worth looking at: two Claude keys (one of them
// will cool down), an OpenAI key on a lower tier and a Gemini key, for
// three members.
const dashboardPool = `
		client_key ` + clientKey + ` alice
		client_key ` + bobKey2 + ` bob
		client_key ` + carolKey + ` carol
		session_affinity on
		credential claude-a {
			provider claude
			api_key ` + claudeKeyA + `
			base_url MOCK
			group team
		}
		credential claude-b {
			provider claude
			api_key ` + claudeKeyB + `
			base_url MOCK
			group team
		}
		credential gemini-a {
			provider gemini
			api_key ` + geminiKeyA + `
			base_url MOCK
		}
		credential openai-a {
			provider openai
			api_key ` + openAIKey + `
			base_url MOCK/v1
			priority 1
			models gpt-*
		}
`

// coolWholeCredential makes the next answer with key an Anthropic
// subscription rejection: the whole credential cools for ten minutes.
func coolWholeCredential(g *gateway, key string) time.Time {
	reset := time.Now().Add(10 * time.Minute).Truncate(time.Second)
	g.mock.SetFault(key, mockupstream.Fault{Status: http.StatusTooManyRequests, Times: 1, Headers: map[string]string{
		"anthropic-ratelimit-unified-status":    "rejected",
		"anthropic-ratelimit-unified-5h-status": "rejected",
		"anthropic-ratelimit-unified-5h-reset":  strconv.FormatInt(reset.Unix(), 10),
	}})
	return reset
}

// dashboardTraffic sends requests of the three members, leaving claude-a
// cooling (round robin tries it first) and a session bound to claude-b
// whose name is markup.
func dashboardTraffic(t *testing.T, g *gateway) {
	t.Helper()
	coolWholeCredential(g, claudeKeyA)
	for i := range 3 {
		g.claude("", fmt.Sprintf("warm-up %d", i))
	}
	h := anthropicHeader()
	h.Set("X-Session-ID", `<img src="http://203.0.113.9/x.png">`)
	res, body := g.do(http.MethodPost, "/v1/messages", h, `{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"bound"}]}`)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	for i, key := range []string{bobKey2, bobKey2, carolKey} {
		res, body := g.do(http.MethodPost, "/v1beta/models/gemini-2.5-pro:generateContent", hdr("X-Goog-Api-Key", key, "Content-Type", "application/json"),
			fmt.Sprintf(`{"contents":[{"role":"user","parts":[{"text":"gemini %d"}]}]}`, i))
		require.Equal(t, http.StatusOK, res.StatusCode, body)
	}
	openai := hdr("Authorization", "Bearer "+carolKey, "Content-Type", "application/json")
	res, body = g.do(http.MethodPost, "/v1/chat/completions", openai, `{"model":"gpt-5","messages":[{"role":"user","content":"hello"}]}`)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	// one model of openai-a cools; the others serve on
	g.mock.SetFault(openAIKey, mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "300", Times: 1})
	res, body = g.do(http.MethodPost, "/v1/chat/completions", openai, `{"model":"gpt-5-mini","messages":[{"role":"user","content":"hello"}]}`)
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, body)
}

// dashRow is a credential row as the page shows it.
type dashRow struct {
	Name      string `json:"name"`
	Status    string `json:"status"`
	Countdown string `json:"countdown"`
	Reason    string `json:"reason"`
	Requests  string `json:"requests"`
	Action    string `json:"action"`
}

const readRows = `[...document.querySelectorAll('#credentials tbody tr[data-key]')].map(r => ({
	name: r.dataset.key,
	status: r.querySelector('.chip').textContent,
	countdown: r.querySelector('.status .countdown').textContent,
	reason: r.querySelector('.status .sub').textContent,
	requests: r.children[5].textContent,
	action: r.querySelector('.actions button').textContent,
}))`

func rowsByName(rows []dashRow) map[string]dashRow {
	out := make(map[string]dashRow, len(rows))
	for _, r := range rows {
		out[r.Name] = r
	}
	return out
}

var countdownRE = regexp.MustCompile(`^(?:(\d+)m )?(\d+)s$`)

// seconds reads a countdown of the page ("9m 58s", "42s").
func seconds(t *testing.T, s string) int {
	t.Helper()
	m := countdownRE.FindStringSubmatch(s)
	require.NotNil(t, m, "not a countdown: %q", s)
	min, _ := strconv.Atoi(m[1])
	sec, _ := strconv.Atoi(m[2])
	return min*60 + sec
}

// rowSel selects the row of credential name.
func rowSel(name string) string {
	return `#credentials tbody tr[data-key="` + name + `"]`
}

// confirmDialog checks the page asks before it acts, and answers.
func confirmDialog(t *testing.T, b *browser, title string, accept bool) {
	t.Helper()
	b.waitUntil(`document.getElementById('confirm').open`, 5*time.Second)
	assert.Equal(t, title, eval[string](b, `document.getElementById('confirm-title').textContent`))
	button := "#confirm-cancel"
	if accept {
		button = "#confirm-ok"
	}
	b.do(chromedp.Click(chromedp.CSS(button)))
	b.waitUntil(`!document.getElementById('confirm').open`, 5*time.Second)
}

// The site mount, the first-class way in: the page asks for the key once,
// keeps it in the tab, shows the cooling and the healthy credential with a
// live countdown, shows a refused action's error, and disables a
// credential for real; nothing goes to another host.
func TestDashboardOnTheSiteMount(t *testing.T) {
	t.Setenv("CLIPROXY_TEST_MGMT_KEY", mgmtKey)
	g := startGateway(t, gatewayOptions{Handler: dashboardPool + `
		management {
			key {env.CLIPROXY_TEST_MGMT_KEY}
		}
`})
	dashboardTraffic(t, g)
	api := g.adminAPI()
	a := api.credential("claude-a")
	require.Equal(t, "cooldown", a.Get("status").String(), a.Raw)
	recovers := a.Get("whole.next_retry_after").Time()

	b := startBrowser(t)
	// a slow refresh, so a row the API no longer has stays on the page
	// until the test acts on it
	b.do(chromedp.Navigate(g.url("/v0/management/ui/?refresh=600")))
	b.waitUntil(`!document.getElementById('login').hidden`, 10*time.Second)
	// a wrong key costs one try of the lockout's five, not one per call
	sent := len(b.requested())
	b.do(chromedp.SendKeys(chromedp.CSS("#key"), "not-the-key"), chromedp.Click(chromedp.CSS("#login-submit")))
	b.waitUntil(`document.getElementById('login-error').textContent === 'That key was refused.'`, 10*time.Second)
	assert.Len(t, b.requested()[sent:], 1, "the wrong key was sent more than once")
	assert.Empty(t, eval[string](b, `sessionStorage.getItem('cliproxy.managementKey') || ''`), "a refused key is forgotten")
	b.do(chromedp.SendKeys(chromedp.CSS("#key"), mgmtKey), chromedp.Click(chromedp.CSS("#login-submit")))
	b.waitUntil(`document.querySelector('`+rowSel("claude-b")+`')`, 10*time.Second)
	assert.Equal(t, mgmtKey, eval[string](b, `sessionStorage.getItem('cliproxy.managementKey')`), "the key is kept for the tab")
	assert.Zero(t, eval[int](b, `localStorage.length`), "the key is not kept beyond the tab")

	readAt := time.Now()
	rows := eval[[]dashRow](b, readRows)
	var names []string
	for _, r := range rows {
		names = append(names, r.Name)
	}
	assert.Equal(t, []string{"claude-a", "claude-b", "gemini-a", "openai-a"}, names)
	byName := rowsByName(rows)
	assert.Equal(t, "cooldown", byName["claude-a"].Status)
	assert.Contains(t, byName["claude-a"].Reason, "unified 5h")
	assert.Equal(t, "Disable", byName["claude-a"].Action)
	assert.Equal(t, "available", byName["claude-b"].Status)
	assert.Empty(t, byName["claude-b"].Countdown)
	assert.Equal(t, "4", byName["claude-b"].Requests, "three warm-ups and the bound request")
	// a credential with one model cooling: the model's own state and countdown
	assert.Equal(t, "degraded", byName["openai-a"].Status)
	assert.Equal(t, "1 model out", byName["openai-a"].Reason)
	models := eval[[]string](b, `[...document.querySelectorAll('`+rowSel("openai-a")+` .models > div')].map(d => d.textContent)`)
	require.Len(t, models, 1)
	model, cd, ok := strings.Cut(models[0], "gpt-5-mini")
	require.True(t, ok && model == "", "model row %q", models[0])
	modelRecovers := api.credential("openai-a").Get("models.gpt-5-mini.next_retry_after").Time()
	assert.InDelta(t, time.Until(modelRecovers).Seconds(), seconds(t, cd), 3, "model countdown %q", cd)

	// the countdown is the API's recovery time, and it runs
	left := seconds(t, byName["claude-a"].Countdown)
	want := int(time.Until(recovers).Seconds())
	assert.InDelta(t, want, left, 3, "countdown %s, recovery in %ds", byName["claude-a"].Countdown, want)
	time.Sleep(2200 * time.Millisecond)
	later := seconds(t, rowsByName(eval[[]dashRow](b, readRows))["claude-a"].Countdown)
	elapsed := time.Since(readAt).Seconds()
	assert.True(t, later < left, "the countdown stands at %d", left)
	assert.InDelta(t, elapsed, left-later, 2, "the countdown went from %d to %d in %.1fs", left, later, elapsed)

	// a session named with markup is shown as text
	assert.Contains(t, eval[string](b, `document.querySelector('#sessions tbody').textContent`), `<img src="http://203.0.113.9/x.png">`)
	assert.Zero(t, eval[int](b, `document.querySelectorAll('main img').length`))

	// cancel changes nothing
	b.do(chromedp.Click(chromedp.CSS(rowSel("claude-a") + " .actions button:last-child")))
	confirmDialog(t, b, "Reset claude-a?", false)
	assert.Equal(t, "cooldown", api.credential("claude-a").Get("status").String(), "a cancelled reset reset")

	// a refused action shows the API's error: the binding went meanwhile
	api.ok(http.MethodDelete, "sessions?credential=claude-b", "")
	b.do(chromedp.Click(chromedp.CSS("#sessions tbody tr[data-key] .actions button")))
	confirmDialog(t, b, "Drop this session binding?", true)
	b.waitUntil(`!document.getElementById('banner').hidden`, 5*time.Second)
	msg := eval[string](b, `document.getElementById('banner-text').textContent`)
	assert.Contains(t, msg, "404 session_not_found")
	assert.Contains(t, msg, "no live binding of session")

	// disable, confirmed: the pool changes, and the page shows it
	b.do(chromedp.Click(chromedp.CSS(rowSel("claude-b") + " .actions button:first-child")))
	confirmDialog(t, b, "Disable claude-b?", true)
	b.waitUntil(`document.querySelector('`+rowSel("claude-b")+`').dataset.status === 'disabled'`, 5*time.Second)
	c := api.credential("claude-b")
	assert.Equal(t, "disabled", c.Get("status").String(), c.Raw)
	assert.Equal(t, "disabled", c.Get("override").String())
	r := rowsByName(eval[[]dashRow](b, readRows))["claude-b"]
	assert.Equal(t, "by an operator", r.Reason)
	assert.Equal(t, "Enable", r.Action)

	// switch the strategy
	b.do(chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById('strategy'); s.value = 'fill-first'; s.dispatchEvent(new Event('change')); })()`))
	confirmDialog(t, b, "Switch to fill-first?", true)
	assert.Eventually(t, func() bool {
		return api.ok(http.MethodGet, "strategy", "").Get("strategy").String() == "fill-first"
	}, 5*time.Second, 50*time.Millisecond)
	b.waitUntil(`document.getElementById('configured').textContent.includes('round-robin')`, 5*time.Second)

	host := fmt.Sprintf("localhost:%d", gatewayPort)
	assert.Empty(t, b.elsewhere(host), "the page sent requests to another host")
	assert.Greater(t, len(b.requested()), 8)
	assert.Empty(t, b.errors(), "the page logged errors (a CSP violation is one)")
	api.noSecrets(append(upstreamKeys, clientKey)...)
}

// adminOrigins is the admin setting that lets a browser in: a typed URL
// has no Origin (the empty origin), the page's own requests name the
// endpoint.
func adminOrigins() string {
	port := strings.TrimPrefix(adminAddr, "localhost:")
	return fmt.Sprintf(`origins "" localhost:%[1]s 127.0.0.1:%[1]s [::1]:%[1]s`, port)
}

// Caddy's admin endpoint with the origins setting of the README: the page
// loads, refreshes in place, resets a credential, and its requests stay on
// the endpoint. The screenshot in docs/ comes from here (go test -update).
func TestDashboardOnTheAdminEndpoint(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: dashboardPool})
	page := adminURL + "/cliproxy/ui/?refresh=1&pool=" + g.pool

	// without the setting, Caddy refuses a browser's navigation before
	// the module sees it (what the README's note is about)
	req, err := http.NewRequest(http.MethodGet, page, nil)
	require.NoError(t, err)
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	out, _ := readAll(res)
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "%s", out)

	g.reload(gatewayOptions{Handler: dashboardPool, Admin: adminOrigins()})
	dashboardTraffic(t, g)
	api := g.adminAPI()
	api.ok(http.MethodPost, "credentials/gemini-a/disable", "")

	b := startBrowser(t)
	b.do(chromedp.Navigate(page))
	b.waitUntil(`document.querySelector('`+rowSel("claude-b")+`')`, 10*time.Second)
	assert.True(t, eval[bool](b, `document.getElementById('login').hidden`), "the admin mount needs no key")
	byName := rowsByName(eval[[]dashRow](b, readRows))
	assert.Equal(t, "cooldown", byName["claude-a"].Status)
	assert.Equal(t, "available", byName["claude-b"].Status)
	assert.Equal(t, "disabled", byName["gemini-a"].Status)
	assert.Regexp(t, countdownRE, byName["claude-a"].Countdown)
	assert.Equal(t, "round-robin", eval[string](b, `document.getElementById('strategy').value`))
	assert.Equal(t, "on · ttl 1h · subagents parent", eval[string](b, `document.getElementById('affinity').textContent`))
	assert.Positive(t, eval[int](b, `document.querySelectorAll('#chart-requests rect.bar').length`), "the chart has bars")
	assert.Equal(t, []string{"alice", "bob", "carol"}, eval[[]string](b, `[...document.querySelectorAll('#members tbody tr')].map(r => r.dataset.key)`))

	// the page refreshes by itself, in place: the row stays the same node
	b.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('` + rowSel("claude-b") + `').probe = 1`))
	g.claude("", "while watching")
	b.waitUntil(`document.querySelector('`+rowSel("claude-b")+` td:nth-child(6)').textContent === '5'`, 10*time.Second)
	assert.True(t, eval[bool](b, `document.querySelector('`+rowSel("claude-b")+`').probe === 1`), "the row was rebuilt, not updated")

	if *update {
		b.do(chromedp.EmulateViewport(1440, 900))
		shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		_, err = png.Decode(bytes.NewReader(shot))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile("../docs/dashboard.png", shot, 0o644))
	}

	// reset, confirmed
	b.do(chromedp.Click(chromedp.CSS(rowSel("claude-a") + " .actions button:last-child")))
	confirmDialog(t, b, "Reset claude-a?", true)
	b.waitUntil(`document.querySelector('`+rowSel("claude-a")+`').dataset.status === 'available'`, 5*time.Second)
	assert.Equal(t, "available", api.credential("claude-a").Get("status").String())

	// the pool reports no quota windows yet, and the space stays empty;
	// once GET credentials has quota.windows, the row draws them as bars
	assert.Zero(t, eval[int](b, `document.querySelectorAll('#credentials .quota > *').length`))
	bars := eval[[]quotaBar](b, quotaProbe, chromedp.EvalAwaitPromise)
	assert.Equal(t, []quotaBar{
		{Window: "5h", Width: "42.0", Class: "fill", Percent: "42%"},
		{Window: "7d", Width: "97.0", Class: "fill high", Percent: "97%"},
		{Window: "opus", Width: "100.0", Class: "fill full", Percent: "100%"},
	}, bars)

	assert.Empty(t, b.elsewhere(adminAddr), "the page sent requests to another host")
	assert.Empty(t, b.errors(), "the page logged errors (a CSP violation is one)")
}

// quotaBar is a quota window's bar as the page draws it.
type quotaBar struct {
	Window  string `json:"window"`
	Width   string `json:"width"`
	Class   string `json:"class"`
	Percent string `json:"percent"`
}

// quotaProbe renders, with the page's own module, a credential whose
// answer carries quota windows in the shape the quota-aware pool will
// report (quota.windows[{window, utilization, resets_at, status}]).
const quotaProbe = `(async () => {
	const { Credentials } = await import(new URL('credentials.js', location).href);
	const table = document.createElement('table');
	table.append(document.createElement('tbody'));
	new Credentials(table, () => {}).render([{
		name: 'q', provider: 'claude', status: 'available', usage: { requests: 0, errors: 0, tokens: {} },
		quota: { windows: [
			{ window: '5h', utilization: 0.42, resets_at: new Date(Date.now() + 3600e3).toISOString(), status: 'allowed' },
			{ window: '7d', utilization: 0.97, resets_at: new Date(Date.now() + 86400e3).toISOString(), status: 'allowed_warning' },
			{ window: 'opus', utilization: 1, status: 'rejected' },
		] },
	}], {}, new Map());
	return [...table.querySelectorAll('.quota .w')].map(w => ({
		window: w.children[0].textContent,
		width: w.querySelector('.fill').getAttribute('width'),
		class: w.querySelector('.fill').getAttribute('class'),
		percent: w.children[2].textContent,
	}));
})()`
