package cliproxy

import (
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A reload provisions the new handler before cleaning up the old one: the
// state must be the same object for both, take the new TTL, keep the
// strategies, and be destroyed (its sweeper stopped) only when the last
// handler lets go.
func TestPoolStateLivesAcrossReloadAndStopsAfterLastUse(t *testing.T) {
	before := runtime.NumGoroutine()
	old, err := loadPoolState("unit-reload", time.Hour)
	require.NoError(t, err)
	old.Sessions.Set("cred-a", "session-1") // starts the sweeper
	rrOld, err := old.Selector("round-robin")
	require.NoError(t, err)

	// the new config
	cur, err := loadPoolState("unit-reload", 10*time.Minute)
	require.NoError(t, err)
	assert.Same(t, old, cur)
	assert.Equal(t, 10*time.Minute, cur.Sessions.TTL())
	rrNew, err := cur.Selector("round-robin")
	require.NoError(t, err)
	assert.True(t, rrOld.Current() == rrNew.Current(), "the same strategy must keep its cursors")
	ff, err := cur.Selector("fill-first")
	require.NoError(t, err)
	assert.False(t, rrOld.Current() == ff.Current())

	// the old handler's cleanup
	deleted, err := pools.Delete("unit-reload")
	require.NoError(t, err)
	assert.False(t, deleted)
	got, ok := cur.Sessions.Get("session-1")
	assert.True(t, ok)
	assert.Equal(t, "cred-a", got)

	deleted, err = pools.Delete("unit-reload")
	require.NoError(t, err)
	assert.True(t, deleted)
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "the binding sweeper outlived the pool")

	fresh, err := loadPoolState("unit-reload", time.Hour)
	require.NoError(t, err)
	assert.NotSame(t, old, fresh)
	_, _ = pools.Delete("unit-reload")
}

// OAuth token refresh leaves through the egress proxy the transport names.
func TestRefresherUsesTheEgressProxy(t *testing.T) {
	h := &Handler{Transport: []byte(`{"network_proxy":{"from":"url","url":"http://egress.internal:3128"}}`)}
	r, err := h.refresher()
	require.NoError(t, err)
	tr, ok := r.Client.Transport.(*http.Transport)
	require.True(t, ok)
	req, _ := http.NewRequest(http.MethodPost, "https://console.anthropic.com/v1/oauth/token", nil)
	proxy, err := tr.Proxy(req)
	require.NoError(t, err)
	require.NotNil(t, proxy)
	assert.Equal(t, "egress.internal:3128", proxy.Host)

	none, err := (&Handler{}).refresher()
	require.NoError(t, err)
	assert.Nil(t, (&Handler{}).egressProxy())
	assert.NotNil(t, none.Client)
}
