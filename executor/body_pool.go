package executor

import (
	"bytes"
	"sync"
)

// Body buffers are reused: a fresh buffer of a megabyte costs its page
// faults again on every request. Small buffers (up to pooledBufferLimit)
// share one pool on the heap; bigger ones come from the arena (see
// bodyArena), by size class, in steps of bigClass up to bigClasses steps,
// so a buffer handed out is never much bigger than asked, and what the
// memory budget is charged for (the class size) is what the buffer holds.

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const (
	// pooledBufferLimit is the largest buffer of the small pool.
	pooledBufferLimit = 256 << 10
	bigClass          = 256 << 10
	bigClasses        = 128 // to 32 MiB
)

func getBuffer() *bytes.Buffer { return bufferPool.Get().(*bytes.Buffer) }

// putBuffer gives b back for reuse: a big one to the arena, which keeps
// it while its memory stays within limit.
func putBuffer(b *bytes.Buffer, limit int64) {
	if b == nil {
		return
	}
	if b.Cap() > pooledBufferLimit {
		// a big buffer is only ever written (never read from), so
		// Bytes starts at the buffer's first byte
		arena.put(b.Bytes(), limit)
		return
	}
	b.Reset()
	bufferPool.Put(b)
}

// bufferSize is the capacity of the buffer allocBuffer hands out for want
// bytes.
func bufferSize(want int64) int64 {
	if want <= pooledBufferLimit {
		return want
	}
	return (want + bigClass - 1) / bigClass * bigClass
}

// allocBuffer returns an empty slice of capacity bufferSize(want); a big
// one from the arena, which keeps its memory within limit.
func allocBuffer(want, limit int64) []byte {
	size := bufferSize(want)
	if size > pooledBufferLimit && size/bigClass <= bigClasses {
		if b := arena.get(size, limit); b != nil {
			return b
		}
	}
	return make([]byte, 0, size)
}
