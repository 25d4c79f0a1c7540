package integration

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// GET usage/timeline: the minutes of the last hour per credential and per
// member, fed by the requests the pool answers.
func TestManagementUsageTimeline(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: managedPool})
	api := g.adminAPI()
	before := time.Now().UTC().Truncate(time.Minute)
	var in, out int64
	for range 3 {
		i, o := g.claude("", "count me")
		in, out = in+i, out+o
	}
	// the usage is recorded once the answer is written: wait for it
	require.Eventually(t, func() bool {
		return api.ok(http.MethodGet, "usage", "").Get("members.alice.requests").Int() == 3
	}, 5*time.Second, 20*time.Millisecond)

	tl := api.ok(http.MethodGet, "usage/timeline", "")
	assert.Equal(t, int64(60), tl.Get("bucket_seconds").Int())
	from, to := tl.Get("from").Time(), tl.Get("to").Time()
	assert.Equal(t, time.Hour, to.Sub(from), "an hour by default")
	assert.False(t, to.Before(before.Add(time.Minute)))

	var requests, tokIn, tokOut int64
	for _, name := range []string{"claude-a", "claude-b"} {
		for _, b := range tl.Get("credentials." + name).Array() {
			start := b.Get("start").Time()
			assert.False(t, start.Before(before), "bucket %s before the requests", start)
			assert.Zero(t, start.Second())
			requests += b.Get("requests").Int()
			tokIn += b.Get("tokens.input").Int()
			tokOut += b.Get("tokens.output").Int()
		}
	}
	assert.Equal(t, int64(3), requests)
	assert.Equal(t, in, tokIn)
	assert.Equal(t, out, tokOut)
	var alice int64
	for _, b := range tl.Get("members.alice").Array() {
		alice += b.Get("requests").Int()
	}
	assert.Equal(t, int64(3), alice)

	day := api.ok(http.MethodGet, "usage/timeline?minutes=1440", "")
	assert.Equal(t, 24*time.Hour, day.Get("to").Time().Sub(day.Get("from").Time()))
	for _, bad := range []string{"0", "1441", "x", "-5"} {
		api.fails(http.MethodGet, "usage/timeline?minutes="+bad, "", http.StatusBadRequest, "bad_request")
	}
	api.fails(http.MethodPost, "usage/timeline", "", http.StatusMethodNotAllowed, "method_not_allowed")
	api.fails(http.MethodGet, "usage/elsewhere", "", http.StatusNotFound, "not_found")
	api.noSecrets(append(upstreamKeys, clientKey)...)
}

// GET strategy says how affinity is set, as the config has it.
func TestManagementStrategyShowsAffinity(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	api := g.adminAPI()
	st := api.ok(http.MethodGet, "strategy", "")
	assert.False(t, st.Get("affinity.enabled").Bool())
	assert.Equal(t, int64(3600), st.Get("affinity.ttl_seconds").Int())
	assert.Equal(t, "parent", st.Get("affinity.subagents").String())

	g.reload(gatewayOptions{Handler: poolConfig + `
		session_affinity on
		session_affinity_ttl 20m
		subagent_affinity separate
`})
	api.query = "pool=" + g.pool
	st = api.ok(http.MethodPut, "strategy", `{"strategy": "ff"}`)
	assert.Equal(t, "fill-first", st.Get("strategy").String())
	assert.True(t, st.Get("affinity.enabled").Bool())
	assert.Equal(t, int64(1200), st.Get("affinity.ttl_seconds").Int())
	assert.Equal(t, "separate", st.Get("affinity.subagents").String())
}

// The site mount serves the page without the key (the page asks for it),
// to the clients that may present one.
func TestDashboardPageOnTheSite(t *testing.T) {
	server := "\t\ttrusted_proxies static 127.0.0.1/32\n\t\tclient_ip_headers X-Forwarded-For"
	g := startGateway(t, gatewayOptions{Server: server, Handler: poolConfig + "\t\tmanagement {\n\t\t\tkey " + mgmtKey + "\n\t\t}\n"})
	res, body := g.do(http.MethodGet, "/v0/management/ui/", nil, "")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"))
	assert.Contains(t, res.Header.Get("Content-Security-Policy"), "default-src 'none'")
	assert.Contains(t, body, `src="app.js"`)
	assert.NotContains(t, body, mgmtKey)

	noFollow := *g.tester.Client
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := noFollow.Get(g.url("/v0/management/ui"))
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusMovedPermanently, res.StatusCode)
	assert.Equal(t, "ui/", res.Header.Get("Location"))

	// the API beside it still wants the key
	g.siteAPI(nil).fails(http.MethodGet, "credentials", "", http.StatusUnauthorized, "unauthorized")
	// a remote client gets neither
	res, body = g.do(http.MethodGet, "/v0/management/ui/app.js", hdr("X-Forwarded-For", "203.0.113.7"), "")
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Contains(t, body, "remote_refused")

	// the admin endpoint serves it too, without a pool
	res, err = http.Get(adminURL + "/cliproxy/ui/app.js")
	require.NoError(t, err)
	js, err := readAll(res)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, string(js), "import")
}
