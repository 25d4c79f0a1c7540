package executor

import "sync/atomic"

// DefaultBodyMemory is the request body memory of a BodyBudget built with
// a limit of 0.
const DefaultBodyMemory = 64 << 20

// BodyBudget is how many bytes of request bodies a gateway holds in memory
// at once, across its requests. A body that would take the total past it
// is held in a temporary file instead (see Options.BodySpoolDir). One
// budget is shared by every request that is given it; it is safe for
// concurrent use.
type BodyBudget struct {
	limit atomic.Int64
	held  atomic.Int64
}

// NewBodyBudget returns a budget of limit bytes, DefaultBodyMemory when
// limit is 0. A negative limit holds nothing in memory: every body is
// spooled.
func NewBodyBudget(limit int64) *BodyBudget {
	b := new(BodyBudget)
	b.SetLimit(limit)
	return b
}

// SetLimit changes the budget's limit (0: DefaultBodyMemory); bodies held
// already keep their memory. A lower limit unmaps the arena's free
// buffers past it at once: they are reused only by bodies of their size,
// which may never come again.
func (b *BodyBudget) SetLimit(limit int64) {
	if limit == 0 {
		limit = DefaultBodyMemory
	}
	limit = max(limit, 0)
	if old := b.limit.Swap(limit); limit < old {
		arena.trim(limit)
	}
}

// Held is how many bytes the budget has given out.
func (b *BodyBudget) Held() int64 { return b.held.Load() }

// take gives n bytes of the budget, if it has them; a nil budget has no
// bound.
func (b *BodyBudget) take(n int64) bool {
	if b == nil || n <= 0 {
		return true
	}
	limit := b.limit.Load()
	for {
		held := b.held.Load()
		if held+n > limit {
			return false
		}
		if b.held.CompareAndSwap(held, held+n) {
			return true
		}
	}
}

// give returns n bytes taken before.
func (b *BodyBudget) give(n int64) {
	if b != nil && n > 0 {
		b.held.Add(-n)
	}
}

// arenaLimit is how much memory the body arena may keep mapped for the
// bodies of this budget: its limit; DefaultBodyMemory without a budget.
func (b *BodyBudget) arenaLimit() int64 {
	if b == nil {
		return DefaultBodyMemory
	}
	return b.limit.Load()
}
