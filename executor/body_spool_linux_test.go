//go:build linux

package executor

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// On Linux a spool file has no name: the spool directory lists nothing
// while a body is in it, so no other process can open it by name, and it
// goes with its descriptor, whatever ends the gateway.
func TestSpoolFileHasNoName(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("b"), 1<<20)
	b, err := readBody(nil, bodyRequest(big, "", false), bodyConfig{limit: 4 << 20, budget: NewBodyBudget(-1), dir: dir})
	require.NoError(t, err)
	defer b.release()
	require.True(t, b.raw.spooled())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "the spool file has a name")
	files := spoolFiles(t, dir)
	require.Len(t, files, 1)
	fi, err := os.Stat(files[0])
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	assert.Equal(t, big, b.inspect())
}

// Where the file system has no unnamed files, the spool file is a named
// 0600 file, removed with its body.
func TestNamedSpoolFileWhereUnnamedAreNotSupported(t *testing.T) {
	dir := t.TempDir()
	unnamedUnsupported.Store(dir, true)
	t.Cleanup(func() { unnamedUnsupported.Delete(dir) })
	big := bytes.Repeat([]byte("n"), 1<<20)
	b, err := readBody(nil, bodyRequest(big, "", true), bodyConfig{limit: 4 << 20, budget: NewBodyBudget(-1), dir: dir})
	require.NoError(t, err)
	named, err := filepath.Glob(filepath.Join(dir, spoolPattern))
	require.NoError(t, err)
	require.Len(t, named, 1)
	fi, err := os.Stat(named[0])
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	assert.Equal(t, int64(len(big)), fi.Size())
	assert.Equal(t, big, b.inspect())
	b.release()
	_, err = os.Stat(named[0])
	assert.ErrorIs(t, err, os.ErrNotExist, "the named spool file outlived its body")
}
