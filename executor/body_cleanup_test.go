package executor_test

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/executor"
)

// panickingProxy reads part of the request body and panics, as a bug in
// a handler under the executor would.
type panickingProxy struct{}

func (panickingProxy) ServeHTTP(_ http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	_, _ = io.ReadFull(r.Body, make([]byte, 4096))
	panic("proxy bug")
}

// A request whose handler panics leaves no spool file and gives its
// memory back, whether its body was read whole first or was being sent
// as it arrived.
func TestPanicLeavesNoSpoolFile(t *testing.T) {
	dir := t.TempDir()
	budget := executor.NewBodyBudget(1 << 10)
	h := newHarness(t, func(o *executor.Options) {
		o.BodyBudget, o.BodySpoolDir = budget, dir
		o.Proxy, o.TLSProxy = panickingProxy{}, panickingProxy{}
	}, claude("a"))
	body := `{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"` + strings.Repeat("x", 200<<10) + `"}]}`
	for _, sessionHeader := range []bool{false, true} {
		header := anthropicHeader()
		if sessionHeader {
			header.Set("X-Claude-Code-Session-Id", "5b1c4f0e-8a43-4a8f-9f55-3f1f0c1b2d3e")
		}
		assert.PanicsWithValue(t, "proxy bug", func() { h.serve(http.MethodPost, "/v1/messages", header, body) })
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		assert.Empty(t, entries, "a spool file outlived the request that panicked")
		assert.Zero(t, budget.Held())
	}
}
