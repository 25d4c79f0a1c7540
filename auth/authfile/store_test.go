package authfile_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/auth/authfile"
)

// memStore is a Store in memory: what a second store (a cluster's, a
// test's) looks like to the directory and to SaveLogin.
type memStore struct {
	mu    sync.Mutex
	files map[string]*authfile.AuthFile
}

func (m *memStore) List(context.Context) ([]*authfile.AuthFile, []error, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*authfile.AuthFile
	for _, f := range m.files {
		out = append(out, f)
	}
	return out, nil, nil
}

func (m *memStore) Save(_ context.Context, f *authfile.AuthFile) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[f.Name] = f
	return true, nil
}

func (m *memStore) Delete(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.files, name)
	return nil
}

func (m *memStore) Has(_ context.Context, name string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.files[name]
	return ok, nil
}

func (m *memStore) Watch(ctx context.Context, fn func([]*authfile.AuthFile, []error)) error {
	files, _, _ := m.List(ctx)
	fn(files, nil)
	<-ctx.Done()
	return nil
}

var _ authfile.Store = (*memStore)(nil)

// The directory and SaveLogin work over any Store, not only the file
// store.
func TestDirAndLoginOverAnotherStore(t *testing.T) {
	st := &memStore{files: map[string]*authfile.AuthFile{}}
	created, err := authfile.SaveLogin(context.Background(), st, &authfile.AuthFile{
		Name: "gem.json", Type: authfile.FileTypeGemini, APIKey: "AIza-secret",
	})
	require.NoError(t, err)
	assert.True(t, created)

	d, err := authfile.OpenStore(st, nil, auth.NewHealth(), zap.NewNop())
	require.NoError(t, err)
	defer d.Close()
	creds := d.Credentials()
	require.Len(t, creds, 1)
	assert.Equal(t, "gem", creds[0].Name)
	assert.Equal(t, auth.Gemini, creds[0].Provider)
	assert.Same(t, authfile.Store(st), d.Store())
}

// A file's prefix and request_retry reach its credential; a prefix that is
// no single segment makes the file serve nothing rather than something
// unexpected.
func TestDirCredentialPrefixAndRequestRetry(t *testing.T) {
	retry, tooMany := 2, 99
	st := &memStore{files: map[string]*authfile.AuthFile{
		"a.json": {Name: "a.json", Type: authfile.FileTypeGemini, APIKey: "AIza-a", Prefix: "/team-a/", RequestRetry: &retry},
		"b.json": {Name: "b.json", Type: authfile.FileTypeGemini, APIKey: "AIza-b", RequestRetry: &tooMany},
		"c.json": {Name: "c.json", Type: authfile.FileTypeGemini, APIKey: "AIza-c", Prefix: "team/a"},
	}}
	d, err := authfile.OpenStore(st, nil, auth.NewHealth(), zap.NewNop())
	require.NoError(t, err)
	defer d.Close()
	byName := map[string]*auth.Credential{}
	for _, c := range d.Credentials() {
		byName[c.Name] = c
	}
	require.Contains(t, byName, "a")
	assert.Equal(t, "team-a", byName["a"].Prefix)
	assert.Equal(t, 2, byName["a"].RequestRetry)
	require.Contains(t, byName, "b")
	assert.Equal(t, auth.MaxRequestRetry, byName["b"].RequestRetry, "request_retry is capped")
	assert.NotContains(t, byName, "c")
}
