package cluster

import (
	"context"
	"encoding/json"
)

// event is one usage or error event on its way to Redis.
type event struct {
	usage   bool
	payload []byte
}

// Usage appends ev, as JSON, to the usage list (trimmed to the retention)
// and publishes it on the usage channel. It never waits for Redis: while
// Redis is down or the queue is full, the event is dropped (the usage log
// still has it).
func (c *Cluster) Usage(ev any) { c.emit(true, ev) }

// Error publishes ev, as JSON, on the errors channel, as Usage does.
func (c *Cluster) Error(ev any) { c.emit(false, ev) }

func (c *Cluster) emit(usage bool, ev any) {
	if !c.Up() {
		return
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	select {
	case c.events <- event{usage: usage, payload: b}:
	default:
	}
}

func (c *Cluster) eventLoop() {
	defer c.wg.Done()
	batch := make([]event, 0, 256)
	for {
		select {
		case <-c.ctx.Done():
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

// flushEvents writes batch in one pipeline: the usage events pushed to the
// tail of the list, the list trimmed to its newest retention events, and
// each event published.
func (c *Cluster) flushEvents(batch []event) {
	ctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
	defer cancel()
	p := c.rdb.Pipeline()
	var usage []any
	for _, ev := range batch {
		if ev.usage {
			usage = append(usage, ev.payload)
		}
	}
	if len(usage) > 0 {
		p.RPush(ctx, UsageList, usage...)
		p.LTrim(ctx, UsageList, -c.retention, -1)
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
	}
}
