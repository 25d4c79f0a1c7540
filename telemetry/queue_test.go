package telemetry

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func rec(i int) []byte                   { return []byte(fmt.Sprintf(`{"n":%d}`, i)) }
func strs(b [][]byte) (out []string) {
	for _, x := range b {
		out = append(out, string(x))
	}
	return out
}

func TestQueuePopsOldestFirst(t *testing.T) {
	q := NewQueue(0, 0)
	for i := range 5 {
		q.Push(rec(i))
	}
	assert.Equal(t, []string{`{"n":0}`, `{"n":1}`}, strs(q.Pop(2)))
	assert.Equal(t, []string{`{"n":2}`}, strs(q.Pop(1)))
	assert.Equal(t, []string{`{"n":3}`, `{"n":4}`}, strs(q.Pop(10)), "a count past the queue gives what there is")
	assert.Empty(t, q.Pop(1))
	assert.Zero(t, q.Dropped(), "popped records are not dropped ones")
}

func TestQueueDropsRecordsPastRetention(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	q := NewQueue(60*time.Second, 0)
	q.Now = clock.now
	q.Push(rec(0))
	clock.add(30 * time.Second)
	q.Push(rec(1))
	clock.add(31 * time.Second) // record 0 is 61 s old, record 1 is 31 s old
	assert.Equal(t, uint64(1), q.Dropped(), "the expired record is counted as soon as the metric looks")
	assert.Equal(t, []string{`{"n":1}`}, strs(q.Pop(5)))

	q.Push(rec(2))
	q.SetLimits(10*time.Second, 0)
	clock.add(11 * time.Second)
	assert.Empty(t, q.Pop(5), "a shorter retention applies to the records already queued")
	assert.Equal(t, uint64(2), q.Dropped())
}

func TestQueueDropsOldestPastItsSize(t *testing.T) {
	q := NewQueue(0, 3)
	for i := range 5 {
		q.Push(rec(i))
	}
	assert.Equal(t, uint64(2), q.Dropped())
	assert.Equal(t, []string{`{"n":2}`, `{"n":3}`, `{"n":4}`}, strs(q.Pop(10)))
}

func TestQueueStaysSmallWhenDrained(t *testing.T) {
	q := NewQueue(0, 0)
	for i := range 100_000 {
		q.Push(rec(i))
		require.Len(t, q.Pop(1), 1)
	}
	assert.LessOrEqual(t, cap(q.items), 16, "a queue drained as it fills reuses its front")
}

func TestQueueLimits(t *testing.T) {
	for _, c := range []struct {
		retention time.Duration
		max       int
		wantR     time.Duration
		wantMax   int
	}{
		{0, 0, DefaultRetention, DefaultMaxRecords},
		{5 * time.Second, 10, 5 * time.Second, 10},
		{2 * time.Hour, 10, MaxRetention, 10},
		{-time.Second, -1, DefaultRetention, DefaultMaxRecords},
	} {
		r, m := Limits(c.retention, c.max)
		assert.Equal(t, c.wantR, r)
		assert.Equal(t, c.wantMax, m)
	}
}
