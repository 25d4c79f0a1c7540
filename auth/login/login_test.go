package login

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExpandHome(t *testing.T) {
	home, err := os.UserHomeDir()
	require.NoError(t, err)
	got, err := ExpandHome("~/.cli-proxy-api")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(home, ".cli-proxy-api"), got)
	got, err = ExpandHome("~")
	require.NoError(t, err)
	assert.Equal(t, home, got)
	got, err = ExpandHome("/srv/auths")
	require.NoError(t, err)
	assert.Equal(t, "/srv/auths", got)
	got, err = ExpandHome("~other/x")
	require.NoError(t, err)
	assert.Equal(t, "~other/x", got, "another user's home is not expanded")
}
