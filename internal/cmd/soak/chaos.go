package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddy-cliproxy/cliproxy/internal/redistest"
)

// step is one thing the chaos does, at a fraction of the run.
type step struct {
	at   float64
	what string
	do   func(ctx context.Context) error
}

// happened is a step as it went, for the report's timeline.
type happened struct {
	At   time.Duration
	What string
	Err  string
}

// chaos breaks the run's surroundings on a schedule scaled to its length.
type chaos struct {
	up        *upstream
	keys      *keyring
	gw        *gateway
	instances []*instance
	redis     *redistest.Proc
	start     time.Time

	mu       sync.Mutex
	timeline []happened
	disabled map[string][2]time.Time // credential → when an operator disabled and enabled it
	down     [2]time.Time            // when Redis was killed and back
	uploaded time.Time               // when the second auth file was uploaded
	reloads  int
	// atKill is how many usage records the Redis list held when Redis
	// was killed (gone with it, as it restarts empty); -1 when unknown
	atKill int64
}

func (c *chaos) note(what string, err error) {
	h := happened{At: time.Since(c.start).Round(100 * time.Millisecond), What: what}
	if err != nil {
		h.Err = err.Error()
	}
	c.mu.Lock()
	c.timeline = append(c.timeline, h)
	c.mu.Unlock()
}

// faultWindow gives the credentials a fault from one fraction of the run
// to another.
func (c *chaos) faultWindow(from, to float64, kind string, names ...string) []step {
	what := fmt.Sprintf("%s: %s", strings.Join(names, ", "), kind)
	set := func(kind string) func(context.Context) error {
		return func(context.Context) error {
			for _, n := range names {
				c.up.setFault(c.keys.byName[n], kind)
			}
			return nil
		}
	}
	return []step{
		{at: from, what: what + " begins", do: set(kind)},
		{at: to, what: what + " ends", do: set(faultNone)},
	}
}

// schedule is the run's chaos. Every fault leaves most credentials of its
// provider answering, so every request has one that could answer it.
func (c *chaos) schedule(d, outage time.Duration) []step {
	var s []step
	s = append(s, c.faultWindow(0.08, 0.23, fault429Hint, "key-1")...)
	s = append(s, c.faultWindow(0.08, 0.23, fault429, "key-2", "key-3", "openai-1")...)
	s = append(s, c.faultWindow(0.15, 0.30, faultErrorEvent, "key-4", "gemini-1")...)
	s = append(s, c.faultWindow(0.20, 0.35, fault529, "key-5")...)
	s = append(s,
		step{at: 0.30, what: "operator disables key-6 on both instances", do: c.setDisabled("key-6", true)},
		step{at: 0.45, what: "operator enables key-6 on both instances", do: c.setDisabled("key-6", false)},
		step{at: 0.38, what: "redis-server killed", do: c.killRedis},
		step{at: 0.38 + float64(outage)/float64(d), what: "redis-server started again, empty", do: c.restartRedis},
	)
	s = append(s, c.faultWindow(0.50, 0.62, faultReset, "key-7", "openai-2")...)
	s = append(s, c.faultWindow(0.55, 0.70, faultHang, "key-8", "gemini-2")...)
	s = append(s,
		step{at: 0.60, what: authFile1 + ".json edited (a header added)", do: func(context.Context) error {
			return c.gw.writeAuthFile(authFile1, map[string]string{"X-Team": "soak"})
		}},
		step{at: 0.65, what: authFile2 + ".json uploaded through the management API", do: func(ctx context.Context) error {
			err := c.instances[0].manage(ctx, http.MethodPut, "auth-files/"+authFile2+".json", c.gw.authFile(authFile2, nil))
			c.mu.Lock()
			c.uploaded = time.Now()
			c.mu.Unlock()
			return err
		}},
	)
	s = append(s, c.faultWindow(0.72, 1, faultRefused, "key-3", "openai-3")...)
	s = append(s, c.faultWindow(0.80, 0.88, fault429, "key-1", "key-4", "key-5", "gemini-3")...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].at < s[j].at })
	return s
}

func (c *chaos) setDisabled(name string, disabled bool) func(context.Context) error {
	return func(ctx context.Context) error {
		verb := "enable"
		if disabled {
			verb = "disable"
		}
		c.mu.Lock()
		w := c.disabled[name]
		if disabled {
			w[0] = time.Now()
		} else {
			w[1] = time.Now()
		}
		c.disabled[name] = w
		c.mu.Unlock()
		var errs []string
		for _, in := range c.instances {
			if err := in.manage(ctx, http.MethodPost, "credentials/"+name+"/"+verb, nil); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("%s", strings.Join(errs, "; "))
		}
		return nil
	}
}

// killRedis crashes Redis. Writes are paused first, so that the usage
// records its list holds when it dies are known: they are gone with it
// (it restarts empty), by the operator's choice of a Redis without
// persistence, and the report counts them apart. The instances' writes
// meanwhile wait, and fail when it dies, as they would have a moment later.
func (c *chaos) killRedis(context.Context) error {
	var err error
	n := int64(-1)
	if reply := c.redis.Do("CLIENT", "PAUSE", "30000", "WRITE"); reply != "OK" {
		err = fmt.Errorf("pausing redis writes: %q", reply)
	} else if reply = c.redis.Do("LLEN", "usage"); reply != "" {
		if n, err = strconv.ParseInt(reply, 10, 64); err != nil {
			n, err = -1, fmt.Errorf("reading the usage list's length: %q", reply)
		}
	}
	c.mu.Lock()
	c.down[0] = time.Now()
	c.atKill = n
	c.mu.Unlock()
	c.redis.Stop()
	return err
}

// usageAtKill is how many usage records Redis held when it was killed, -1
// when unknown (or not killed).
func (c *chaos) usageAtKill() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.atKill
}

func (c *chaos) restartRedis(context.Context) error {
	err := c.redis.Restart()
	c.mu.Lock()
	c.down[1] = time.Now()
	c.mu.Unlock()
	return err
}

// run carries out the schedule over d, and reloads both instances' config
// every reloadEvery, until ctx ends or the schedule and d are done.
func (c *chaos) run(ctx context.Context, d, reloadEvery, outage time.Duration) {
	steps := c.schedule(d, outage)
	reload := time.NewTicker(reloadEvery)
	defer reload.Stop()
	next := 0
	for {
		var wait <-chan time.Time
		if next < len(steps) {
			at := c.start.Add(time.Duration(steps[next].at * float64(d)))
			wait = time.After(time.Until(at))
		} else if time.Since(c.start) >= d {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-reload.C:
			if time.Since(c.start) < d {
				c.reload(ctx)
			}
		case <-wait:
			st := steps[next]
			next++
			c.note(st.what, st.do(ctx))
		case <-time.After(time.Second):
		}
	}
}

// reload loads both instances' config again, one after the other.
func (c *chaos) reload(ctx context.Context) {
	var errs []string
	for _, in := range c.instances {
		if err := in.Load(ctx, c.gw.caddyfile(strings.TrimPrefix(in.Site, "http://"), strings.TrimPrefix(in.Admin, "http://"))); err != nil {
			errs = append(errs, err.Error())
		}
	}
	c.mu.Lock()
	c.reloads++
	c.mu.Unlock()
	if len(errs) > 0 {
		c.note("config reload", fmt.Errorf("%s", strings.Join(errs, "; ")))
	}
}

// clear ends every fault, so the run's end measures an idle gateway.
func (c *chaos) clear() {
	for _, key := range c.keys.byName {
		c.up.setFault(key, faultNone)
	}
}

// disabledAt reports whether an operator had name disabled at t.
func (c *chaos) disabledAt(name string, t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	w, ok := c.disabled[name]
	return ok && !t.Before(w[0]) && (w[1].IsZero() || !t.After(w[1]))
}

// redisDown reports whether t fell in the Redis outage, or in the seconds
// after it the instances take to find Redis and merge their bindings.
func (c *chaos) redisDown(t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.down[0].IsZero() && !t.Before(c.down[0]) && (c.down[1].IsZero() || t.Before(c.down[1].Add(3*time.Second)))
}

// uploadedBy reports whether the uploaded auth file was in place by t
// (the watcher loads it within about two seconds).
func (c *chaos) uploadedBy(t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.uploaded.IsZero() && t.After(c.uploaded.Add(3*time.Second))
}
