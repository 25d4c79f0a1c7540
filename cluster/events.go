package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// event is one usage record or error event on its way to Redis.
type event struct {
	usage   bool
	payload []byte
}

// PushUsage appends a usage record (JSON) to the usage list, trimmed to the
// retention, and publishes it on the usage channel. It never waits for
// Redis: a record that cannot be written (Redis down, even if not noticed
// yet, or the queue full) goes to Options.OnUsageUnsent.
func (c *Cluster) PushUsage(payload []byte) { c.emit(true, payload) }

// PublishError publishes an error event (JSON) on the errors channel, as
// PushUsage does.
func (c *Cluster) PublishError(payload []byte) { c.emit(false, payload) }

// PopUsage removes and returns up to n of the oldest records of the usage
// list: every process pops the same list, so each record is popped once.
func (c *Cluster) PopUsage(ctx context.Context, n int) ([][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	vals, err := c.rdb.LPopCount(ctx, UsageList, n).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		c.markDown(err)
		return nil, err
	}
	out := make([][]byte, len(vals))
	for i, v := range vals {
		out[i] = []byte(v)
	}
	return out, nil
}

// SetUsageMaxAge drops usage records that waited longer than d (by their
// finished_at) at each write; 0 keeps them until the list is full.
func (c *Cluster) SetUsageMaxAge(d time.Duration) { c.maxAge.Store(int64(d)) }

func (c *Cluster) emit(usage bool, payload []byte) {
	if c.Up() {
		select {
		case c.events <- event{usage: usage, payload: payload}:
			return
		default:
		}
	}
	if usage {
		c.unsent([][]byte{payload})
	}
}

// unsent gives usage records that were not written back to the caller.
func (c *Cluster) unsent(payloads [][]byte) {
	if len(payloads) > 0 && c.opts.OnUsageUnsent != nil {
		c.opts.OnUsageUnsent(payloads)
	}
}

// unsentOf gives back the usage records of events that were not written.
func (c *Cluster) unsentOf(events []event) {
	var payloads [][]byte
	for _, ev := range events {
		if ev.usage {
			payloads = append(payloads, ev.payload)
		}
	}
	c.unsent(payloads)
}

func (c *Cluster) eventLoop() {
	defer c.wg.Done()
	batch := make([]event, 0, 256)
	for {
		select {
		case <-c.ctx.Done():
			c.unsentOnClose()
			return
		case ev := <-c.events:
			batch = append(batch, ev)
		}
	more:
		for len(batch) < cap(batch) {
			select {
			case ev := <-c.events:
				batch = append(batch, ev)
			default:
				break more
			}
		}
		c.flushEvents(batch)
		clear(batch)
		batch = batch[:0]
	}
}

// unsentOnClose gives back the usage records still queued when the
// cluster closes.
func (c *Cluster) unsentOnClose() {
	var left []event
	for {
		select {
		case ev := <-c.events:
			left = append(left, ev)
		default:
			c.unsentOf(left)
			return
		}
	}
}

// pushUsage appends records to the list, then drops from its head the
// records that finished before the cutoff (ARGV[2], a time in the
// records' fixed-width format, so that strings compare as times; "" for
// none) and those past the size (ARGV[1]), and returns how many it
// dropped. A record without finished_at is dropped by size only.
var pushUsage = redis.NewScript(`
redis.call('RPUSH', KEYS[1], unpack(ARGV, 3))
local dropped = 0
if ARGV[2] ~= '' then
	while true do
		local head = redis.call('LINDEX', KEYS[1], 0)
		if not head then break end
		local at = string.match(head, '"finished_at":"([^"]+)"')
		if not at or at >= ARGV[2] then break end
		redis.call('LPOP', KEYS[1])
		dropped = dropped + 1
	end
end
local over = redis.call('LLEN', KEYS[1]) - tonumber(ARGV[1])
if over > 0 then
	redis.call('LTRIM', KEYS[1], over, -1)
	dropped = dropped + over
end
return dropped
`)

// timeFormat is the records' time format (telemetry.TimeFormat).
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// flushEvents writes batch in one pipeline: the usage records pushed to
// the tail of the list and the list trimmed, and each event published.
func (c *Cluster) flushEvents(batch []event) {
	ctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
	defer cancel()
	p := c.rdb.Pipeline()
	args := []any{c.retention, ""}
	if d := time.Duration(c.maxAge.Load()); d > 0 {
		args[1] = time.Now().Add(-d).UTC().Format(timeFormat)
	}
	for _, ev := range batch {
		if ev.usage {
			args = append(args, ev.payload)
		}
	}
	var push *redis.Cmd
	if len(args) > 2 {
		push = pushUsage.Eval(ctx, p, []string{UsageList}, args...)
	}
	for _, ev := range batch {
		ch := ErrorChannel
		if ev.usage {
			ch = UsageChannel
		}
		p.Publish(ctx, ch, ev.payload)
	}
	if _, err := p.Exec(ctx); err != nil {
		c.markDown(err)
		if push != nil && push.Err() != nil {
			// the records may not be in the list: kept locally, they
			// are at worst counted twice
			c.unsentOf(batch)
		}
		return
	}
	if push != nil && c.opts.OnUsageDropped != nil {
		if n, err := push.Int(); err == nil && n > 0 {
			c.opts.OnUsageDropped(n)
		}
	}
}
