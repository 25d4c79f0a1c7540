package executor_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
	"github.com/caddy-cliproxy/cliproxy/internal/testutil"
)

// forwardProxy is a plain HTTP forward proxy on loopback: it relays the
// absolute-URI requests it gets and notes the hosts they were for.
type forwardProxy struct {
	url   *url.URL
	mu    sync.Mutex
	hosts []string
}

func newForwardProxy(t *testing.T) *forwardProxy {
	t.Helper()
	p := &forwardProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.IsAbs() {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.hosts = append(p.hosts, r.URL.Host)
		p.mu.Unlock()
		out := r.Clone(r.Context())
		out.RequestURI = ""
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	var err error
	p.url, err = url.Parse(srv.URL)
	require.NoError(t, err)
	return p
}

func (p *forwardProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.hosts...)
}

func TestServeSendsACredentialThroughItsOwnProxy(t *testing.T) {
	proxy := newForwardProxy(t)
	egress := claude("egress")
	egress.ProxyURL = proxy.url
	h := newHarness(t, nil, egress)

	for range 2 {
		out := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
		require.NoError(t, out.err)
		require.Equal(t, http.StatusOK, out.Code, out.Body.String())
	}
	assert.Equal(t, []string{h.base.Host, h.base.Host}, proxy.seen(), "every attempt of the credential leaves through its proxy")
	assert.Len(t, h.mock.RequestsFor("key-egress"), 2, "with the credential's key injected")
}

func TestServeFailsOverFromAProxiedCredentialToADirectOne(t *testing.T) {
	proxy := newForwardProxy(t)
	egress := claude("egress")
	egress.ProxyURL = proxy.url
	egress.Priority = 1
	h := newHarness(t, nil, egress, claude("direct"))
	h.mock.SetFault("key-egress", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "30"})

	out := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.NoError(t, out.err)
	require.Equal(t, http.StatusOK, out.Code, out.Body.String())
	assert.Len(t, proxy.seen(), 1, "only the proxied credential's attempt goes through the proxy")
	assert.Len(t, h.mock.RequestsFor("key-direct"), 1)
	assert.Equal(t, "direct", h.rec.last(t).Credential)
}

func TestServeFailsOverACredentialWhoseProxyIsDown(t *testing.T) {
	dead, err := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", testutil.Port(t)))
	require.NoError(t, err)
	egress := claude("egress")
	egress.ProxyURL = dead
	egress.Priority = 1
	h := newHarness(t, nil, egress, claude("direct"))

	out := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), messages)
	require.NoError(t, out.err)
	require.Equal(t, http.StatusOK, out.Code, out.Body.String())
	assert.Empty(t, h.mock.RequestsFor("key-egress"), "nothing reached the upstream without the proxy")
	assert.Len(t, h.mock.RequestsFor("key-direct"), 1)
	ok, _ := h.pool.Available(egress, "claude-sonnet-4-5")
	assert.False(t, ok, "the unreachable credential cools down")
}

// A stream through the credential's proxy reaches the client event by
// event, with its usage counted.
func TestServeStreamsThroughACredentialsProxy(t *testing.T) {
	proxy := newForwardProxy(t)
	egress := claude("egress")
	egress.ProxyURL = proxy.url
	h := newHarness(t, nil, egress)
	h.mock.SetReply("*", "streamed via the proxy")

	body := `{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hello"}]}`
	out := h.serve(http.MethodPost, "/v1/messages", anthropicHeader(), body)
	require.NoError(t, out.err)
	require.Equal(t, http.StatusOK, out.Code, out.Body.String())
	assert.Contains(t, out.Header().Get("Content-Type"), "text/event-stream")
	assert.Contains(t, out.Body.String(), "event: message_stop")
	assert.Len(t, proxy.seen(), 1)
	assert.Positive(t, h.rec.last(t).Tokens.Output, "usage read from the proxied stream")
}
