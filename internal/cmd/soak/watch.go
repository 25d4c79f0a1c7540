package main

import (
	"context"
	"sync"
	"time"
)

// slack is how far from a poll a credential's state is taken to hold: the
// watcher polls every second.
const slack = 1500 * time.Millisecond

// span is a stretch of time a credential was seen unavailable.
type span struct {
	from, to time.Time
	state    string
}

// watcher polls both instances' credential states through the management
// API, so the report can tell a conversation that moved because its
// credential was out from one that lost its binding.
type watcher struct {
	instances []*instance

	mu    sync.Mutex
	spans map[string][]span // credential → when it was unavailable, oldest first
}

func (w *watcher) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		for _, in := range w.instances {
			states, err := in.credentialStates(ctx)
			if err != nil {
				continue
			}
			now := time.Now()
			w.mu.Lock()
			for name, state := range states {
				if state != "" {
					w.add(name, state, now)
				}
			}
			w.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *watcher) add(name, state string, now time.Time) {
	ss := w.spans[name]
	if n := len(ss); n > 0 && ss[n-1].state == state && now.Sub(ss[n-1].to) <= slack {
		ss[n-1].to = now
		return
	}
	w.spans[name] = append(ss, span{from: now, to: now, state: state})
}

// unavailable returns the state name was seen in around t ("" when it was
// available as far as the polls saw).
func (w *watcher) unavailable(name string, t time.Time) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	ss := w.spans[name]
	for i := len(ss) - 1; i >= 0; i-- {
		if !t.Before(ss[i].from.Add(-slack)) && !t.After(ss[i].to.Add(slack)) {
			return ss[i].state
		}
	}
	return ""
}
