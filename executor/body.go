package executor

import (
	"bytes"
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

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// pooledBufferLimit keeps an occasional huge body from pinning its buffer
// in the pool forever.
const pooledBufferLimit = 4 << 20

func getBuffer() *bytes.Buffer { return bufferPool.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b == nil || b.Cap() > pooledBufferLimit {
		return
	}
	b.Reset()
	bufferPool.Put(b)
}

// body is a request body held in memory for inspection and replay. Its
// buffers come from a pool and go back to it once the request is done with
// them and every attempt's reader has been closed: Go's transport may still
// be reading a request body after RoundTrip returned (an upstream that
// answered before reading it all), and a buffer reused before then would
// send another request's bytes.
type body struct {
	// raw is what the client sent, forwarded unchanged to every attempt.
	raw *bytes.Buffer
	// decoded is raw without its Content-Encoding, for inspection only; it
	// is raw itself when the body is not encoded.
	decoded *bytes.Buffer

	// refs counts the request's own hold plus one per reader not yet
	// closed; the last one out pools the buffers.
	refs     atomic.Int32
	released bool
	// rawBuf and decodedBuf keep the buffers for the last one out after
	// release has cleared raw and decoded.
	rawBuf, decodedBuf *bytes.Buffer
}

func newBody(raw *bytes.Buffer) *body {
	b := &body{raw: raw, decoded: raw, rawBuf: raw, decodedBuf: raw}
	b.refs.Store(1)
	return b
}

// release ends the request's hold on the body: bytes and inspect return
// nil from then on, and the buffers go back to the pool when no attempt
// reads them any more. It may be called more than once, and on nil.
func (b *body) release() {
	if b == nil || b.released {
		return
	}
	b.released = true
	b.raw, b.decoded = nil, nil
	b.unref()
}

func (b *body) unref() {
	if b.refs.Add(-1) != 0 {
		return
	}
	if b.decodedBuf != b.rawBuf {
		putBuffer(b.decodedBuf)
	}
	putBuffer(b.rawBuf)
	b.rawBuf, b.decodedBuf = nil, nil
}

// bytes is the body as sent.
func (b *body) bytes() []byte {
	if b.raw == nil {
		return nil
	}
	return b.raw.Bytes()
}

// inspect is the decoded body.
func (b *body) inspect() []byte {
	if b.decoded == nil {
		return nil
	}
	return b.decoded.Bytes()
}

// reader returns a reader of the body as sent, for one attempt. The
// buffers stay out of the pool until it is closed, which the transport
// does once it is done with the request body.
func (b *body) reader() io.ReadCloser {
	b.refs.Add(1)
	return &bodyReader{b: b, rest: b.bytes()}
}

// bodyReader reads a pooled body. Go's transport may close a request body
// from another goroutine while it is still being read; the lock makes sure
// no read copies from a buffer that has gone back to the pool.
type bodyReader struct {
	mu     sync.Mutex
	b      *body
	rest   []byte
	closed bool
}

func (r *bodyReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if len(r.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
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

// readBody reads r's body, at most limit bytes, and decodes a gzip or zstd
// Content-Encoding into a second buffer, also capped at limit, so a small
// compressed body cannot expand without bound. The client has timeout to
// send it (none if 0): then it is refused with errBodyTimeout.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, timeout time.Duration) (*body, error) {
	if r.ContentLength > limit {
		return nil, errBodyTooLarge
	}
	raw := getBuffer()
	if r.Body != nil {
		deadline := bodyDeadline(w, timeout)
		err := readRaw(raw, r.Body, r.ContentLength, limit)
		clearBodyDeadline(w, deadline)
		if err != nil {
			putBuffer(raw)
			if bodyTimedOut(err, deadline) {
				return nil, errBodyTimeout
			}
			return nil, err
		}
	}
	b := newBody(raw)
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	if enc == "" || enc == "identity" || raw.Len() == 0 {
		return b, nil
	}
	decoded, err := decode(enc, raw.Bytes(), limit)
	if err != nil {
		b.release()
		return nil, err
	}
	b.decoded, b.decodedBuf = decoded, decoded
	return b, nil
}

// firstGrowth is the room a body buffer is first given, unless the
// declared length is smaller.
const firstGrowth = 16 << 10

// readRaw reads src into buf, at most limit bytes. The buffer grows as
// bytes arrive, doubling, never from the declared length alone: a client
// that declares 31 MB and sends one byte must not make the gateway hold 31
// MB. The declared length still caps each step, so a body that arrives as
// declared ends in a buffer of its size, not its double.
func readRaw(buf *bytes.Buffer, src io.Reader, declared, limit int64) error {
	for {
		if buf.Available() < bytes.MinRead {
			grow(buf, declared, limit)
		}
		// a byte past the limit is enough to know the body is too large
		room := buf.AvailableBuffer()[:min(int64(buf.Available()), limit+1-int64(buf.Len()))]
		n, err := src.Read(room)
		buf.Write(room[:n]) // the bytes are in place already: this only extends buf
		if int64(buf.Len()) > limit {
			return errBodyTooLarge
		}
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return fmt.Errorf("reading request body: %w", err)
		}
	}
}

// grow gives buf room for more of a body: double its capacity, but no more
// than the declared rest (when the body declared its length) or the limit,
// and the read that finds the end.
func grow(buf *bytes.Buffer, declared, limit int64) {
	want := int64(max(2*buf.Cap(), firstGrowth))
	if rest := declared - int64(buf.Len()); rest > 0 {
		want = min(want, int64(buf.Len())+rest+bytes.MinRead)
	}
	want = min(want, limit+bytes.MinRead)
	want = max(want, int64(buf.Len())+bytes.MinRead)
	grown := make([]byte, buf.Len(), int(want))
	copy(grown, buf.Bytes())
	*buf = *bytes.NewBuffer(grown)
}

var zstdDecoders = sync.Pool{New: func() any {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return err
	}
	return d
}}

func decode(encoding string, raw []byte, limit int64) (*bytes.Buffer, error) {
	var rd io.Reader
	switch encoding {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
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
		if err := d.Reset(bytes.NewReader(raw)); err != nil {
			return nil, fmt.Errorf("decoding zstd request body: %w", err)
		}
		rd = d
	default:
		return nil, errUnsupportedEncoding
	}
	out := getBuffer()
	n, err := out.ReadFrom(io.LimitReader(rd, limit+1))
	if err != nil {
		putBuffer(out)
		return nil, fmt.Errorf("decoding %s request body: %w", encoding, err)
	}
	if n > limit {
		putBuffer(out)
		return nil, errBodyTooLarge
	}
	return out, nil
}
