package executor

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddy-cliproxy/cliproxy/session"
)

// streamPrefix bounds the start of a body read before its first attempt
// may go upstream: the model (and so the credential) must be known by
// then. Clients put the model first or near it; a body that names it
// later is read whole before any attempt.
const streamPrefix = 64 << 10

// bodySource reads the client's body while the first attempt sends it:
// each read for the attempt keeps its bytes in the body's hold (for a
// replay) and runs them through the model scan (a second "model" stops
// the body before its end reaches the upstream). A replay waits until the
// whole body is held (wait). One read of the client's body runs at a
// time, under mu.
type bodySource struct {
	b        *body
	mu       sync.Mutex
	src      io.Reader
	declared int64 // the client's Content-Length, -1 when it declared none
	limit    int64
	scan     modelScan
	w        http.ResponseWriter
	deadline time.Time // of the client's body, zero for none
	model    string    // what the start of the body named
	start    int64     // bytes read before the first attempt began

	read   int64                 // bytes read from the client
	err    error                 // why the body failed, kept for every later read
	failed atomic.Pointer[error] // err, for the request to look at without mu

	// sent, if set, is called once the client's body was read to its
	// end (see onSent)
	sent func()

	done     atomic.Bool // the client's body was read to its end
	claimed  atomic.Bool // the first attempt has its reader
	detached atomic.Bool // the first attempt's reader gets no more bytes
}

// readStart reads the start of the body, until the scan has found the
// model (or streamPrefix bytes). It reports whether the first attempt may
// take the rest as it arrives (stream decides, given the scan); the
// caller reads the rest itself otherwise.
func (b *body) readStart(w http.ResponseWriter, r *http.Request, cfg bodyConfig, deadline time.Time, stream func(*modelScan) bool) (bool, error) {
	s := &bodySource{b: b, src: r.Body, declared: r.ContentLength, limit: cfg.limit, w: w, deadline: deadline}
	scratch := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(scratch)
	for s.read < streamPrefix && !s.scan.settled() && !s.done.Load() {
		if _, err := s.next(*scratch); errors.Is(err, io.EOF) {
			return false, nil
		} else if err != nil {
			return false, err
		}
	}
	if s.done.Load() || !stream(&s.scan) {
		return false, nil
	}
	s.model, s.start = s.scan.model, s.read
	b.src = s
	return true, nil
}

// next reads the next bytes of the client's body into p, keeps them and
// scans them. A body that fails (too large, too slow, broken off, a second
// model) gives its error to every later read, and the bytes of the read
// that failed are not handed on. Caller holds mu, or is the only reader.
func (s *bodySource) next(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.done.Load() {
		return 0, io.EOF
	}
	// a byte past the limit is enough to know the body is too large
	p = p[:min(int64(len(p)), s.limit+1-s.read)]
	n, err := s.src.Read(p)
	if n > 0 {
		s.read += int64(n)
		if s.read > s.limit {
			return 0, s.fail(errBodyTooLarge)
		}
		if !s.b.released.Load() {
			if werr := s.b.raw.write(p[:n], s.declared, s.limit); werr != nil {
				return 0, s.fail(werr)
			}
		}
		if serr := s.scan.feed(p[:n]); serr != nil {
			return 0, s.fail(serr)
		}
	}
	switch {
	case err == io.EOF:
		clearBodyDeadline(s.w, s.deadline)
		if !s.b.released.Load() {
			if werr := s.b.raw.unstage(); werr != nil {
				return 0, s.fail(werr)
			}
		}
		s.done.Store(true)
		if s.sent != nil {
			s.sent()
		}
	case err != nil:
		if bodyTimedOut(err, s.deadline) {
			return 0, s.fail(errBodyTimeout)
		}
		return 0, s.fail(fmt.Errorf("reading request body: %w", err))
	}
	return n, err
}

func (s *bodySource) fail(err error) error {
	s.err = err
	s.failed.Store(&err)
	clearBodyDeadline(s.w, s.deadline)
	return err
}

// onSent calls f once the client's body was read to its end (by the first
// attempt, or by a wait for a replay). It is set before the first attempt
// reads.
func (s *bodySource) onSent(f func()) { s.sent = f }

// finished reports whether the client's body was read to its end.
func (s *bodySource) finished() bool { return s.done.Load() }

// claim gives the first attempt its reader, once.
func (s *bodySource) claim() bool { return !s.claimed.Swap(true) }

// wait reads what is left of the client's body into the hold, for a
// replay or the request log: the first attempt's reader gets nothing
// more.
func (s *bodySource) wait() error {
	s.detached.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	scratch := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(scratch)
	for {
		if _, err := s.next(*scratch); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// stop lifts the body's read deadline when the request lets the body go
// before it arrived whole.
func (s *bodySource) stop() {
	if !s.done.Load() {
		clearBodyDeadline(s.w, s.deadline)
	}
}

// teeReader is the first attempt's reader of a body still arriving: the
// start read before the attempt began, from the hold, then the rest as it
// arrives.
type teeReader struct {
	s      *bodySource
	sent   int64 // of the start
	closed atomic.Bool
}

func (t *teeReader) Read(p []byte) (int, error) {
	if t.closed.Load() || t.s.detached.Load() {
		return 0, http.ErrBodyReadAfterClose
	}
	t.s.mu.Lock()
	if t.closed.Load() {
		// closed while this read waited for the lock: the close may
		// have freed the hold (it frees under the lock)
		t.s.mu.Unlock()
		return 0, http.ErrBodyReadAfterClose
	}
	var n int
	var err error
	if t.sent < t.s.start {
		n, err = t.s.b.raw.readAt(p[:min(int64(len(p)), t.s.start-t.sent)], t.sent)
		t.sent += int64(n)
	} else {
		n, err = t.s.next(p)
	}
	t.s.mu.Unlock()
	if t.s.detached.Load() {
		// the request took the rest for a replay: this attempt is over
		return 0, http.ErrBodyReadAfterClose
	}
	return n, err
}

func (t *teeReader) Close() error {
	if !t.closed.Swap(true) {
		t.s.b.unref()
	}
	return nil
}

// wait makes sure the whole body is held, reading what is left of it.
func (b *body) wait() error {
	if b == nil || b.src == nil {
		return nil
	}
	return b.src.wait()
}

// ready makes sure the next attempt can have the body: a body whose
// first attempt has been sent (or is being sent) as it arrives is held
// whole first, for a replay, and so is any when whole says the attempt
// needs it whole (to rewrite it).
func (b *body) ready(whole bool) error {
	if b == nil || b.src == nil || (!whole && !b.src.claimed.Load()) {
		return nil
	}
	return b.src.wait()
}

// failed is why a body that arrived while the first attempt sent it could
// not be read whole; nil for any other body.
func (b *body) failed() error {
	if b == nil || b.src == nil {
		return nil
	}
	if err := b.src.failed.Load(); err != nil {
		return *err
	}
	return nil
}

// streamable is the test of whether r's first attempt may send its body as
// it arrives, nil when it may not: the body must be sent as it is (no
// Content-Encoding to decode for inspection), its model named in the body
// (a Gemini model is in the path, and its body is read whole), and the
// session known without the body (no affinity, or a session header that
// outranks every body source), and the body not declared to be small. The
// test then asks that the start of the body named the model.
func (e *Executor) streamable(r *http.Request, route Route) func(*modelScan) bool {
	if enc := strings.TrimSpace(r.Header.Get("Content-Encoding")); enc != "" && !strings.EqualFold(enc, "identity") {
		return nil
	}
	if route.Model != "" || (e.opts.Affinity != nil && session.ReadsBody(r.Header)) {
		return nil
	}
	if r.ContentLength >= 0 && r.ContentLength <= streamPrefix {
		// a small body arrives in a few reads: sending it as it arrives
		// gains nothing, and costs (the bench's 50 KB rows lost a fifth
		// of their throughput)
		return nil
	}
	return func(m *modelScan) bool { return m.found }
}
