package integration

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// forwardProxy is a plain HTTP forward proxy on loopback that notes the
// requests it carried.
type forwardProxy struct {
	mu   sync.Mutex
	seen []string // host + path of each request carried
	url  string
}

func startForwardProxy(t *testing.T) *forwardProxy {
	p := &forwardProxy{}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

func (p *forwardProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !r.URL.IsAbs() {
		http.Error(w, "not a proxy request", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.seen = append(p.seen, r.URL.Host+r.URL.Path)
	p.mu.Unlock()
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Header.Del("Proxy-Connection")
	res, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	_, _ = io.Copy(w, res.Body)
}

func (p *forwardProxy) carried() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// A credential with proxy_url reaches its upstream through that proxy; the
// others go direct.
func TestCredentialProxyURL(t *testing.T) {
	proxy := startForwardProxy(t)
	g := startGateway(t, gatewayOptions{Handler: `
		client_key ` + clientKey + ` alice
		strategy fill-first
		credential via-proxy {
			provider claude
			api_key key-via-proxy
			base_url MOCK
			proxy_url ` + proxy.url + `
			priority 1
		}
		credential direct {
			provider claude
			api_key key-direct
			base_url MOCK
		}`})
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.Len(t, g.mock.Requests(), 1)
	assert.Equal(t, "key-via-proxy", g.mock.Requests()[0].Key)
	require.Len(t, proxy.carried(), 1, "the request did not go through the credential's proxy")
	assert.Contains(t, proxy.carried()[0], "/v1/messages")

	g.reload(gatewayOptions{Handler: `
		client_key ` + clientKey + ` alice
		credential direct {
			provider claude
			api_key key-direct
			base_url MOCK
		}`})
	res, body = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Len(t, proxy.carried(), 1, "a credential without proxy_url went through a proxy")
}

// An auth file's proxy_url carries both the account's token refresh and its
// upstream requests.
func TestAuthFileProxyURL(t *testing.T) {
	proxy := startForwardProxy(t)
	o := startOAuthGateway(t, "")
	file := claudeOAuthFile("sk-ant-oat01-old", "sk-ant-ort01-proxied", time.Now().Add(-time.Minute), o.mockURL)
	file["proxy_url"] = proxy.url
	o.writeAuthFile(t, "claude-frank.json", file)
	waitFor(t, "the account is served", func() bool {
		res, _ := o.do(http.MethodPost, "/v1/messages", claudeCodeHeader(), claudeBody)
		return res.StatusCode == http.StatusOK
	})
	var refresh, upstream bool
	for _, s := range proxy.carried() {
		refresh = refresh || s[len(s)-len("/v1/oauth/token"):] == "/v1/oauth/token"
		upstream = upstream || s[len(s)-len("/v1/messages"):] == "/v1/messages"
	}
	assert.True(t, refresh, "the token refresh did not use the account's proxy: %v", proxy.carried())
	assert.True(t, upstream, "the upstream request did not use the account's proxy: %v", proxy.carried())
	for _, r := range o.mock.Requests() {
		assert.NotEqual(t, "sk-ant-oat01-old", r.Key, "the expired token went upstream")
	}
}
