package cluster

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// write is one change for Redis, queued by a request and written in the
// background, in order, in batches of one round trip.
type write struct {
	health  *auth.SharedState
	forgot  string
	bind    *bindOp
	refresh string // a session key whose binding was used
}

// maxRefreshed bounds the sessions whose last refresh the writer
// remembers; past it, it forgets them all, which costs one refresh each.
const maxRefreshed = 100_000

// enqueue hands w to the writer without waiting. While Redis is down, a
// health change is left to the resync and a binding change is kept for
// replay.
func (c *Cluster) enqueue(w write) {
	if c.Up() {
		select {
		case c.writes <- w:
			return
		default: // the writer is behind: as if Redis were down
		}
	}
	if w.bind != nil {
		c.pending.add(*w.bind)
	}
}

func (c *Cluster) writeLoop() {
	defer c.wg.Done()
	refreshed := make(map[string]time.Time)
	batch := make([]write, 0, 256)
	for {
		select {
		case <-c.ctx.Done():
			c.flushOnClose(batch, refreshed)
			return
		case w := <-c.writes:
			batch = append(batch, w)
		}
	more:
		for len(batch) < cap(batch) {
			select {
			case w := <-c.writes:
				batch = append(batch, w)
			default:
				break more
			}
		}
		c.flush(batch, refreshed)
		clear(batch)
		batch = batch[:0]
	}
}

// flush writes batch in one pipeline. On failure Redis is taken as down
// and the batch's binding changes are kept for replay.
func (c *Cluster) flush(batch []write, refreshed map[string]time.Time) {
	// not c.ctx: a batch under way when the cluster closes is finished
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	c.flushIn(ctx, batch, refreshed)
}

// flushOnClose writes what is still queued when the cluster closes (an
// instance shutting down), so the others learn its last changes.
func (c *Cluster) flushOnClose(batch []write, refreshed map[string]time.Time) {
	for {
		select {
		case w := <-c.writes:
			batch = append(batch, w)
			continue
		default:
		}
		break
	}
	if len(batch) == 0 || !c.Up() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	c.flushIn(ctx, batch, refreshed)
}

func (c *Cluster) flushIn(ctx context.Context, batch []write, refreshed map[string]time.Time) {
	// one transaction: the batch's announcements go out in the order of
	// its writes, with nothing of another process's in between
	p := c.rdb.TxPipeline()
	now := time.Now()
	ttl := c.opts.Bindings.TTL()
	every := min(max(ttl/16, time.Second), time.Minute)
	var err error
	for _, w := range batch {
		switch {
		case w.health != nil:
			c.writeHealth(p, *w.health)
		case w.forgot != "":
			err = c.forgetHealth(ctx, p, w.forgot)
		case w.bind != nil:
			c.writeBind(p, *w.bind)
		case w.refresh != "":
			if now.Sub(refreshed[w.refresh]) < every {
				continue
			}
			if len(refreshed) >= maxRefreshed {
				clear(refreshed)
			}
			refreshed[w.refresh] = now
			p.PExpire(c.ctx, c.sessionKey(w.refresh), ttl)
		}
	}
	if err == nil && p.Len() > 0 {
		_, err = p.Exec(ctx)
	}
	if err == nil || errors.Is(err, redis.Nil) {
		return
	}
	c.markDown(err)
	for _, w := range batch {
		if w.bind != nil {
			c.pending.add(*w.bind)
		}
	}
}

// pendingBindings are the binding changes made while Redis was down, by
// session key, the last change of each winning.
type pendingBindings struct {
	mu sync.Mutex
	m  map[string]bindOp
}

func (pb *pendingBindings) add(op bindOp) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	if len(pb.m) >= maxPending {
		return // the oldest outage-time changes are kept; the rest rebind
	}
	pb.m[op.Keys[0]] = op
}

func (pb *pendingBindings) take() []bindOp {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	out := make([]bindOp, 0, len(pb.m))
	for _, op := range pb.m {
		out = append(out, op)
	}
	clear(pb.m)
	return out
}

// replayPending writes the binding changes made while Redis was down.
func (c *Cluster) replayPending() {
	ops := c.pending.take()
	if len(ops) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, 5*writeTimeout)
	defer cancel()
	p := c.rdb.TxPipeline()
	for _, op := range ops {
		c.writeBind(p, op)
	}
	if _, err := p.Exec(ctx); err != nil {
		c.markDown(err)
		for _, op := range ops {
			c.pending.add(op)
		}
	}
}
