package executor

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/internal/spooltest"
)

// spoolFiles lists the spool files in dir.
func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := spooltest.Files(dir)
	require.NoError(t, err)
	return files
}

// A body within the budget stays in memory and charges the budget until
// released; one that would cross it goes to a 0600 file in the spool
// directory, replays and inspects byte for byte, and leaves no file and
// no charge once released and its readers closed.
func TestBodyOverTheBudgetIsSpooled(t *testing.T) {
	dir := t.TempDir()
	budget := NewBodyBudget(256 << 10)
	cfg := bodyConfig{limit: 4 << 20, budget: budget, dir: dir}

	small := bytes.Repeat([]byte("s"), 100<<10)
	kept, err := readBody(nil, bodyRequest(small, "", false), cfg)
	require.NoError(t, err)
	assert.False(t, kept.raw.spooled())
	assert.GreaterOrEqual(t, budget.Held(), int64(len(small)))
	assert.Empty(t, spoolFiles(t, dir))

	for _, chunked := range []bool{false, true} {
		big := make([]byte, 1<<20)
		for i := range big {
			big[i] = byte(i * 7)
		}
		held := budget.Held()
		b, err := readBody(nil, bodyRequest(big, "", chunked), cfg)
		require.NoError(t, err)
		assert.True(t, b.raw.spooled(), "chunked %v: a body past the budget stayed in memory", chunked)
		assert.Equal(t, held, budget.Held(), "chunked %v: the spooled body still charges the budget", chunked)
		files := spoolFiles(t, dir)
		require.Len(t, files, 1)
		fi, err := os.Stat(files[0])
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
		assert.Equal(t, int64(len(big)), fi.Size())

		assert.Equal(t, big, b.inspect(), "inspection of the spooled body")
		assert.Equal(t, int64(len(big)), b.size())
		first := b.reader()
		for range 2 {
			rd := b.reader()
			got, err := io.ReadAll(rd)
			require.NoError(t, err)
			assert.Equal(t, big, got, "a replay from the spool file")
			require.NoError(t, rd.Close())
		}
		b.release()
		assert.Len(t, spoolFiles(t, dir), 1, "the file went while an attempt still reads it")
		got, err := io.ReadAll(first)
		require.NoError(t, err)
		assert.Equal(t, big, got)
		require.NoError(t, first.Close())
		assert.Empty(t, spoolFiles(t, dir), "the spool file outlived its body")
	}
	kept.release()
	assert.Zero(t, budget.Held())
}

// A decoded body is held within the budget too.
func TestDecodedBodyOverTheBudgetIsSpooled(t *testing.T) {
	dir := t.TempDir()
	budget := NewBodyBudget(64 << 10)
	data := bytes.Repeat([]byte(`{"text":"abc"}`), 40_000)
	b, err := readBody(nil, bodyRequest(gzipped(t, data), "gzip", false), bodyConfig{limit: 4 << 20, budget: budget, dir: dir})
	require.NoError(t, err)
	assert.True(t, b.decoded.spooled())
	assert.Equal(t, data, b.inspect())
	b.release()
	assert.Empty(t, spoolFiles(t, dir))
	assert.Zero(t, budget.Held())
}

// Requests at once never hold more than the budget in memory, whatever
// their number.
func TestBudgetBoundsBodiesHeldAtOnce(t *testing.T) {
	dir := t.TempDir()
	const limit = 1 << 20
	budget := NewBodyBudget(limit)
	data := bytes.Repeat([]byte("m"), 300<<10)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bodies []*body
	for range 16 {
		wg.Go(func() {
			b, err := readBody(nil, bodyRequest(data, "", true), bodyConfig{limit: 4 << 20, budget: budget, dir: dir})
			if !assert.NoError(t, err) {
				return
			}
			assert.LessOrEqual(t, budget.Held(), int64(limit))
			mu.Lock()
			bodies = append(bodies, b)
			mu.Unlock()
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, budget.Held(), int64(limit))
	spooled := 0
	for _, b := range bodies {
		if b.raw.spooled() {
			spooled++
		}
		assert.Equal(t, data, b.bytes())
		b.release()
	}
	assert.GreaterOrEqual(t, spooled, 16-limit/len(data))
	assert.Zero(t, budget.Held())
	assert.Empty(t, spoolFiles(t, dir))
}

// A client that breaks off mid-body leaves no spool file behind.
func TestBrokenBodyLeavesNoSpoolFile(t *testing.T) {
	dir := t.TempDir()
	r := bodyRequest(nil, "", false)
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(bytes.Repeat([]byte("x"), 200<<10)), iotestErr{}))
	r.ContentLength = 1 << 20
	_, err := readBody(nil, r, bodyConfig{limit: 4 << 20, budget: NewBodyBudget(1 << 10), dir: dir})
	require.Error(t, err)
	assert.Empty(t, spoolFiles(t, dir))
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// A spool directory that cannot be written refuses the body rather than
// holding it in memory past the budget.
func TestUnwritableSpoolDirRefusesTheBody(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	data := bytes.Repeat([]byte("x"), 100<<10)
	_, err := readBody(nil, bodyRequest(data, "", false), bodyConfig{limit: 4 << 20, budget: NewBodyBudget(1 << 10), dir: dir})
	require.ErrorContains(t, err, "spooling request body")
}

// BenchmarkSpooledBody reads a 1 MiB body arriving in 32 KiB pieces past
// the budget, into its spool file, and lets it go.
func BenchmarkSpooledBody(b *testing.B) {
	dir := b.TempDir()
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	cfg := bodyConfig{limit: 4 << 20, budget: NewBodyBudget(-1), dir: dir}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r := bodyRequest(nil, "", true)
		r.Body = io.NopCloser(&pieceReader{data: data, n: 32 << 10})
		body, err := readBody(nil, r, cfg)
		if err != nil {
			b.Fatal(err)
		}
		body.release()
	}
}

// BenchmarkReadBody50KB reads a 50 KB body whole and frees it, as every
// Claude Code request of that size does: after the first, its buffer
// comes from the pool.
func BenchmarkReadBody50KB(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 50<<10/16)
	cfg := bodyConfig{limit: 4 << 20, budget: NewBodyBudget(0), dir: b.TempDir()}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		body, err := readBody(nil, bodyRequest(data, "", false), cfg)
		if err != nil {
			b.Fatal(err)
		}
		body.release()
	}
}
