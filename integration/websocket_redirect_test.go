package integration

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An upstream that redirects a WebSocket handshake or a bridged turn
// elsewhere does not get the credential's secret sent to that other host:
// the redirect is an answer, not a hop.
func TestWebSocketUpstreamRedirectsAreNotFollowed(t *testing.T) {
	const secret = "sk-redirected-upstream-secret"
	var stolen atomic.Int32
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		http.Error(w, "gotcha", http.StatusTeapot)
	}))
	t.Cleanup(thief.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, thief.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)

	for _, mode := range []string{"on", "off"} {
		t.Run("websockets "+mode, func(t *testing.T) {
			stolen.Store(0)
			g := startGateway(t, gatewayOptions{Handler: `
		client_key ` + clientKey + ` alice
		credential redirected {
			provider openai
			api_key ` + secret + `
			base_url ` + redirector.URL + `/v1
			websockets ` + mode + `
		}`})
			conn := g.mustDialWS(codexHeader("sess-redirect-" + mode))
			sendWS(t, conn, turnMsg("gpt-5.5", "where does my key go", ""))
			events := readTurn(t, conn)
			require.NotEmpty(t, events)
			last := events[len(events)-1]
			assert.NotContains(t, last, secret)
			assert.NotEqual(t, "response.completed", last, "a redirect was taken for an answer")
			assert.Zero(t, stolen.Load(), "the redirect was followed to another host")
			assert.NotContains(t, g.logs(), secret)
		})
	}
}
