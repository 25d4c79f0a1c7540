package executor

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
)

// errBodyTooLarge is returned when a body (or its decoded form) is larger
// than the configured maximum.
var errBodyTooLarge = errors.New("request body too large")

// errUnsupportedEncoding is returned for a Content-Encoding the gateway
// cannot decode to inspect.
var errUnsupportedEncoding = errors.New("unsupported content encoding")

// body is a request body held for inspection and replay, in memory or in
// a spool file (see hold). What it holds goes back (buffers to their pool,
// memory to the budget, the spool file away) once the request is done with
// it and every attempt's reader has been closed: Go's transport may still
// be reading a request body after RoundTrip returned (an upstream that
// answered before reading it all), and a buffer reused before then would
// send another request's bytes.
type body struct {
	// raw is what the client sent, forwarded unchanged to every attempt.
	raw *hold
	// decoded is raw without its Content-Encoding, for inspection only; it
	// is raw itself when the body is not encoded.
	decoded *hold

	// src, while the client is still sending, reads the rest of the body
	// for the first attempt as it arrives (see bodySource)
	src *bodySource

	// refs counts the request's own hold plus one per reader not yet
	// closed; the last one out frees the holds.
	refs     atomic.Int32
	released atomic.Bool
}

func newBody(raw *hold) *body {
	b := &body{raw: raw, decoded: raw}
	b.refs.Store(1)
	return b
}

// release ends the request's hold on the body: bytes and inspect return
// nil from then on, and what it holds is freed when no attempt reads it
// any more. It may be called more than once, and on nil.
func (b *body) release() {
	if b == nil || b.released.Swap(true) {
		return
	}
	if b.src != nil {
		b.src.stop()
	}
	b.unref()
}

func (b *body) unref() {
	if b.refs.Add(-1) != 0 {
		return
	}
	if b.src != nil {
		// a read of the client's body may be under way
		b.src.mu.Lock()
		defer b.src.mu.Unlock()
	}
	if b.decoded != b.raw {
		b.decoded.free()
	}
	b.raw.free()
}

// complete reports whether the whole body is held.
func (b *body) complete() bool { return b.src == nil || b.src.finished() }

// bytes is the body as sent; nil once released, or while it is still
// arriving.
func (b *body) bytes() []byte {
	if b.released.Load() || !b.complete() {
		return nil
	}
	return b.raw.bytes()
}

// inspect is the decoded body; nil once released, or while it is still
// arriving.
func (b *body) inspect() []byte {
	if b.released.Load() || !b.complete() {
		return nil
	}
	return b.decoded.bytes()
}

// size is the length of the body as sent; -1 while unknown.
func (b *body) size() int64 {
	if !b.complete() {
		return b.src.declared
	}
	return b.raw.Len()
}

// reader returns a reader of the body as sent, for one attempt: the first
// attempt of a body still arriving reads it as it arrives; any other
// reads the held copy, which must be complete (see wait). What the body
// holds stays until the reader is closed, which the transport does once it
// is done with the request body.
func (b *body) reader() io.ReadCloser {
	b.refs.Add(1)
	if !b.complete() && b.src.claim() {
		return &teeReader{s: b.src}
	}
	return &bodyReader{b: b, rest: b.raw.openReader()}
}

// bodyReader reads a held body. Go's transport may close a request body
// from another goroutine while it is still being read; the lock makes sure
// no read copies from a buffer that has been freed.
type bodyReader struct {
	mu     sync.Mutex
	b      *body
	rest   io.Reader
	closed bool
}

func (r *bodyReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	return r.rest.Read(p)
}

func (r *bodyReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed, r.rest = true, nil
	r.b.unref()
	return nil
}

// bodyConfig is how a request body is read and held.
type bodyConfig struct {
	// limit is the largest body accepted
	limit int64
	// timeout is how long the client has to send it; 0: no bound
	timeout time.Duration
	// budget and dir are where the body is held (see hold)
	budget *BodyBudget
	dir    string
}

// readBody reads r's body whole, at most cfg.limit bytes, and decodes a
// gzip or zstd Content-Encoding into a second hold, also capped at the
// limit, so a small compressed body cannot expand without bound. The
// client has cfg.timeout to send it (none if 0): then it is refused with
// errBodyTimeout.
func readBody(w http.ResponseWriter, r *http.Request, cfg bodyConfig) (*body, error) {
	return openBody(w, r, cfg, nil)
}

// openBody reads r's body like readBody, unless stream says the first
// attempt may take it as it arrives: then openBody reads only the start,
// until the scan found the model, and returns a body whose rest arrives
// through its first reader (see bodySource).
func openBody(w http.ResponseWriter, r *http.Request, cfg bodyConfig, stream func(*modelScan) bool) (*body, error) {
	if r.ContentLength > cfg.limit {
		return nil, errBodyTooLarge
	}
	raw := newHold(cfg.budget, cfg.dir)
	b := newBody(raw)
	if r.Body != nil {
		deadline := bodyDeadline(w, cfg.timeout)
		var err error
		if stream != nil {
			var streaming bool
			if streaming, err = b.readStart(w, r, cfg, deadline, stream); streaming && err == nil {
				return b, nil
			}
		}
		if err == nil {
			err = raw.readFrom(r.Body, r.ContentLength, cfg.limit)
		}
		clearBodyDeadline(w, deadline)
		if err != nil {
			b.release()
			if bodyTimedOut(err, deadline) {
				return nil, errBodyTimeout
			}
			return nil, err
		}
	}
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	if enc == "" || enc == "identity" || raw.Len() == 0 {
		return b, nil
	}
	decoded, err := decode(enc, raw.openReader(), cfg)
	if err != nil {
		b.release()
		return nil, err
	}
	b.decoded = decoded
	return b, nil
}

// firstGrowth is the room a body buffer is first given, unless the
// declared length is smaller.
const firstGrowth = 16 << 10

var zstdDecoders = sync.Pool{New: func() any {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return err
	}
	return d
}}

func decode(encoding string, raw io.Reader, cfg bodyConfig) (*hold, error) {
	var rd io.Reader
	switch encoding {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return nil, fmt.Errorf("decoding gzip request body: %w", err)
		}
		rd = zr
	case "zstd":
		v := zstdDecoders.Get()
		d, ok := v.(*zstd.Decoder)
		if !ok {
			return nil, fmt.Errorf("decoding zstd request body: %v", v)
		}
		defer zstdDecoders.Put(d)
		if err := d.Reset(raw); err != nil {
			return nil, fmt.Errorf("decoding zstd request body: %w", err)
		}
		rd = d
	default:
		return nil, errUnsupportedEncoding
	}
	out := newHold(cfg.budget, cfg.dir)
	if err := out.readFrom(rd, -1, cfg.limit); err != nil {
		out.free()
		if errors.Is(err, errBodyTooLarge) {
			return nil, err
		}
		return nil, fmt.Errorf("decoding %s request body: %w", encoding, err)
	}
	return out, nil
}
