package executor

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// errFirstEventTimeout is an attempt whose upstream sent neither a complete
// first event nor a first body byte within the first-event timeout.
var errFirstEventTimeout = errors.New("upstream sent nothing within first_event_timeout")

// errHeaderTimeout is an attempt of a streamed request whose upstream sent
// no response headers within the stream-header timeout. It is a kind of
// errFirstEventTimeout: the attempt is given up the same way.
var errHeaderTimeout error = headerTimeoutError{}

type headerTimeoutError struct{}

func (headerTimeoutError) Error() string {
	return "upstream sent no response headers within stream_header_timeout"
}

func (headerTimeoutError) Is(target error) bool { return target == errFirstEventTimeout }

// silentMessage names what an attempt given up by its clock lacked, for
// the credential's last error and the logs.
func silentMessage(err error) string {
	if errors.Is(err, errHeaderTimeout) {
		return "no response headers within stream_header_timeout"
	}
	return "no first event within first_event_timeout"
}

// The states of a firstEventClock.
const (
	waitingFirst int32 = iota
	gotFirst
	timedOut
	waitingHeader
)

// firstEventClock times an attempt from the moment its request is sent to
// its answer's first complete event (an event stream) or first body byte
// (anything else), and, for a streamed request, to its answer's headers.
// When a time passes first, it calls its expire function once, from its
// own goroutine; nothing of the answer goes to the client after that.
type firstEventClock struct {
	// mu guards the timers and what arm looks at: a body sent as it
	// arrives arms the clock from the goroutine sending it
	mu      sync.Mutex
	timer   *time.Timer // the first event's; nil without a bound
	header  *time.Timer // the headers'; nil without a bound
	stopped bool        // the attempt is over: arm arms nothing
	headed  bool        // the headers came: arm sets no bound for them
	state   atomic.Int32
	// headerLate says the headers were what did not come in time.
	headerLate atomic.Bool
	// seen is set once the first event arrived in time; only the proxy's
	// goroutine reads and writes it, so later writes cost no atomic.
	seen bool
}

// startFirstEventClock starts a clock of d that calls expire when d passes
// before the first event.
func startFirstEventClock(d time.Duration, expire func()) *firstEventClock {
	return startAttemptClock(d, 0, expire)
}

// startAttemptClock starts a clock that calls expire when first passes
// before the first event, or header before the answer's headers (0: no
// such bound). A header bound past the first event's is moot.
func startAttemptClock(first, header time.Duration, expire func()) *firstEventClock {
	c := new(firstEventClock)
	c.arm(first, header, expire)
	return c
}

// arm starts the clock's bounds (see startAttemptClock) on a clock made
// unarmed, for an attempt whose body is sent as it arrives: its upstream
// answers once it has the body, so the wait for the answer starts when the
// last of it was sent, not while the client uploads. What already came,
// or an attempt already over, arms nothing.
func (c *firstEventClock) arm(first, header time.Duration, expire func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped || c.state.Load() != waitingFirst {
		return
	}
	if header > 0 && !c.headed && (first <= 0 || header < first) {
		c.state.Store(waitingHeader)
		c.header = time.AfterFunc(header, func() {
			if c.state.CompareAndSwap(waitingHeader, timedOut) {
				c.headerLate.Store(true)
				expire()
			}
		})
	}
	if first > 0 {
		c.timer = time.AfterFunc(first, func() {
			if c.state.CompareAndSwap(waitingFirst, timedOut) || c.state.CompareAndSwap(waitingHeader, timedOut) {
				expire()
			}
		})
	}
}

// headers notes that the answer's headers arrived and reports whether they
// came in time. A nil clock never runs out.
func (c *firstEventClock) headers() bool {
	if c == nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.headed = true
	if c.header != nil {
		c.header.Stop()
		if c.state.CompareAndSwap(waitingHeader, waitingFirst) {
			return true
		}
	}
	return c.state.Load() != timedOut
}

// arrived notes that the first event or bytes arrived and reports whether
// they came in time. A nil clock never runs out.
func (c *firstEventClock) arrived() bool {
	if c == nil || c.seen {
		return true
	}
	c.stop()
	if !c.state.CompareAndSwap(waitingFirst, gotFirst) && !c.state.CompareAndSwap(waitingHeader, gotFirst) {
		return false
	}
	c.seen = true
	return true
}

// expired reports whether the time ran out before the first event.
func (c *firstEventClock) expired() bool {
	return c != nil && c.state.Load() == timedOut
}

// err is why an expired clock gave its attempt up.
func (c *firstEventClock) err() error {
	if c.headerLate.Load() {
		return errHeaderTimeout
	}
	return errFirstEventTimeout
}

// stop ends the clock when the attempt is over, whatever came.
func (c *firstEventClock) stop() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.header != nil {
		c.header.Stop()
	}
}
