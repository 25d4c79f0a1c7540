package executor

import (
	"sync"
	"unsafe"
)

// bodyArena keeps the big body buffers (over pooledBufferLimit) outside
// the Go heap. On the heap, a budget's worth of live bodies raises the
// collector's goal by as much again, so body_memory 64MiB cost about
// 130 MiB of resident memory; outside it, the bodies cost what they hold
// and the collector paces itself on the rest. A buffer is given back
// explicitly (hold.free, once every reader is closed) and kept for reuse
// while the arena's resident bytes stay within the budget's limit; past
// that it is unmapped. Unmapped memory faults when touched, so a reference
// kept past its free crashes the process instead of reading another
// request's body.
type bodyArena struct {
	mu       sync.Mutex
	free     [bigClasses + 1][][]byte
	freeSize int64
	resident int64 // mapped: in use plus free
	// owned tells the arena's buffers (by their first byte) from others
	owned map[*byte]struct{}
}

var arena = &bodyArena{owned: make(map[*byte]struct{})}

// get returns an empty buffer of capacity size (a multiple of bigClass),
// reused or newly mapped; nil when memory cannot be mapped, and the
// caller allocates on the heap. limit bounds the resident bytes: free
// buffers of other classes are unmapped to make room for a new one.
func (a *bodyArena) get(size, limit int64) []byte {
	class := size / bigClass
	a.mu.Lock()
	if len(a.free[class]) > 0 {
		b := a.popLocked(class)
		a.mu.Unlock()
		return b[:0]
	}
	a.trimLocked(limit - size)
	a.mu.Unlock()
	b, err := mapAnon(int(size))
	if err != nil {
		return nil
	}
	a.mu.Lock()
	a.owned[unsafe.SliceData(b)] = struct{}{}
	a.resident += size
	a.mu.Unlock()
	return b[:0]
}

// put takes back b, when it is the arena's: kept for reuse while the
// arena stays within limit, else unmapped. It reports whether b was the
// arena's.
func (a *bodyArena) put(b []byte, limit int64) bool {
	if cap(b) == 0 {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.owned[unsafe.SliceData(b[:1])]; !ok {
		return false
	}
	if a.resident > limit {
		a.unmapLocked(b)
		return true
	}
	class := int64(cap(b)) / bigClass
	a.free[class] = append(a.free[class], b[:0])
	a.freeSize += int64(cap(b))
	return true
}

// trim unmaps free buffers, the biggest first, until the arena is within
// limit or has none left.
func (a *bodyArena) trim(limit int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.trimLocked(limit)
}

func (a *bodyArena) trimLocked(limit int64) {
	for c := int64(bigClasses); c > 0 && a.freeSize > 0 && a.resident > limit; c-- {
		for len(a.free[c]) > 0 && a.resident > limit {
			a.unmapLocked(a.popLocked(c))
		}
	}
}

// popLocked takes the last free buffer of class c; a.mu is held.
func (a *bodyArena) popLocked(c int64) []byte {
	n := len(a.free[c])
	b := a.free[c][n-1]
	a.free[c][n-1] = nil
	a.free[c] = a.free[c][:n-1]
	a.freeSize -= int64(cap(b))
	return b
}

// unmapLocked gives b, the arena's and not free, back to the system;
// a.mu is held.
func (a *bodyArena) unmapLocked(b []byte) {
	a.resident -= int64(cap(b))
	delete(a.owned, unsafe.SliceData(b[:1]))
	unmapAnon(b[:cap(b)])
}

// Resident is the arena's mapped bytes, in use and free.
func (a *bodyArena) Resident() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.resident
}
