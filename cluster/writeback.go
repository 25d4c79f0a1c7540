package cluster

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// writeBackBatch is how many bindings one merge call carries: a Redis that
// comes back empty gets a cache of 100,000 bindings in 200 round trips.
const writeBackBatch = 500

// mergeBindings writes each binding of KEYS back to Redis unless Redis
// holds a newer one. ARGV holds the pool's channel, this process's ID and
// the length of the key prefix, then, for each key, its credential and the
// binding's remaining life in milliseconds; as every binding lives the TTL
// after its last use, the longer life is the newer binding. The reply has
// one entry per key: "" when the local binding stands (written, or already
// there), or Redis' credential when Redis' binding is newer. A binding
// that replaced another credential's is announced in the same script, so
// its announcement takes its place in the order of Redis' writes.
var mergeBindings = redis.NewScript(`
local channel, from, plen = ARGV[1], ARGV[2], tonumber(ARGV[3])
local out = {}
for i, k in ipairs(KEYS) do
	local cred, life = ARGV[2*i+2], tonumber(ARGV[2*i+3])
	local cur = redis.call('GET', k)
	local left = redis.call('PTTL', k)
	if not cur then
		redis.call('SET', k, cred, 'PX', life)
		out[i] = ''
	elseif cur == cred then
		if left >= 0 and left < life then redis.call('PEXPIRE', k, life) end
		out[i] = ''
	elseif left >= 0 and left < life then
		redis.call('SET', k, cred, 'PX', life)
		redis.call('PUBLISH', channel, cjson.encode({from = from, bind = {cred = cred, keys = {string.sub(k, plen + 1)}}}))
		out[i] = ''
	else
		out[i] = cur
	end
end
return out`)

// localBinding is one binding of the local cache, as written back.
type localBinding struct {
	key, cred string
	life      time.Duration
}

// writeBackBindings makes Redis hold what the local cache holds after an
// outage, the newer binding of each session winning: a Redis that
// restarted empty gets every live binding back (so no conversation moves
// because of the restart), a binding another process changed meanwhile
// replaces this process's older one here, and one this process changed
// meanwhile replaces the other's there and is announced. A binding Redis
// lost and no process holds any more is placed anew by the next request.
func (c *Cluster) writeBackBindings() error {
	var batch []localBinding
	var err error
	c.opts.Bindings.Range(func(key, cred string, expires time.Time) bool {
		life := time.Until(expires)
		if life < time.Millisecond {
			return true
		}
		batch = append(batch, localBinding{key, cred, life})
		if len(batch) == writeBackBatch {
			err = c.mergeBatch(batch)
			batch = batch[:0]
		}
		return err == nil
	})
	if err == nil && len(batch) > 0 {
		err = c.mergeBatch(batch)
	}
	if err != nil {
		c.markDown(err)
	}
	return err
}

// mergeBatch merges one batch of local bindings into Redis and takes the
// newer ones Redis had into the local cache.
func (c *Cluster) mergeBatch(batch []localBinding) error {
	keys := make([]string, len(batch))
	args := make([]any, 0, 3+2*len(batch))
	args = append(args, c.channel, c.id, len(c.sessionKey("")))
	for i, b := range batch {
		keys[i] = c.sessionKey(b.key)
		args = append(args, b.cred, strconv.FormatInt(b.life.Milliseconds(), 10))
	}
	ctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
	defer cancel()
	res, err := mergeBindings.Run(ctx, c.rdb, keys, args...).StringSlice()
	if err != nil {
		return err
	}
	for i, r := range res {
		if r == "" || i >= len(batch) {
			continue
		}
		// Redis' binding is newer, unless this process rebound the
		// session since the batch was read
		b := batch[i]
		if cur, ok := c.opts.Bindings.Get(b.key); ok && cur == b.cred {
			c.opts.Bindings.Set(r, b.key)
		}
	}
	return nil
}
