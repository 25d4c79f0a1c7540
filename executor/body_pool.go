package executor

import (
	"bytes"
	"sync"
)

// Body buffers are reused: a fresh buffer of a megabyte costs its page
// faults again on every request. Small buffers (up to pooledBufferLimit)
// share one pool; bigger ones are pooled by size class, in steps of
// bigClass up to bigClasses steps, so a buffer handed out is never much
// bigger than asked, and what the memory budget is charged for (the class
// size) is what the buffer holds.

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const (
	// pooledBufferLimit is the largest buffer of the small pool.
	pooledBufferLimit = 256 << 10
	bigClass          = 256 << 10
	bigClasses        = 128 // to 32 MiB
)

var bigPools [bigClasses + 1]sync.Pool

func getBuffer() *bytes.Buffer { return bufferPool.Get().(*bytes.Buffer) }

// putBuffer gives b back for reuse, to the pool of its size.
func putBuffer(b *bytes.Buffer) {
	if b == nil {
		return
	}
	if b.Cap() > pooledBufferLimit {
		putBig(b.Bytes())
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

// allocBuffer returns an empty slice of capacity bufferSize(want).
func allocBuffer(want int64) []byte {
	size := bufferSize(want)
	if class := size / bigClass; size > pooledBufferLimit && class <= bigClasses {
		if p, ok := bigPools[class].Get().(*[]byte); ok {
			return (*p)[:0]
		}
	}
	return make([]byte, 0, size)
}

// putBig gives a big buffer's array back to the pool of its class; one
// that is not of a class is left to the collector.
func putBig(b []byte) {
	size := int64(cap(b))
	if class := size / bigClass; size%bigClass == 0 && class <= bigClasses {
		b = b[:0]
		bigPools[class].Put(&b)
	}
}
