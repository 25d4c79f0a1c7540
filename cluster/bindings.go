package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-cliproxy/cliproxy/selector"
	"github.com/caddy-cliproxy/cliproxy/session"
)

// Bindings is a session binding store shared by the processes: the local
// cache answers, and a binding it lacks is looked up in Redis once. Every
// Set and CompareAndDelete is written to Redis and announced, so the
// other processes' caches follow within the channel's latency. It
// implements selector.Bindings.
type Bindings struct {
	c     *Cluster
	local *session.Cache
}

var _ selector.PairBindings = (*Bindings)(nil)

// bindOp is a binding change as written and announced: keys bound to
// Cred, or, with Delete, unbound if bound to Cred (whatever they are
// bound to when Cred is "").
type bindOp struct {
	Cred   string   `json:"cred"`
	Keys   []string `json:"keys"`
	Delete bool     `json:"delete,omitempty"`
}

// unbind deletes each key of KEYS that is bound to ARGV[1], or every key
// when ARGV[1] is empty.
var unbind = redis.NewScript(`
for _, k in ipairs(KEYS) do
	if ARGV[1] == '' or redis.call('GET', k) == ARGV[1] then redis.call('DEL', k) end
end
return 0`)

func (c *Cluster) sessionKey(key string) string { return c.prefix + "session:" + key }

// GetAndRefresh returns key's credential from the local cache, or else
// from Redis (one round trip, which also extends the binding there). A
// local hit extends the binding in Redis in the background.
func (b *Bindings) GetAndRefresh(key string) (string, bool) {
	if cred, ok := b.local.GetAndRefresh(key); ok {
		b.c.enqueue(write{refresh: key})
		return cred, true
	}
	if !b.c.Up() {
		return "", false
	}
	ctx, cancel := context.WithTimeout(b.c.ctx, opTimeout)
	cred, err := b.c.rdb.GetEx(ctx, b.c.sessionKey(key), b.local.TTL()).Result()
	cancel()
	if err != nil {
		if !errors.Is(err, redis.Nil) {
			b.c.markDown(err)
		}
		return "", false
	}
	b.local.Set(cred, key)
	return cred, true
}

// GetAndRefreshPair is GetAndRefresh of key, or else of fallback, with one
// round trip for both when neither is in the local cache.
func (b *Bindings) GetAndRefreshPair(key, fallback string) (string, bool, bool) {
	if cred, ok := b.local.GetAndRefresh(key); ok {
		b.c.enqueue(write{refresh: key})
		return cred, false, true
	}
	if cred, ok := b.local.GetAndRefresh(fallback); ok {
		b.c.enqueue(write{refresh: fallback})
		return cred, true, true
	}
	if !b.c.Up() {
		return "", false, false
	}
	ctx, cancel := context.WithTimeout(b.c.ctx, opTimeout)
	defer cancel()
	ttl := b.local.TTL()
	p := b.c.rdb.Pipeline()
	first := p.GetEx(ctx, b.c.sessionKey(key), ttl)
	second := p.GetEx(ctx, b.c.sessionKey(fallback), ttl)
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		b.c.markDown(err)
		return "", false, false
	}
	if cred, err := first.Result(); err == nil {
		b.local.Set(cred, key)
		return cred, false, true
	}
	if cred, err := second.Result(); err == nil {
		b.local.Set(cred, fallback)
		return cred, true, true
	}
	return "", false, false
}

// Set binds keys to cred here and in Redis.
func (b *Bindings) Set(cred string, keys ...string) {
	if len(keys) == 0 {
		return
	}
	b.local.Set(cred, keys...)
	b.c.enqueue(write{bind: &bindOp{Cred: cred, Keys: append([]string(nil), keys...)}})
}

// CompareAndDelete unbinds key if it is bound to cred, here and in Redis.
func (b *Bindings) CompareAndDelete(key, cred string) bool {
	ok := b.local.CompareAndDelete(key, cred)
	b.c.enqueue(write{bind: &bindOp{Cred: cred, Keys: []string{key}, Delete: true}})
	return ok
}

// Range calls fn for each binding of the local cache, which the
// announcements keep complete but for bindings this instance has not
// heard of (made while it was away from Redis).
func (b *Bindings) Range(fn func(key, cred string, expires time.Time) bool) {
	b.local.Range(fn)
}

// Delete unbinds key here, in Redis and on the other instances (an
// operator's drop), and reports whether it was bound here.
func (b *Bindings) Delete(key string) bool {
	ok := b.local.Delete(key)
	b.c.enqueue(write{bind: &bindOp{Keys: []string{key}, Delete: true}})
	return ok
}

// DeleteCredential unbinds every session bound to cred here, in Redis and
// on the other instances, and returns how many were bound here.
func (b *Bindings) DeleteCredential(cred string) int {
	var keys []string
	b.local.Range(func(key, bound string, _ time.Time) bool {
		if bound == cred {
			keys = append(keys, key)
		}
		return true
	})
	n := b.local.DeleteCredential(cred)
	if len(keys) > 0 {
		b.c.enqueue(write{bind: &bindOp{Cred: cred, Keys: keys, Delete: true}})
	}
	return n
}

// writeBind queues op's write and announcement on p.
func (c *Cluster) writeBind(p redis.Pipeliner, op bindOp) {
	keys := make([]string, len(op.Keys))
	for i, k := range op.Keys {
		keys[i] = c.sessionKey(k)
	}
	if op.Delete {
		unbind.Eval(c.ctx, p, keys, op.Cred)
	} else {
		ttl := c.opts.Bindings.TTL()
		for _, k := range keys {
			p.Set(c.ctx, k, op.Cred, ttl)
		}
	}
	c.announce(p, announcement{Bind: &op})
}

// applyRemote takes an announced binding change into the cache.
func (b *Bindings) applyRemote(op bindOp) {
	if op.Delete {
		for _, k := range op.Keys {
			if op.Cred == "" {
				b.local.Delete(k)
			} else {
				b.local.CompareAndDelete(k, op.Cred)
			}
		}
		return
	}
	b.local.Set(op.Cred, op.Keys...)
}
