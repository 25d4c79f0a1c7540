package testutil

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuildCaddyUsesTheBinaryTheSuiteBuilt(t *testing.T) {
	built := filepath.Join(t.TempDir(), "caddy")
	require.NoError(t, os.WriteFile(built, []byte("#!/bin/sh\n"), 0o755))
	t.Setenv(CaddyEnv, built)

	dir := t.TempDir()
	bin, err := BuildCaddy(dir)
	require.NoError(t, err)
	assert.Equal(t, built, bin)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing was built")

	t.Setenv(CaddyEnv, filepath.Join(t.TempDir(), "missing"))
	_, err = BuildCaddy(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), CaddyEnv)
}
