package pool_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/caddy-cliproxy/cliproxy/auth/authfile"
	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
	"github.com/caddy-cliproxy/cliproxy/pool"
)

// An auth directory's watcher lives while a handler uses it: a reload that
// keeps auth_dir keeps it, one that drops it stops it.
func TestAuthDirWatcherFollowsItsUsers(t *testing.T) {
	st := pool.New(time.Hour)
	defer st.Destruct()
	dir := t.TempDir()
	refresher := &oauth.Refresher{}
	a1, key, err := st.OpenAuthDir(dir, refresher, zap.NewNop())
	require.NoError(t, err)
	a2, key2, err := st.OpenAuthDir(dir+"/.", refresher, zap.NewNop())
	require.NoError(t, err)
	assert.Same(t, a1, a2, "the same directory, spelled differently, must share one watcher")
	assert.Equal(t, key, key2)

	st.ReleaseAuthDir(key) // the old config's cleanup
	assert.False(t, closed(a1), "the watcher stopped while a handler still uses it")
	st.ReleaseAuthDir(key2) // the directory left the config
	assert.True(t, closed(a1), "the watcher outlived its last user")
}

func closed(a *authfile.Dir) bool {
	select {
	case <-a.Done():
		return true
	default:
		return false
	}
}
