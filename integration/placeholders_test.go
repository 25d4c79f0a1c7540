package integration

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Secrets can stay out of the config: a client key from {env.*} and an
// upstream key from {file.*} are resolved when the config is provisioned,
// the request is served with the real values, and the config Caddy serves
// on its admin API still holds the placeholders, never the secrets.
func TestPlaceholdersResolveAtProvisionAndStayInTheConfig(t *testing.T) {
	const (
		envClientKey = "sk-client-from-env-7f3a9c"
		fileKey      = "sk-ant-upstream-from-file-51d0e2"
	)
	t.Setenv("CLIPROXY_TEST_CLIENT_KEY", envClientKey)
	keyFile := filepath.Join(t.TempDir(), "anthropic-api-key.txt") // not *.key: caddytest rewrites such paths
	// a secret file usually ends in a newline, which {file.*} drops
	require.NoError(t, os.WriteFile(keyFile, []byte(fileKey+"\n"), 0o600))

	g := startGateway(t, gatewayOptions{Handler: `
		client_key {env.CLIPROXY_TEST_CLIENT_KEY} alice
		credential from-file {
			provider claude
			api_key {file.` + keyFile + `}
			base_url MOCK
		}`})

	res, body := g.do(http.MethodPost, "/v1/messages",
		hdr("X-Api-Key", envClientKey, "Anthropic-Version", "2023-06-01", "Content-Type", "application/json"), claudeBody)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	reqs := g.mock.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, fileKey, reqs[0].Key, "the upstream did not get the key read from the file")
	assert.Equal(t, fileKey, reqs[0].Header.Get("X-Api-Key"))
	assert.NotContains(t, body, fileKey)

	// the placeholder itself is no key
	res, _ = g.do(http.MethodPost, "/v1/messages",
		hdr("X-Api-Key", "{env.CLIPROXY_TEST_CLIENT_KEY}", "Anthropic-Version", "2023-06-01", "Content-Type", "application/json"), claudeBody)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.Len(t, g.mock.Requests(), 1)

	cfgRes, err := http.Get(adminURL + "/config/")
	require.NoError(t, err)
	raw, err := io.ReadAll(cfgRes.Body)
	cfgRes.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, cfgRes.StatusCode, string(raw))
	cfg := string(raw)
	assert.Contains(t, cfg, `{env.CLIPROXY_TEST_CLIENT_KEY}`)
	assert.Contains(t, cfg, `{file.`+keyFile+`}`)
	assert.Empty(t, containsAny(raw, envClientKey, fileKey), "the admin API shows a resolved secret")
	// the access log records the client's request headers as Caddy always
	// does (README: filter them); nothing else may show a resolved secret
	for _, line := range strings.Split(g.logs(), "\n") {
		assert.NotContains(t, line, fileKey, "the upstream key reached the logs")
		if !strings.Contains(line, `"logger":"http.log.access`) {
			assert.NotContains(t, line, envClientKey, "the client key reached the logs")
		}
	}
}
