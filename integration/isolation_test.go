package integration

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"
)

// The in-process Caddy writes its config (and keeps its storage) in a
// folder of this test process, not in the user's: two suites on one
// machine, or a suite and the user's own Caddy, share none of it.
func TestCaddyWritesIntoTheSuitesOwnFolder(t *testing.T) {
	g := startGateway(t, gatewayOptions{Handler: poolConfig})
	raw, err := os.ReadFile(filepath.Join(caddyHome, "config", "autosave.json"))
	require.NoError(t, err, "the config was not autosaved into the suite's folder")
	assert.Equal(t, g.pool, gjson.GetBytes(raw, "apps.http.servers.*.routes.#.handle.#(handler==\"cliproxy\").pool|0").String(),
		"the autosaved config is this gateway's")
}
