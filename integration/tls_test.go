package integration

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// Real providers are HTTPS upstreams: an https base_url goes through the
// TLS proxy with the upstream's own Host, next to a plain-HTTP credential,
// and transport options reach the connection (here: trusting the test
// server's self-signed certificate).
func TestHTTPSUpstreamWithTransportOptions(t *testing.T) {
	tlsMock := mockupstream.New()
	srv := httptest.NewTLSServer(tlsMock)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)

	g := startGateway(t, gatewayOptions{Handler: `
		client_key ` + clientKey + `
		max_attempts 1
		strategy fill-first
		credential a-tls {
			provider claude
			api_key ` + claudeKeyA + `
			base_url ` + srv.URL + `
		}
		credential b-plain {
			provider claude
			api_key ` + claudeKeyB + `
			base_url MOCK
			priority -1
		}
		transport {
			tls_insecure_skip_verify
		}`})
	tlsMock.SetReply("*", "over tls")
	res, body := g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, "over tls", anthropicStreamText(t, body))
	reqs := tlsMock.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, claudeKeyA, reqs[0].Key)
	assert.Equal(t, u.Host, reqs[0].Host, "the upstream must see its own Host, not the gateway's")

	// when the TLS credential is out, the plain one in the lower tier serves
	tlsMock.SetFault("*", mockupstream.Fault{Status: http.StatusTooManyRequests, RetryAfter: "60"})
	res, _ = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	assert.Equal(t, http.StatusTooManyRequests, res.StatusCode, "max_attempts 1 returns the first failure")
	res, body = g.do(http.MethodPost, "/v1/messages", anthropicHeader(), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	plain := g.mock.Requests()
	require.Len(t, plain, 1)
	assert.Equal(t, claudeKeyB, plain[0].Key)
}
