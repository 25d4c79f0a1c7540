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

// body is a request body held in memory for inspection and replay.
type body struct {
	// raw is what the client sent, forwarded unchanged to every attempt.
	raw *bytes.Buffer
	// decoded is raw without its Content-Encoding, for inspection only; it
	// is raw itself when the body is not encoded.
	decoded *bytes.Buffer
}

// release returns the inspection buffer to the pool. The raw buffer is
// not pooled: Go's transport may still be reading a request body after
// RoundTrip returned (an upstream that answered before reading it all), and
// a reused buffer would send another request's bytes.
func (b *body) release() {
	if b.decoded != b.raw {
		putBuffer(b.decoded)
	}
	b.raw, b.decoded = nil, nil
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

// readBody reads r's body, at most limit bytes, and decodes a gzip or zstd
// Content-Encoding into a second buffer, also capped at limit, so a small
// compressed body cannot expand without bound.
func readBody(r *http.Request, limit int64) (*body, error) {
	if r.ContentLength > limit {
		return nil, errBodyTooLarge
	}
	b := &body{raw: new(bytes.Buffer)}
	if r.ContentLength > 0 {
		b.raw.Grow(int(r.ContentLength))
	}
	if r.Body != nil {
		n, err := b.raw.ReadFrom(io.LimitReader(r.Body, limit+1))
		if err != nil {
			return nil, fmt.Errorf("reading request body: %w", err)
		}
		if n > limit {
			return nil, errBodyTooLarge
		}
	}
	b.decoded = b.raw
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	if enc == "" || enc == "identity" || b.raw.Len() == 0 {
		return b, nil
	}
	decoded, err := decode(enc, b.raw.Bytes(), limit)
	if err != nil {
		return nil, err
	}
	b.decoded = decoded
	return b, nil
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
