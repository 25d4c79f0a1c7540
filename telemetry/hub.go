package telemetry

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"
)

// SharedQueue is a usage queue several processes share (a Redis list), so
// that each record is popped once whichever process a collector asks.
type SharedQueue interface {
	// Up reports whether the shared queue is reachable now.
	Up() bool
	// PushUsage appends a record to the shared queue without waiting.
	PushUsage(payload []byte)
	// PublishError hands an error event to the processes' consumers
	// without waiting.
	PublishError(payload []byte)
	// PopUsage removes and returns up to n of the oldest records.
	PopUsage(ctx context.Context, n int) ([][]byte, error)
}

// Hub is one pool's telemetry: its usage queue and its channels. Records
// go to the shared queue while one is set and reachable, else to the
// local one; a pop drains the local queue first, so what was kept during
// an outage of the shared one is not lost. Safe for concurrent use.
type Hub struct {
	queue  *Queue
	broker Broker
	shared atomic.Pointer[sharedRef]

	sharedDropped atomic.Uint64
}

type sharedRef struct{ q SharedQueue }

// NewHub returns a hub whose local queue keeps records for retention, at
// most max of them (see NewQueue).
func NewHub(retention time.Duration, max int) *Hub {
	return &Hub{queue: NewQueue(retention, max)}
}

// SetLimits changes the local queue's limits (see Queue.SetLimits).
func (h *Hub) SetLimits(retention time.Duration, max int) { h.queue.SetLimits(retention, max) }

// Queue is the hub's local queue.
func (h *Hub) Queue() *Queue { return h.queue }

// Broker is the hub's pub/sub.
func (h *Hub) Broker() *Broker { return &h.broker }

// SetShared makes q the queue records go to (nil: the local queue only).
func (h *Hub) SetShared(q SharedQueue) {
	if q == nil {
		h.shared.Store(nil)
		return
	}
	h.shared.Store(&sharedRef{q})
}

// ClearShared stops using q, if it is the shared queue in use.
func (h *Hub) ClearShared(q SharedQueue) {
	if ref := h.shared.Load(); ref != nil && ref.q == q {
		h.shared.CompareAndSwap(ref, nil)
	}
}

func (h *Hub) sharedQueue() SharedQueue {
	if ref := h.shared.Load(); ref != nil {
		return ref.q
	}
	return nil
}

// Usage queues rec and publishes it on the usage channel. It never waits.
// rec must not change after.
func (h *Hub) Usage(rec *Record) {
	shared := h.sharedQueue()
	up := shared != nil && shared.Up()
	if !up {
		h.queue.PushRecord(rec)
	}
	if !up && h.broker.Subscribers(ChannelUsage) == 0 {
		return
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return
	}
	if up {
		shared.PushUsage(b)
	}
	h.broker.Publish(ChannelUsage, b)
}

// Error publishes ev on the errors channel. It never waits.
func (h *Hub) Error(ev *ErrorEvent) {
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	if s := h.sharedQueue(); s != nil && s.Up() {
		s.PublishError(b)
	}
	h.broker.Publish(ChannelErrors, b)
}

// KeepUnsent queues locally the records the shared queue took but could
// not write (see cluster.Options.OnUsageUnsent), so they are not lost.
func (h *Hub) KeepUnsent(payloads [][]byte) {
	for _, b := range payloads {
		h.queue.Push(b)
	}
}

// Pop removes and returns up to n of the oldest records: the local
// queue's first, then the shared queue's.
func (h *Hub) Pop(ctx context.Context, n int) ([][]byte, error) {
	out := h.queue.Pop(n)
	s := h.sharedQueue()
	if len(out) == n || s == nil || !s.Up() {
		return out, nil
	}
	more, err := s.PopUsage(ctx, n-len(out))
	if err != nil && len(out) == 0 {
		return nil, err
	}
	return append(out, more...), nil
}

// AddDropped counts records the shared queue dropped unread.
func (h *Hub) AddDropped(n int) {
	if n > 0 {
		h.sharedDropped.Add(uint64(n))
	}
}

// Dropped is how many records were dropped unread, locally and (as far
// as this process trimmed them) from the shared queue.
func (h *Hub) Dropped() uint64 { return h.queue.Dropped() + h.sharedDropped.Load() }
