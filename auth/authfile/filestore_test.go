package authfile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth/authfile"
)

// The parseable files of the fixture directory, in name order.
var fixtureAuthFileNames = []string{
	"claude-alice@example.com.json",
	"codex-bob@example.com-plus.json",
	"codex-frank@example.com-team.json",
	"gemini-apikey-team.json",
	"gemini-carol@example.com-all.json",
	"gemini-cli-dave@example.com.json",
	"legacy-erin@example.com.json",
}

const brokenFixture = "broken-claude-zoe@example.com.json"

// copyAuthDirFixture copies the fixture directory's top-level files into a
// new temporary directory and returns its path.
func copyAuthDirFixture(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "auths")
	require.NoError(t, os.Mkdir(dir, 0o700))
	entries, err := os.ReadDir(authDirFixture)
	require.NoError(t, err)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(authDirFixture, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600))
	}
	return dir
}

func newTestFileStore(t *testing.T, dir string) *authfile.FileStore {
	t.Helper()
	s, err := authfile.NewFileStore(dir)
	require.NoError(t, err)
	return s
}

func authFileNames(files []*authfile.AuthFile) []string {
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	return names
}

func findAuthFile(t *testing.T, files []*authfile.AuthFile, name string) *authfile.AuthFile {
	t.Helper()
	for _, f := range files {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no file %q in %v", name, authFileNames(files))
	return nil
}

func listOne(t *testing.T, s *authfile.FileStore, name string) *authfile.AuthFile {
	t.Helper()
	files, _, err := s.List(context.Background())
	require.NoError(t, err)
	return findAuthFile(t, files, name)
}

func readJSONFile(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return decodeJSONMap(t, data)
}

// tempFilesIn lists the dotfiles of dir (where Save's temp files would be).
func tempFilesIn(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), ".tmp-") {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestFileStoreListFixtureDir(t *testing.T) {
	s := newTestFileStore(t, authDirFixture)
	files, errs, err := s.List(context.Background())
	require.NoError(t, err)
	// Dotfiles, subdirectories and non-JSON files are not credential files.
	assert.Equal(t, fixtureAuthFileNames, authFileNames(files))
	// The malformed file is reported by name, without its secrets; every
	// other file still loads.
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), `"`+brokenFixture+`"`)
	assert.NotContains(t, errs[0].Error(), "sk-ant")
	assert.NotContains(t, errs[0].Error(), "SECRET")

	bob := findAuthFile(t, files, "codex-bob@example.com-plus.json")
	assert.Equal(t, bobAccountID, bob.AccountID)
	frank := findAuthFile(t, files, "codex-frank@example.com-team.json")
	assert.True(t, frank.Disabled)
	carol := findAuthFile(t, files, "gemini-carol@example.com-all.json")
	assert.Equal(t, []string{"proj-alpha", "proj-beta", "proj-gamma"}, carol.ProjectIDs)
}

func TestFileStoreListErrors(t *testing.T) {
	dir := t.TempDir()
	s := newTestFileStore(t, dir)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "empty.json"), nil, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.json"), bytes.Repeat([]byte(" "), 2<<20), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ok.JSON"), []byte(`{"type":"claude","api_key":"k"}`), 0o600))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "dir.json"), 0o700))
	files, errs, err := s.List(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"ok.JSON"}, authFileNames(files))
	require.Len(t, errs, 2)
	assert.Contains(t, errs[0].Error(), `"big.json": larger than`)
	assert.Contains(t, errs[1].Error(), `"empty.json": empty`)

	require.NoError(t, os.RemoveAll(dir))
	_, _, err = s.List(context.Background())
	assert.Error(t, err)
}

func TestNewFileStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "auths")
	s, err := authfile.NewFileStore(dir)
	require.NoError(t, err)
	assert.Equal(t, dir, s.Dir())
	info, err := os.Stat(dir)
	require.NoError(t, err)
	assert.True(t, info.IsDir())
	if runtime.GOOS != "windows" {
		assert.Equal(t, fs.FileMode(0o700), info.Mode().Perm())
	}

	file := filepath.Join(t.TempDir(), "plain.json")
	require.NoError(t, os.WriteFile(file, []byte("{}"), 0o600))
	_, err = authfile.NewFileStore(file)
	assert.ErrorContains(t, err, "not a directory")
	_, err = authfile.NewFileStore("  ")
	assert.Error(t, err)
}

func TestFileStoreRemovesStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".claude-a.json.tmp-123")
	fresh := filepath.Join(dir, ".claude-a.json.tmp-456")
	other := filepath.Join(dir, ".keep-me")
	for _, p := range []string{stale, fresh, other} {
		require.NoError(t, os.WriteFile(p, []byte("{"), 0o600))
	}
	old := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(stale, old, old))
	require.NoError(t, os.Chtimes(other, old, old))
	newTestFileStore(t, dir)
	assert.NoFileExists(t, stale)
	assert.FileExists(t, fresh)
	assert.FileExists(t, other)
}

func TestFileStoreSaveNewFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "auths")
	s := newTestFileStore(t, dir)
	f := &authfile.AuthFile{
		Name:         "claude-new@example.com.json",
		Type:         authfile.FileTypeClaude,
		Email:        "new@example.com",
		AccessToken:  "sk-ant-oat01-FAKE-new",
		RefreshToken: "sk-ant-ort01-FAKE-new",
		Expired:      time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
	}
	changed, err := s.Save(context.Background(), f)
	require.NoError(t, err)
	assert.True(t, changed)

	path := filepath.Join(dir, f.Name)
	info, err := os.Stat(path)
	require.NoError(t, err)
	if runtime.GOOS != "windows" {
		assert.Equal(t, fs.FileMode(0o600), info.Mode().Perm())
		dinfo, err := os.Stat(dir)
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o700), dinfo.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "{\n  \"type\": \"claude\",\n  \"email\": \"new@example.com\",\n  \"access_token\": \"sk-ant-oat01-FAKE-new\",\n  \"refresh_token\": \"sk-ant-ort01-FAKE-new\",\n  \"expired\": \"2025-06-01T12:00:00Z\"\n}\n", string(data))
	assert.Empty(t, tempFilesIn(t, dir))

	got := listOne(t, s, f.Name)
	assert.Equal(t, f.AccessToken, got.AccessToken)

	// Saving the same file again changes nothing.
	changed, err = s.Save(context.Background(), f)
	require.NoError(t, err)
	assert.False(t, changed)
}

func TestFileStoreSaveSkipsUnchanged(t *testing.T) {
	dir := copyAuthDirFixture(t)
	s := newTestFileStore(t, dir)
	for _, name := range fixtureAuthFileNames {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			old := time.Now().Add(-time.Hour).Truncate(time.Second)
			require.NoError(t, os.Chtimes(path, old, old))
			before, err := os.Stat(path)
			require.NoError(t, err)

			f := listOne(t, s, name)
			changed, err := s.Save(context.Background(), f)
			require.NoError(t, err)
			assert.False(t, changed)

			// Semantically equal JSON (same values, other key order and
			// spacing, legacy keys renamed) is not rewritten either.
			g, err := authfile.ParseAuthFile(name, readAuthFixture(t, name))
			require.NoError(t, err)
			changed, err = s.Save(context.Background(), g)
			require.NoError(t, err)
			if name == "legacy-erin@example.com.json" {
				assert.True(t, changed, "legacy keys are rewritten in their canonical form")
				return
			}
			assert.False(t, changed)

			after, err := os.Stat(path)
			require.NoError(t, err)
			assert.True(t, before.ModTime().Equal(after.ModTime()), "mtime changed")
			assert.True(t, os.SameFile(before, after), "file replaced")
		})
	}
}

func TestFileStoreSaveRefreshWritesBack(t *testing.T) {
	dir := copyAuthDirFixture(t)
	s := newTestFileStore(t, dir)
	const name = "claude-alice@example.com.json"
	f := listOne(t, s, name)
	keysBefore := jsonKeys(t, readAuthFixture(t, name))

	f.AccessToken = "sk-ant-oat01-FAKE-alice-refreshed"
	f.RefreshToken = "sk-ant-ort01-FAKE-alice-refreshed"
	f.Expired = time.Date(2025, 6, 2, 18, 0, 0, 0, time.UTC)
	f.LastRefresh = time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	changed, err := s.Save(context.Background(), f)
	require.NoError(t, err)
	assert.True(t, changed)

	data, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	assert.Equal(t, 1, bytes.Count(data, []byte("\n")), "a one-line file stays on one line")
	assert.Equal(t, keysBefore, jsonKeys(t, data))
	m := decodeJSONMap(t, data)
	assert.Equal(t, "sk-ant-oat01-FAKE-alice-refreshed", m["access_token"])
	assert.Equal(t, "2025-06-02T18:00:00Z", m["expired"])
	assert.Equal(t, "team lead's Max plan", m["custom_note"])
	assert.Equal(t, "max", m["usage"].(map[string]any)["plan"])
	assert.Empty(t, tempFilesIn(t, dir))

	// A second refresh of the same file writes only what changed again.
	f.AccessToken = "sk-ant-oat01-FAKE-alice-refreshed-2"
	changed, err = s.Save(context.Background(), f)
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, "sk-ant-oat01-FAKE-alice-refreshed-2", readJSONFile(t, filepath.Join(dir, name))["access_token"])
}

func TestFileStoreSaveNestedGeminiLayout(t *testing.T) {
	dir := copyAuthDirFixture(t)
	s := newTestFileStore(t, dir)
	const name = "gemini-carol@example.com-all.json"
	f := listOne(t, s, name)
	f.AccessToken = "ya29.FAKE-carol-refreshed"
	f.Expired = time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)
	changed, err := s.Save(context.Background(), f)
	require.NoError(t, err)
	assert.True(t, changed)

	data, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(data, []byte("{\n  \"token\": {\n    \"access_token\": ")), "an indented file stays indented:\n%s", data)
	m := decodeJSONMap(t, data)
	assert.Equal(t, "gemini", m["type"])
	tok := m["token"].(map[string]any)
	assert.Equal(t, "ya29.FAKE-carol-refreshed", tok["access_token"])
	assert.Equal(t, "2025-06-02T12:00:00Z", tok["expiry"])
	assert.Equal(t, "000000000000-fakeclientid.apps.googleusercontent.com", tok["client_id"])
	assert.Equal(t, true, m["checked"])
}

func TestFileStoreSaveMergesOperatorEdits(t *testing.T) {
	dir := copyAuthDirFixture(t)
	s := newTestFileStore(t, dir)
	const name = "codex-bob@example.com-plus.json"
	path := filepath.Join(dir, name)
	f := listOne(t, s, name)

	// The operator edits the file after the gateway read it ...
	m := readJSONFile(t, path)
	m["priority"] = 20
	m["disabled"] = true
	m["note"] = "moved to tier 20"
	delete(m, "websockets")
	edited, err := json.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, edited, 0o600))

	// ... and then the gateway writes back a refreshed token.
	f.AccessToken = "FAKE-bob-refreshed"
	f.Expired = time.Date(2025, 6, 20, 0, 0, 0, 0, time.UTC)
	changed, err := s.Save(context.Background(), f)
	require.NoError(t, err)
	assert.True(t, changed)

	got := readJSONFile(t, path)
	assert.Equal(t, "FAKE-bob-refreshed", got["access_token"])
	assert.Equal(t, "2025-06-20T00:00:00Z", got["expired"])
	assert.Equal(t, float64(20), got["priority"], "the operator's edit survives")
	assert.Equal(t, true, got["disabled"])
	assert.Equal(t, "moved to tier 20", got["note"])
	assert.NotContains(t, got, "websockets")
	assert.Equal(t, bobIDToken, got["id_token"])
}

func TestFileStoreSaveRefusesToClobber(t *testing.T) {
	const name = "claude-alice@example.com.json"

	t.Run("replaced by another account", func(t *testing.T) {
		dir := copyAuthDirFixture(t)
		s := newTestFileStore(t, dir)
		path := filepath.Join(dir, name)
		f := listOne(t, s, name)
		replacement := []byte(`{"type":"claude","email":"alice@example.com","access_token":"sk-ant-oat01-FAKE-other-account","refresh_token":"sk-ant-ort01-FAKE-other-account"}`)
		require.NoError(t, os.WriteFile(path, replacement, 0o600))

		f.AccessToken = "sk-ant-oat01-FAKE-refreshed-old-account"
		changed, err := s.Save(context.Background(), f)
		require.ErrorIs(t, err, authfile.ErrAuthFileConflict)
		assert.False(t, changed)
		assert.Contains(t, err.Error(), name)
		assert.Contains(t, err.Error(), "access_token")
		assert.NotContains(t, err.Error(), "sk-ant")
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, replacement, data)
	})

	t.Run("removed", func(t *testing.T) {
		dir := copyAuthDirFixture(t)
		s := newTestFileStore(t, dir)
		f := listOne(t, s, name)
		require.NoError(t, os.Remove(filepath.Join(dir, name)))
		f.AccessToken = "sk-ant-oat01-FAKE-refreshed"
		changed, err := s.Save(context.Background(), f)
		require.ErrorIs(t, err, fs.ErrNotExist)
		assert.False(t, changed)
		assert.NoFileExists(t, filepath.Join(dir, name))
	})

	t.Run("malformed on disk", func(t *testing.T) {
		dir := copyAuthDirFixture(t)
		s := newTestFileStore(t, dir)
		f := listOne(t, s, name)
		half := []byte(`{"type":"claude","access_token":"sk-ant-oat01-FAKE-half-writ`)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), half, 0o600))
		f.AccessToken = "sk-ant-oat01-FAKE-refreshed"
		_, err := s.Save(context.Background(), f)
		require.Error(t, err)
		assert.Contains(t, err.Error(), name)
		assert.NotContains(t, err.Error(), "sk-ant")
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, half, data)
	})

	t.Run("a file parsed elsewhere overwrites", func(t *testing.T) {
		dir := copyAuthDirFixture(t)
		s := newTestFileStore(t, dir)
		f, err := authfile.ParseAuthFile(name, []byte(`{"type":"claude","access_token":"sk-ant-oat01-FAKE-imported","custom":1}`))
		require.NoError(t, err)
		changed, err := s.Save(context.Background(), f)
		require.NoError(t, err)
		assert.True(t, changed)
		got := readJSONFile(t, filepath.Join(dir, name))
		assert.Equal(t, map[string]any{"type": "claude", "access_token": "sk-ant-oat01-FAKE-imported", "custom": float64(1)}, got)
	})
}

func TestFileStoreRejectsNamesOutsideTheDir(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "auths")
	s := newTestFileStore(t, dir)
	for _, name := range []string{
		"", "../escape.json", "..", "a/b.json", `a\b.json`, "/etc/x.json", ".hidden.json",
		"notes.txt", ".json", "x..json", "nul\x00.json", strings.Repeat("n", 235) + ".json",
	} {
		_, err := s.Save(context.Background(), &authfile.AuthFile{Name: name, Type: "claude", AccessToken: "sk-ant-oat01-FAKE"})
		assert.ErrorContains(t, err, "invalid file name", "save %q", name)
		assert.ErrorContains(t, s.Delete(context.Background(), name), "invalid file name", "delete %q", name)
	}
	assert.NoFileExists(t, filepath.Join(parent, "escape.json"))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestFileStoreDelete(t *testing.T) {
	dir := copyAuthDirFixture(t)
	s := newTestFileStore(t, dir)
	const name = "gemini-apikey-team.json"
	require.NoError(t, s.Delete(context.Background(), name))
	assert.NoFileExists(t, filepath.Join(dir, name))
	require.NoError(t, s.Delete(context.Background(), name), "deleting a missing file is not an error")
	files, _, err := s.List(context.Background())
	require.NoError(t, err)
	assert.NotContains(t, authFileNames(files), name)
}

func TestFileStoreSymlinkStaysALink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	dir := t.TempDir()
	elsewhere := filepath.Join(t.TempDir(), "real.json")
	require.NoError(t, os.WriteFile(elsewhere, []byte(`{"type":"claude","access_token":"a"}`), 0o600))
	link := filepath.Join(dir, "claude-link.json")
	require.NoError(t, os.Symlink(elsewhere, link))
	s := newTestFileStore(t, dir)
	f := listOne(t, s, "claude-link.json")
	f.AccessToken = "b"
	changed, err := s.Save(context.Background(), f)
	require.NoError(t, err)
	assert.True(t, changed)
	info, err := os.Lstat(link)
	require.NoError(t, err)
	assert.NotZero(t, info.Mode()&fs.ModeSymlink, "the link was replaced")
	assert.Equal(t, "b", readJSONFile(t, elsewhere)["access_token"])
	assert.Empty(t, tempFilesIn(t, dir))
}

func TestFileStoreLongestName(t *testing.T) {
	dir := t.TempDir()
	s := newTestFileStore(t, dir)
	name := strings.Repeat("n", 234) + ".json" // its temp file is 255 bytes
	changed, err := s.Save(context.Background(), &authfile.AuthFile{Name: name, Type: "claude", AccessToken: "sk-ant-oat01-FAKE"})
	require.NoError(t, err)
	assert.True(t, changed)
	assert.FileExists(t, filepath.Join(dir, name))
}

func TestFileStoreRefusesADanglingLink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "private-layout", "gone.json")
	require.NoError(t, os.Symlink(target, filepath.Join(dir, "claude-link.json")))
	s := newTestFileStore(t, dir)
	_, err := s.Save(context.Background(), &authfile.AuthFile{Name: "claude-link.json", Type: "claude", AccessToken: "sk-ant-oat01-FAKE"})
	require.ErrorIs(t, err, authfile.ErrUnresolvedLink)
	assert.NotContains(t, err.Error(), "private-layout", "the error names the link's target")
	assert.NoFileExists(t, target)
	assert.Empty(t, tempFilesIn(t, dir))
}

// TestFileStoreSaveIsAtomic rewrites one file with contents of very
// different sizes while readers read it: a reader must always see one
// complete version.
func TestFileStoreSaveIsAtomic(t *testing.T) {
	dir := t.TempDir()
	s := newTestFileStore(t, dir)
	const name = "claude-atomic@example.com.json"
	version := func(i int) *authfile.AuthFile {
		pad := strings.Repeat("x", (i%5)*8000)
		f, err := authfile.ParseAuthFile(name, fmt.Appendf(nil, `{"type":"claude","access_token":"tok-%d","pad":%q}`, i, pad))
		require.NoError(t, err)
		return f
	}
	_, err := s.Save(context.Background(), version(0))
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var torn []string
	var mu sync.Mutex
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				data, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil || !json.Valid(data) {
					mu.Lock()
					torn = append(torn, fmt.Sprintf("err=%v len=%d", err, len(data)))
					mu.Unlock()
				}
			}
		}()
	}
	for i := 1; i <= 100; i++ {
		_, err := s.Save(context.Background(), version(i))
		require.NoError(t, err)
	}
	cancel()
	wg.Wait()
	assert.Empty(t, torn, "a reader saw a partial or missing file")
	assert.Empty(t, tempFilesIn(t, dir))
	assert.Equal(t, "tok-100", listOne(t, s, name).AccessToken)
}

// TestFileStoreConcurrentSaves runs many writers and readers at once (meant
// for -race): each writer refreshes its own file through the same
// *AuthFile, others overwrite one shared file, and lists run meanwhile.
func TestFileStoreConcurrentSaves(t *testing.T) {
	dir := t.TempDir()
	s := newTestFileStore(t, dir)
	const writers, rounds = 8, 25
	ctx := context.Background()
	for w := range writers {
		_, err := s.Save(ctx, &authfile.AuthFile{Name: fmt.Sprintf("claude-w%d.json", w), Type: "claude", AccessToken: "tok-0"})
		require.NoError(t, err)
	}
	files, _, err := s.List(ctx)
	require.NoError(t, err)
	require.Len(t, files, writers)

	var wg sync.WaitGroup
	errc := make(chan error, 4*writers*rounds)
	for _, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 1; r <= rounds; r++ {
				f.AccessToken = fmt.Sprintf("tok-%d", r)
				f.LastRefresh = time.Unix(int64(1748779200+r), 0)
				if changed, err := s.Save(ctx, f); err != nil || !changed {
					errc <- fmt.Errorf("%s round %d: changed=%v err=%v", f.Name, r, changed, err)
				}
			}
		}()
	}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				f, err := authfile.ParseAuthFile("codex-shared.json", fmt.Appendf(nil, `{"type":"codex","access_token":"w%d-r%d"}`, w, r))
				if err == nil {
					_, err = s.Save(ctx, f)
				}
				if err != nil {
					errc <- err
				}
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if _, errs, err := s.List(ctx); err != nil || len(errs) > 0 {
					errc <- fmt.Errorf("list: %v %v", err, errs)
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}

	files, errs, err := s.List(ctx)
	require.NoError(t, err)
	assert.Empty(t, errs)
	require.Len(t, files, writers+1)
	for _, f := range files {
		if f.Name == "codex-shared.json" {
			assert.True(t, strings.HasPrefix(f.AccessToken, "w"))
			continue
		}
		assert.Equal(t, fmt.Sprintf("tok-%d", rounds), f.AccessToken, f.Name)
	}
	assert.Empty(t, tempFilesIn(t, dir))
}

// watchRecorder collects what Watch reports.
type watchRecorder struct {
	ch chan watchReport
}

type watchReport struct {
	files []*authfile.AuthFile
	errs  []error
	at    time.Time
}

func startWatch(t *testing.T, s *authfile.FileStore) *watchRecorder {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rec := &watchRecorder{ch: make(chan watchReport, 64)}
	done := make(chan error, 1)
	go func() {
		done <- s.Watch(ctx, func(files []*authfile.AuthFile, errs []error) {
			rec.ch <- watchReport{files: files, errs: errs, at: time.Now()}
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(5 * time.Second):
			t.Error("Watch did not return after its context ended")
		}
	})
	return rec
}

// await returns the first report, within 2 s of now, for which ok holds.
func (r *watchRecorder) await(t *testing.T, what string, ok func(watchReport) bool) watchReport {
	t.Helper()
	start := time.Now()
	deadline := time.After(2 * time.Second)
	for {
		select {
		case rep := <-r.ch:
			if ok(rep) {
				t.Logf("%s noticed after %v", what, rep.at.Sub(start).Round(time.Millisecond))
				return rep
			}
		case <-deadline:
			t.Fatalf("%s not noticed within 2s", what)
		}
	}
}

func tokenOf(rep watchReport, name string) (string, bool) {
	for _, f := range rep.files {
		if f.Name == name {
			return f.AccessToken, true
		}
	}
	return "", false
}

// TestFileStoreWatch proves, with the default poll interval, that additions,
// edits, renames over a file and removals reach the watcher within 2 s.
func TestFileStoreWatch(t *testing.T) {
	dir := copyAuthDirFixture(t)
	s := newTestFileStore(t, dir)
	rec := startWatch(t, s)

	first := rec.await(t, "initial list", func(watchReport) bool { return true })
	assert.Equal(t, fixtureAuthFileNames, authFileNames(first.files))
	require.Len(t, first.errs, 1)
	assert.Contains(t, first.errs[0].Error(), brokenFixture)
	alice := findAuthFile(t, first.files, "claude-alice@example.com.json")

	write := func(name, token string) {
		t.Helper()
		data := fmt.Appendf(nil, `{"type":"claude","access_token":%q}`, token)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
	const name = "claude-watch@example.com.json"

	write(name, "tok-added")
	rep := rec.await(t, "addition", func(r watchReport) bool { tok, _ := tokenOf(r, name); return tok == "tok-added" })
	assert.Same(t, alice, findAuthFile(t, rep.files, alice.Name), "an unchanged file keeps its pointer")

	// An in-place edit that keeps the size, right after the last write.
	write(name, "tok-edit1")
	rec.await(t, "edit", func(r watchReport) bool { tok, _ := tokenOf(r, name); return tok == "tok-edit1" })

	// A rename over the file that keeps size and mtime: only the inode
	// tells the new file from the old.
	path := filepath.Join(dir, name)
	before, err := os.Stat(path)
	require.NoError(t, err)
	staging := filepath.Join(dir, ".staging")
	require.NoError(t, os.WriteFile(staging, []byte(`{"type":"claude","access_token":"tok-renam"}`), 0o600))
	require.NoError(t, os.Chtimes(staging, before.ModTime(), before.ModTime()))
	require.NoError(t, os.Rename(staging, path))
	rec.await(t, "rename over", func(r watchReport) bool { tok, _ := tokenOf(r, name); return tok == "tok-renam" })

	// A file renamed from an ignored name into the set.
	require.NoError(t, os.WriteFile(staging, []byte(`{"type":"gemini","api_key":"k"}`), 0o600))
	require.NoError(t, os.Rename(staging, filepath.Join(dir, "gemini-renamed.json")))
	rec.await(t, "rename in", func(r watchReport) bool { _, ok := tokenOf(r, "gemini-renamed.json"); return ok })

	// The malformed file is fixed; then another breaks.
	write(brokenFixture, "tok-fixed")
	rep = rec.await(t, "fix", func(r watchReport) bool { return len(r.errs) == 0 })
	_, ok := tokenOf(rep, brokenFixture)
	assert.True(t, ok)
	require.NoError(t, os.WriteFile(path, []byte(`{"type":"claude","access_token":"sk-ant-oat01-SECRET`), 0o600))
	rep = rec.await(t, "breakage", func(r watchReport) bool { return len(r.errs) == 1 })
	assert.Contains(t, rep.errs[0].Error(), name)
	assert.NotContains(t, rep.errs[0].Error(), "SECRET")
	assert.Len(t, rep.files, len(fixtureAuthFileNames)+2, "every other file keeps serving")

	require.NoError(t, os.Remove(path))
	rec.await(t, "removal", func(r watchReport) bool {
		_, ok := tokenOf(r, name)
		return !ok && len(r.errs) == 0
	})

	// A Save through the store is seen like any other write.
	alice.AccessToken = "sk-ant-oat01-FAKE-alice-saved"
	_, err = s.Save(context.Background(), alice)
	require.NoError(t, err)
	rec.await(t, "save", func(r watchReport) bool {
		tok, _ := tokenOf(r, alice.Name)
		return tok == "sk-ant-oat01-FAKE-alice-saved"
	})
}

func TestFileStoreWatchQuietWhenNothingChanges(t *testing.T) {
	dir := copyAuthDirFixture(t)
	s := newTestFileStore(t, dir)
	s.PollInterval = 10 * time.Millisecond
	rec := startWatch(t, s)
	rec.await(t, "initial list", func(watchReport) bool { return true })
	// Touching a file (same content) and adding ignored files is not a
	// change.
	now := time.Now()
	require.NoError(t, os.Chtimes(filepath.Join(dir, "gemini-apikey-team.json"), now, now))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".ignored.json"), []byte(`{}`), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte(`x`), 0o600))
	select {
	case rep := <-rec.ch:
		t.Fatalf("unexpected report: %v %v", authFileNames(rep.files), rep.errs)
	case <-time.After(500 * time.Millisecond):
	}
}

func TestFileStoreWatchDirectoryErrors(t *testing.T) {
	dir := copyAuthDirFixture(t)
	s := newTestFileStore(t, dir)
	s.PollInterval = 10 * time.Millisecond
	rec := startWatch(t, s)
	rec.await(t, "initial list", func(watchReport) bool { return true })

	moved := dir + "-moved"
	require.NoError(t, os.Rename(dir, moved))
	rep := rec.await(t, "directory gone", func(r watchReport) bool { return len(r.errs) == 2 })
	assert.Contains(t, rep.errs[0].Error(), "auth dir")
	assert.Equal(t, fixtureAuthFileNames, authFileNames(rep.files), "the last known files stay")

	require.NoError(t, os.Rename(moved, dir))
	rep = rec.await(t, "directory back", func(r watchReport) bool { return len(r.errs) == 1 })
	assert.Equal(t, fixtureAuthFileNames, authFileNames(rep.files))
}

func TestFileStoreWatchStopsWithContext(t *testing.T) {
	s := newTestFileStore(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	done := make(chan error, 1)
	go func() { done <- s.Watch(ctx, func([]*authfile.AuthFile, []error) { calls++ }) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(2 * time.Second):
		t.Fatal("Watch did not return")
	}
	assert.Equal(t, 1, calls)

	require.NoError(t, os.Remove(s.Dir()))
	err := s.Watch(context.Background(), func([]*authfile.AuthFile, []error) {})
	assert.Error(t, err, "a directory that cannot be read at the start is an error")
	assert.False(t, errors.Is(err, context.Canceled))
}

// TestFileStoreWatchRenameOverKeepingSizeAndMtime replaces a long-quiet file
// by a rename that keeps its size and mtime: only the file's identity
// (inode) differs.
func TestFileStoreWatchRenameOverKeepingSizeAndMtime(t *testing.T) {
	dir := t.TempDir()
	s := newTestFileStore(t, dir)
	s.PollInterval = 20 * time.Millisecond
	const name = "claude-quiet@example.com.json"
	path := filepath.Join(dir, name)
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	require.NoError(t, os.WriteFile(path, []byte(`{"type":"claude","access_token":"tok-one"}`), 0o600))
	require.NoError(t, os.Chtimes(path, old, old))

	rec := startWatch(t, s)
	rep := rec.await(t, "initial list", func(watchReport) bool { return true })
	tok, _ := tokenOf(rep, name)
	require.Equal(t, "tok-one", tok)
	time.Sleep(5 * s.PollInterval) // let the watcher settle on the quiet file

	staging := filepath.Join(dir, ".staging")
	require.NoError(t, os.WriteFile(staging, []byte(`{"type":"claude","access_token":"tok-two"}`), 0o600))
	require.NoError(t, os.Chtimes(staging, old, old))
	require.NoError(t, os.Rename(staging, path))
	rec.await(t, "rename over", func(r watchReport) bool { tok, _ := tokenOf(r, name); return tok == "tok-two" })
}

// TestFileStoreSaveFromStaleCopies saves refreshes the way a consumer that
// copies the listed file for each refresh does: the second copy was taken
// before the first was written. The store's own earlier write is not a
// conflict; someone else's is.
func TestFileStoreSaveFromStaleCopies(t *testing.T) {
	const name = "claude-alice@example.com.json"
	refresh := func(t *testing.T, s *authfile.FileStore, listed *authfile.AuthFile, token string) error {
		t.Helper()
		c := *listed
		c.AccessToken = "sk-ant-oat01-FAKE-" + token
		c.RefreshToken = "sk-ant-ort01-FAKE-" + token
		c.LastRefresh = time.Now().UTC().Truncate(time.Second)
		_, err := s.Save(context.Background(), &c)
		return err
	}

	t.Run("own write", func(t *testing.T) {
		dir := copyAuthDirFixture(t)
		s := newTestFileStore(t, dir)
		listed := listOne(t, s, name)
		require.NoError(t, refresh(t, s, listed, "one"))
		// An operator edit of another key in between is kept.
		path := filepath.Join(dir, name)
		m := readJSONFile(t, path)
		m["priority"] = 99
		data, err := json.Marshal(m)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, data, 0o600))

		require.NoError(t, refresh(t, s, listed, "two"))
		got := readJSONFile(t, path)
		assert.Equal(t, "sk-ant-oat01-FAKE-two", got["access_token"])
		assert.Equal(t, "sk-ant-ort01-FAKE-two", got["refresh_token"])
		assert.Equal(t, float64(99), got["priority"])
		assert.Equal(t, "team lead's Max plan", got["custom_note"])
	})

	t.Run("someone else's write", func(t *testing.T) {
		dir := copyAuthDirFixture(t)
		s := newTestFileStore(t, dir)
		listed := listOne(t, s, name)
		require.NoError(t, refresh(t, s, listed, "one"))
		// Another process (or a new login) writes new tokens.
		path := filepath.Join(dir, name)
		m := readJSONFile(t, path)
		m["access_token"] = "sk-ant-oat01-FAKE-other-process"
		m["refresh_token"] = "sk-ant-ort01-FAKE-other-process"
		data, err := json.Marshal(m)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, data, 0o600))

		err = refresh(t, s, listed, "two")
		require.ErrorIs(t, err, authfile.ErrAuthFileConflict)
		assert.Equal(t, "sk-ant-ort01-FAKE-other-process", readJSONFile(t, path)["refresh_token"])
	})
}

// A directory that goes away between a poll's listing and its reads of
// the files is a directory error, not the removal of the files it could
// not read: the pool keeps them (a move of the directory, its
// replacement by a deploy tool).
func TestFileStoreWatchDirectoryGoneMidScan(t *testing.T) {
	dir := copyAuthDirFixture(t)
	s := newTestFileStore(t, dir)
	s.PollInterval = 10 * time.Millisecond
	moved := dir + "-moved"
	var once sync.Once
	armed := make(chan struct{})
	restore := authfile.SetAfterList(func() {
		select {
		case <-armed:
			once.Do(func() { require.NoError(t, os.Rename(dir, moved)) })
		default:
		}
	})
	t.Cleanup(restore)
	rec := startWatch(t, s)
	rec.await(t, "initial list", func(watchReport) bool { return true })
	close(armed)
	rep := rec.await(t, "directory gone", func(r watchReport) bool { return len(r.errs) > 0 })
	assert.Contains(t, rep.errs[0].Error(), "auth dir")
	assert.Equal(t, fixtureAuthFileNames, authFileNames(rep.files), "files the poll could not read were dropped")
	require.NoError(t, os.Rename(moved, dir))
}
