package executor

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// freshArena gives the test an empty arena of its own.
func freshArena(t *testing.T) *bodyArena {
	t.Helper()
	saved := arena
	arena = &bodyArena{owned: make(map[*byte]struct{})}
	t.Cleanup(func() { arena = saved })
	return arena
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// Big bodies held in memory are not on the Go heap: the collector's goal
// (and so the process's memory) does not grow by the bodies held, which
// would double what body_memory costs.
func TestHeldBigBodiesAreNotOnTheHeap(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no anonymous mappings: big bodies stay on the heap")
	}
	a := freshArena(t)
	budget := NewBodyBudget(16 << 20)
	cfg := bodyConfig{limit: 4 << 20, budget: budget, dir: t.TempDir()}
	data := bytes.Repeat([]byte("x"), 1<<20)

	before := heapAlloc()
	var bodies []*body
	for range 8 {
		b, err := readBody(nil, bodyRequest(data, "", false), cfg)
		require.NoError(t, err)
		require.False(t, b.raw.spooled())
		bodies = append(bodies, b)
	}
	grown := int64(heapAlloc()) - int64(before)
	assert.Less(t, grown, int64(1<<20), "8 bodies of 1 MiB grew the heap by %d bytes", grown)
	assert.Equal(t, budget.Held(), a.Resident(), "the arena holds what the budget was charged")
	for _, b := range bodies {
		assert.Equal(t, data, b.inspect())
		b.release()
	}
	assert.Zero(t, budget.Held())
}

// The arena keeps freed buffers for reuse only while what it has mapped
// stays within the budget's limit; past it, freed buffers are unmapped.
func TestArenaKeepsWithinTheLimit(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no anonymous mappings")
	}
	a := freshArena(t)
	const size = 4 * bigClass
	limit := int64(3 * size)

	var bufs [][]byte
	for range 4 {
		b := a.get(size, limit)
		require.NotNil(t, b)
		require.Equal(t, size, cap(b))
		bufs = append(bufs, b)
	}
	assert.Equal(t, int64(4*size), a.Resident(), "buffers in use are mapped whatever the limit")
	for _, b := range bufs {
		assert.True(t, a.put(b, limit))
	}
	assert.Equal(t, limit, a.Resident(), "one freed buffer past the limit is unmapped, the rest kept")

	again := a.get(size, limit)
	assert.Equal(t, limit, a.Resident(), "a buffer of a kept class is reused, not mapped anew")
	// a new class must fit: a kept buffer of another class makes room
	other := a.get(2*bigClass, limit)
	assert.LessOrEqual(t, a.Resident(), limit)
	assert.True(t, a.put(again, limit))
	assert.True(t, a.put(other, limit))
	assert.False(t, a.put(make([]byte, 0, size), limit), "a heap buffer is not the arena's")
}

// A lower body_memory (a config reload) gives back at once the free
// buffers the arena kept under the old limit: they are reused only by
// bodies of their own size, and without a fix stayed mapped for good.
func TestArenaGivesBackFreeBuffersWhenTheLimitIsLowered(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no anonymous mappings")
	}
	a := freshArena(t)
	budget := NewBodyBudget(32 << 20)
	cfg := bodyConfig{limit: 8 << 20, budget: budget, dir: t.TempDir()}
	var bodies []*body
	for i := range 6 {
		b, err := readBody(nil, bodyRequest(bytes.Repeat([]byte("x"), (i+1)<<20), "", false), cfg)
		require.NoError(t, err)
		require.False(t, b.raw.spooled())
		bodies = append(bodies, b)
	}
	for _, b := range bodies {
		b.release()
	}
	require.Greater(t, a.Resident(), int64(16<<20), "the freed buffers are kept under the first limit")

	budget.SetLimit(4 << 20)
	assert.LessOrEqual(t, a.Resident(), int64(4<<20), "free buffers past the new limit stay mapped")
}
