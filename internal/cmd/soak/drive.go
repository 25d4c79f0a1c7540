package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// turn is one request of a conversation, as the client and the upstream
// saw it.
type turn struct {
	Conv     string
	Kind     string
	N        int
	Instance string
	Start    time.Time
	Total    time.Duration // until the answer was read to its end
	Answer   answer
	Attempts []attempt
	Served   string // the credential that answered, when one did
}

func (t *turn) ok() bool { return t.Answer.failure == "" }

// driver holds the conversations open and records every turn.
type driver struct {
	cfg       config
	instances []*instance
	up        *upstream
	keys      *keyring
	client    *http.Client
	deadline  time.Time

	mu    sync.Mutex
	turns []turn
	convs int

	seq atomic.Int64
	// resent counts requests the client sent again because the gateway
	// closed the idle connection they went out on (a config reload)
	resent atomic.Int64
}

func newDriver(cfg config, instances []*instance, up *upstream, keys *keyring, deadline time.Time) *driver {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 1000
	tr.MaxIdleConnsPerHost = 500
	return &driver{cfg: cfg, instances: instances, up: up, keys: keys, client: &http.Client{Transport: tr}, deadline: deadline}
}

// start holds cfg's conversations open until the deadline; wait for them
// with the returned WaitGroup.
func (d *driver) start(ctx context.Context) *sync.WaitGroup {
	var wg sync.WaitGroup
	slot := 0
	for _, k := range []struct {
		kind string
		n    int
	}{{kindClaude, d.cfg.Claude}, {kindResponses, d.cfg.Responses}, {kindGemini, d.cfg.Gemini}} {
		for range k.n {
			wg.Add(1)
			go func(kind string, slot int) {
				defer wg.Done()
				d.hold(ctx, kind, slot)
			}(k.kind, slot)
			slot++
		}
	}
	return &wg
}

// hold keeps a conversation of kind going in slot: when one ends after its
// turns, the next begins, for the same member.
func (d *driver) hold(ctx context.Context, kind string, slot int) {
	rng := rand.New(rand.NewPCG(uint64(slot), 0x50a4))
	member := 1 + slot%d.cfg.Members
	think := func() time.Duration {
		return time.Duration((0.5 + rng.Float64()) * float64(d.cfg.Think))
	}
	// spread the first turns over two pauses rather than all at once
	if !sleep(ctx, time.Duration(rng.Float64()*2*float64(d.cfg.Think))) {
		return
	}
	for n := 0; d.running(ctx); n++ {
		c := newConversation(fmt.Sprintf("%s%d.%d", strings.ToLower(kind[:1]), slot, n), kind, member, rng.IntN(1000))
		d.mu.Lock()
		d.convs++
		d.mu.Unlock()
		for i, turns := 1, 6+rng.IntN(25); i <= turns && d.running(ctx); i++ {
			t := d.turn(ctx, c, i, rng)
			if !t.ok() {
				// the member asks again, after a pause
				if !sleep(ctx, think()) {
					return
				}
				continue
			}
			c.next(t.Answer.text, rng.IntN(1000))
			if !sleep(ctx, think()) {
				return
			}
		}
	}
}

func (d *driver) running(ctx context.Context) bool {
	return ctx.Err() == nil && time.Now().Before(d.deadline)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// turn sends c's next turn through one of the instances, as a load
// balancer would pick it, and reads the answer.
func (d *driver) turn(ctx context.Context, c *conversation, n int, rng *rand.Rand) turn {
	in := d.instances[rng.IntN(len(d.instances))]
	id := fmt.Sprintf("%s/%d/%d", c.id, n, d.seq.Add(1))
	t := turn{Conv: c.id, Kind: c.kind, N: n, Instance: in.name, Start: time.Now()}
	tctx, cancel := context.WithTimeout(ctx, d.cfg.TurnTimeout)
	defer cancel()
	for try := 0; ; try++ {
		req, err := c.request(tctx, in.Site, id)
		if err == nil {
			var res *http.Response
			if res, err = d.client.Do(req); err == nil {
				t.Answer = c.read(res, t.Start)
				res.Body.Close()
			}
		}
		if err == nil {
			break
		}
		// a keep-alive connection the gateway closed as the request went
		// out on it (a reload closes idle connections, and the old
		// server closes each of its connections as its answer ends): no
		// answer, no upstream request. The providers' SDKs retry a
		// connection error (twice, by default, after 0.5 s and 1 s with
		// jitter), and so does this client; retried at once, a request
		// may meet another connection the old server is closing
		if try < 2 && tctx.Err() == nil && !d.up.seen(id) {
			d.resent.Add(1)
			backoff := time.Duration(float64(500*time.Millisecond<<try) * (0.75 + rng.Float64()/4))
			if sleep(tctx, backoff) {
				continue
			}
		}
		t.Answer.failure = "request failed: " + shortErr(err)
		break
	}
	t.Total = time.Since(t.Start)
	t.Attempts = d.up.take(id)
	if t.ok() && len(t.Attempts) > 0 {
		t.Served = d.keys.byKey[t.Attempts[len(t.Attempts)-1].Key]
	}
	d.mu.Lock()
	d.turns = append(d.turns, t)
	d.mu.Unlock()
	return t
}
