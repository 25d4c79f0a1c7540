package cliproxy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// An unusable default directory turns the request log off with a warning;
// one the operator named is an error.
func TestRequestLogDirectoryThatCannotBeUsed(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	t.Setenv("XDG_DATA_HOME", blocker) // caddy.AppDataDir() is under it

	h := &Handler{logger: zap.NewNop()}
	l, err := h.openRequestLog(caddy.NewReplacer())
	require.NoError(t, err)
	assert.Nil(t, l)
	assert.Empty(t, h.requestLogDir)

	h = &Handler{logger: zap.NewNop(), RequestLogDir: filepath.Join(blocker, "logs")}
	_, err = h.openRequestLog(caddy.NewReplacer())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "opening request log directory")
}
