package cluster

import (
	"context"
	"encoding/json"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// healthLinger keeps a state in Redis a while after it stopped blocking,
// so its backoff level still escalates the next window.
const healthLinger = 10 * time.Minute

// Changed writes a state the local pool changed to Redis and announces
// it (auth.HealthSync). It never waits for Redis.
func (c *Cluster) Changed(s auth.SharedState) {
	c.enqueue(write{health: &s})
}

// Forgot drops every state of key in Redis and announces it.
func (c *Cluster) Forgot(key string) {
	c.enqueue(write{forgot: key})
}

// healthKey is where s lives in Redis.
func (c *Cluster) healthKey(s auth.SharedState) string {
	m := "model:" + s.Model
	switch {
	case s.Quota != nil:
		m = "quota"
	case s.Whole:
		m = "whole"
	}
	return c.prefix + "health:" + s.Key + ":" + m
}

// writeHealth queues s's write and announcement on p.
func (c *Cluster) writeHealth(p redis.Pipeliner, s auth.SharedState) {
	key := c.healthKey(s)
	if s.State == nil && s.Quota == nil {
		p.Del(c.ctx, key)
	} else if b, err := json.Marshal(s); err == nil {
		ttl := time.Until(s.Expires()) + healthLinger
		p.Set(c.ctx, key, b, max(ttl, healthLinger))
	}
	c.announce(p, announcement{Health: &s})
}

// forgetHealth queues the removal of every state of key on p. The states
// are few (one per model that failed), so a scan is cheap enough for an
// event as rare as a new login.
func (c *Cluster) forgetHealth(ctx context.Context, p redis.Pipeliner, key string) error {
	keys, err := c.scan(ctx, c.prefix+"health:"+escapeGlob(key)+":*")
	if err != nil {
		return err
	}
	if len(keys) > 0 {
		p.Del(c.ctx, keys...)
	}
	c.announce(p, announcement{Forgot: key})
	return nil
}

// resyncHealth merges the states in Redis with the local ones, the newer
// failure of each credential and model winning: the remote ones are
// applied here, the local ones written there.
func (c *Cluster) resyncHealth(ctx context.Context) error {
	keys, err := c.scan(ctx, c.prefix+"health:*")
	if err != nil {
		return err
	}
	remote := make(map[string]auth.SharedState, len(keys))
	if len(keys) > 0 {
		vals, err := c.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return err
		}
		for _, v := range vals {
			str, ok := v.(string)
			if !ok {
				continue
			}
			var s auth.SharedState
			switch {
			case json.Unmarshal([]byte(str), &s) != nil:
			case s.Quota != nil:
				// usage windows merge by when each was seen
				c.opts.Health.Apply(s)
			case s.State != nil:
				remote[c.healthKey(s)] = s
			}
		}
	}
	var push []auth.SharedState
	c.opts.Health.Each(func(s auth.SharedState) {
		if s.Quota != nil {
			push = append(push, s)
			return
		}
		if s.State == nil {
			return
		}
		k := c.healthKey(s)
		r, ok := remote[k]
		switch {
		case !ok || s.State.LastError.Time.After(r.State.LastError.Time):
			push = append(push, s)
			delete(remote, k)
		case !r.State.LastError.Time.After(s.State.LastError.Time):
			delete(remote, k) // the same state on both sides
		}
	})
	for _, r := range remote {
		c.opts.Health.Apply(r)
	}
	if len(push) == 0 {
		return nil
	}
	p := c.rdb.Pipeline()
	for _, s := range push {
		c.writeHealth(p, s)
	}
	_, err = p.Exec(ctx)
	return err
}

// scan lists the keys matching pattern.
func (c *Cluster) scan(ctx context.Context, pattern string) ([]string, error) {
	var out []string
	iter := c.rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		out = append(out, iter.Val())
	}
	return out, iter.Err()
}

// escapeGlob quotes the glob characters of s for SCAN MATCH.
func escapeGlob(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}
