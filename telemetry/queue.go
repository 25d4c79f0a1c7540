package telemetry

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"
)

// The limits of a queue.
const (
	// DefaultRetention is how long a record waits for a collector.
	DefaultRetention = 60 * time.Second
	// MaxRetention bounds the retention an operator may set.
	MaxRetention = time.Hour
	// DefaultMaxRecords bounds the records a queue holds.
	DefaultMaxRecords = 10_000
)

// Queue holds usage records, oldest first, for a collector to pop. A
// record older than the retention, or one too many, is dropped oldest
// first and counted. Safe for concurrent use.
type Queue struct {
	// Now is the clock; default time.Now.
	Now func() time.Time

	mu        sync.Mutex
	items     []queued
	head      int // items[:head] are popped
	retention time.Duration
	max       int

	dropped atomic.Uint64
}

type queued struct {
	at      time.Time
	payload []byte
	// rec, when set, is the record not yet encoded: most records are
	// never popped (no collector), and encoding each as it came cost
	// every request ~10 µs
	rec *Record
}

// NewQueue returns a queue keeping records for retention, at most max of
// them (0 for either: its default; a retention past MaxRetention is
// MaxRetention).
func NewQueue(retention time.Duration, max int) *Queue {
	q := new(Queue)
	q.SetLimits(retention, max)
	return q
}

// SetLimits changes the retention and the size, as NewQueue takes them;
// records already past them go at the next push or pop.
func (q *Queue) SetLimits(retention time.Duration, max int) {
	retention, max = Limits(retention, max)
	q.mu.Lock()
	q.retention, q.max = retention, max
	q.mu.Unlock()
}

// Limits is retention and max with their defaults and bounds applied.
func Limits(retention time.Duration, max int) (time.Duration, int) {
	if retention <= 0 {
		retention = DefaultRetention
	}
	if retention > MaxRetention {
		retention = MaxRetention
	}
	if max <= 0 {
		max = DefaultMaxRecords
	}
	return retention, max
}

func (q *Queue) now() time.Time {
	if q.Now != nil {
		return q.Now()
	}
	return time.Now()
}

// Push appends a record; the queue keeps payload as it is.
func (q *Queue) Push(payload []byte) { q.push(queued{payload: payload}) }

// PushRecord appends rec, encoded as JSON only when it is popped; rec must
// not change after.
func (q *Queue) PushRecord(rec *Record) { q.push(queued{rec: rec}) }

func (q *Queue) push(it queued) {
	it.at = q.now()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.expireLocked(it.at)
	if n := q.lenLocked() - q.max + 1; n > 0 {
		q.dropLocked(n)
	}
	q.items = append(q.items, it)
}

// Pop removes and returns up to n of the oldest records.
func (q *Queue) Pop(n int) [][]byte {
	if n <= 0 {
		return nil
	}
	q.mu.Lock()
	q.expireLocked(q.now())
	n = min(n, q.lenLocked())
	if n == 0 {
		q.mu.Unlock()
		return nil
	}
	items := make([]queued, n)
	copy(items, q.items[q.head:q.head+n])
	clear(q.items[q.head : q.head+n])
	q.head += n
	q.compactLocked()
	q.mu.Unlock()
	// encoded outside the lock: a collector popping thousands does not
	// hold up the requests pushing
	out := make([][]byte, 0, n)
	for _, it := range items {
		if it.rec != nil {
			b, err := json.Marshal(it.rec)
			if err != nil {
				continue
			}
			it.payload = b
		}
		out = append(out, it.payload)
	}
	return out
}

// Len is how many records wait.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.expireLocked(q.now())
	return q.lenLocked()
}

// Dropped is how many records were dropped unread, past the retention or
// the size, since the queue was made.
func (q *Queue) Dropped() uint64 {
	q.mu.Lock()
	q.expireLocked(q.now())
	q.mu.Unlock()
	return q.dropped.Load()
}

func (q *Queue) lenLocked() int { return len(q.items) - q.head }

func (q *Queue) expireLocked(now time.Time) {
	cutoff := now.Add(-q.retention)
	n := 0
	for q.head+n < len(q.items) && q.items[q.head+n].at.Before(cutoff) {
		n++
	}
	if n > 0 {
		q.dropLocked(n)
	}
}

func (q *Queue) dropLocked(n int) {
	for i := q.head; i < q.head+n; i++ {
		q.items[i] = queued{}
	}
	q.head += n
	q.dropped.Add(uint64(n))
	q.compactLocked()
}

// compactLocked gives the popped front back once it is most of the slice,
// so a queue that is drained as fast as it fills does not grow.
func (q *Queue) compactLocked() {
	switch {
	case q.head == len(q.items):
		q.items, q.head = q.items[:0], 0
	case q.head >= 1024 && q.head*2 >= len(q.items):
		q.items = append(q.items[:0:0], q.items[q.head:]...)
		q.head = 0
	}
}
