package executor

import (
	"errors"
	"sync/atomic"
	"time"
)

// errFirstEventTimeout is an attempt whose upstream sent neither a complete
// first event nor a first body byte within the first-event timeout.
var errFirstEventTimeout = errors.New("upstream sent nothing within first_event_timeout")

// The states of a firstEventClock.
const (
	waitingFirst int32 = iota
	gotFirst
	timedOut
)

// firstEventClock times an attempt from the moment its request is sent to
// its answer's first complete event (an event stream) or first body byte
// (anything else). When the time passes first, it calls its expire
// function once, from its own goroutine; nothing of the answer goes to the
// client after that.
type firstEventClock struct {
	timer *time.Timer
	state atomic.Int32
	// seen is set once the first event arrived in time; only the proxy's
	// goroutine reads and writes it, so later writes cost no atomic.
	seen bool
}

// startFirstEventClock starts a clock of d that calls expire when d passes
// before the first event.
func startFirstEventClock(d time.Duration, expire func()) *firstEventClock {
	c := new(firstEventClock)
	c.timer = time.AfterFunc(d, func() {
		if c.state.CompareAndSwap(waitingFirst, timedOut) {
			expire()
		}
	})
	return c
}

// arrived notes that the first event or bytes arrived and reports whether
// they came in time. A nil clock never runs out.
func (c *firstEventClock) arrived() bool {
	if c == nil || c.seen {
		return true
	}
	c.timer.Stop()
	if !c.state.CompareAndSwap(waitingFirst, gotFirst) {
		return false
	}
	c.seen = true
	return true
}

// expired reports whether the time ran out before the first event.
func (c *firstEventClock) expired() bool {
	return c != nil && c.state.Load() == timedOut
}

// stop ends the clock when the attempt is over, whatever came.
func (c *firstEventClock) stop() {
	if c != nil {
		c.timer.Stop()
	}
}
