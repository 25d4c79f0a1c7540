package executor

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func gzipped(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func zstded(t testing.TB, data []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	defer enc.Close()
	return enc.EncodeAll(data, nil)
}

// bodyRequest is a POST whose body is data, with Content-Length set unless
// chunked is true.
func bodyRequest(data []byte, encoding string, chunked bool) *http.Request {
	var rd io.Reader = bytes.NewReader(data)
	if chunked {
		rd = io.MultiReader(rd) // hides the length from httptest
	}
	r := httptest.NewRequest(http.MethodPost, "/v1/messages", rd)
	if chunked {
		r.ContentLength = -1
	}
	if encoding != "" {
		r.Header.Set("Content-Encoding", encoding)
	}
	return r
}

func TestReadBody(t *testing.T) {
	const limit = 1 << 10
	jsonBody := []byte(`{"model":"claude-opus-4-1","max_tokens":1,"messages":[]}`)
	atLimit := bytes.Repeat([]byte("x"), limit)
	overLimit := bytes.Repeat([]byte("x"), limit+1)
	zeros := make([]byte, 64*limit)

	tests := []struct {
		name     string
		data     []byte
		encoding string
		chunked  bool
		wantErr  error  // nil for success
		anyErr   bool   // some error that is neither of the sentinels
		inspect  []byte // the decoded body on success
	}{
		{"plain", jsonBody, "", false, nil, false, jsonBody},
		{"empty", nil, "", false, nil, false, []byte{}},
		{"exactly the limit", atLimit, "", false, nil, false, atLimit},
		{"exactly the limit, chunked", atLimit, "", true, nil, false, atLimit},
		{"one byte over, with Content-Length", overLimit, "", false, errBodyTooLarge, false, nil},
		{"one byte over, chunked", overLimit, "", true, errBodyTooLarge, false, nil},
		{"identity", jsonBody, "identity", false, nil, false, jsonBody},
		{"gzip", gzipped(t, jsonBody), "gzip", false, nil, false, jsonBody},
		{"x-gzip", gzipped(t, jsonBody), "x-gzip", false, nil, false, jsonBody},
		{"GZIP upper case", gzipped(t, jsonBody), " GZIP ", false, nil, false, jsonBody},
		{"gzip chunked", gzipped(t, jsonBody), "gzip", true, nil, false, jsonBody},
		{"zstd", zstded(t, jsonBody), "zstd", false, nil, false, jsonBody},
		{"gzip decoding to exactly the limit", gzipped(t, atLimit), "gzip", false, nil, false, atLimit},
		{"zstd decoding to exactly the limit", zstded(t, atLimit), "zstd", false, nil, false, atLimit},
		{"gzip decoding one byte over", gzipped(t, overLimit), "gzip", false, errBodyTooLarge, false, nil},
		{"gzip bomb", gzipped(t, zeros), "gzip", false, errBodyTooLarge, false, nil},
		{"zstd bomb", zstded(t, zeros), "zstd", false, errBodyTooLarge, false, nil},
		{"encoded body over the limit", overLimit, "gzip", false, errBodyTooLarge, false, nil},
		{"brotli unsupported", []byte("\x0b\x02\x80{}\x03"), "br", false, errUnsupportedEncoding, false, nil},
		{"deflate unsupported", []byte("x"), "deflate", false, errUnsupportedEncoding, false, nil},
		{"stacked encodings unsupported", gzipped(t, jsonBody), "gzip, zstd", false, errUnsupportedEncoding, false, nil},
		{"empty body with an encoding", nil, "gzip", false, nil, false, []byte{}},
		{"corrupt gzip", []byte("not gzip at all"), "gzip", false, nil, true, nil},
		{"truncated gzip", gzipped(t, jsonBody)[:20], "gzip", false, nil, true, nil},
		{"corrupt zstd", []byte("not zstd at all"), "zstd", false, nil, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := readBody(nil, bodyRequest(tt.data, tt.encoding, tt.chunked), bodyConfig{limit: limit})
			switch {
			case tt.wantErr != nil:
				require.ErrorIs(t, err, tt.wantErr)
				assert.Nil(t, b)
				return
			case tt.anyErr:
				require.Error(t, err)
				assert.NotErrorIs(t, err, errBodyTooLarge)
				assert.NotErrorIs(t, err, errUnsupportedEncoding)
				assert.Nil(t, b)
				return
			}
			require.NoError(t, err)
			defer b.release()
			assert.Equal(t, len(tt.data), len(b.bytes()))
			if len(tt.data) > 0 {
				assert.Equal(t, tt.data, b.bytes(), "the body is not forwarded as sent")
			}
			assert.Equal(t, string(tt.inspect), string(b.inspect()))
		})
	}
}

// readCounter counts the reads of a body.
type readCounter struct{ n int }

func (r *readCounter) Read(p []byte) (int, error) {
	r.n++
	return 0, io.EOF
}

func TestReadBodyRejectsDeclaredLengthBeforeReading(t *testing.T) {
	body := &readCounter{}
	r := httptest.NewRequest(http.MethodPost, "/v1/messages", body)
	r.ContentLength = 1<<20 + 1
	b, err := readBody(nil, r, bodyConfig{limit: 1 << 20})
	require.ErrorIs(t, err, errBodyTooLarge)
	assert.Nil(t, b)
	assert.Zero(t, body.n, "an oversized body was read before being refused")
}

func TestReadBodyNilBody(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/v1/messages", nil)
	r.Body = nil
	b, err := readBody(nil, r, bodyConfig{limit: 1024})
	require.NoError(t, err)
	defer b.release()
	assert.Empty(t, b.bytes())
	assert.Empty(t, b.inspect())
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

func TestReadBodyReadError(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/v1/messages", io.MultiReader(strings.NewReader(`{"model":`), failingReader{}))
	r.ContentLength = -1
	b, err := readBody(nil, r, bodyConfig{limit: 1024})
	require.Error(t, err)
	assert.Nil(t, b)
	assert.NotErrorIs(t, err, errBodyTooLarge)
	assert.Contains(t, err.Error(), "connection reset by peer")
}

// The decoded view and the raw bytes are separate buffers: inspecting never
// changes what is forwarded.
func TestReadBodyDecodedIsSeparate(t *testing.T) {
	jsonBody := []byte(`{"model":"gpt-4o"}`)
	raw := gzipped(t, jsonBody)
	b, err := readBody(nil, bodyRequest(raw, "gzip", false), bodyConfig{limit: 1024})
	require.NoError(t, err)
	defer b.release()
	require.NotSame(t, b.raw, b.decoded)
	insp := b.inspect()
	for i := range insp {
		insp[i] = 'X'
	}
	assert.Equal(t, raw, b.bytes())
}

func TestBodyRelease(t *testing.T) {
	for _, enc := range []string{"", "gzip"} {
		t.Run("encoding "+enc, func(t *testing.T) {
			data := []byte(`{"model":"m"}`)
			if enc == "gzip" {
				data = gzipped(t, data)
			}
			b, err := readBody(nil, bodyRequest(data, enc, false), bodyConfig{limit: 1024})
			require.NoError(t, err)
			b.release()
			assert.Nil(t, b.bytes(), "released body still readable")
			assert.Nil(t, b.inspect(), "released body still inspectable")
			assert.NotPanics(t, b.release, "a second release panics")
		})
	}
}

// Buffers come from a pool: a body read after another one was released must
// hold only its own bytes.
func TestReadBodyReusedBuffersAreClean(t *testing.T) {
	long := bytes.Repeat([]byte("L"), 4096)
	for range 50 {
		b, err := readBody(nil, bodyRequest(long, "", false), bodyConfig{limit: 8192})
		require.NoError(t, err)
		b.release()
		b2, err := readBody(nil, bodyRequest(gzipped(t, []byte("short")), "gzip", false), bodyConfig{limit: 8192})
		require.NoError(t, err)
		require.Equal(t, "short", string(b2.inspect()))
		b2.release()
		b3, err := readBody(nil, bodyRequest([]byte("tiny"), "", false), bodyConfig{limit: 8192})
		require.NoError(t, err)
		require.Equal(t, "tiny", string(b3.bytes()))
		b3.release()
	}
}

// An attempt's reader keeps the body's buffer out of the pool until the
// transport closes it, even when the request has let the body go: a
// reused buffer would send another request's bytes upstream.
func TestBodyReaderHoldsBufferUntilClosed(t *testing.T) {
	data := bytes.Repeat([]byte("A"), 4096)
	b, err := readBody(nil, bodyRequest(data, "", false), bodyConfig{limit: 8192})
	require.NoError(t, err)
	rd := b.reader()
	b.release()
	assert.Nil(t, b.bytes())

	// other requests take buffers from the pool and fill them meanwhile
	for range 20 {
		other, err := readBody(nil, bodyRequest(bytes.Repeat([]byte("B"), 4096), "", false), bodyConfig{limit: 8192})
		require.NoError(t, err)
		defer other.release()
	}
	got, err := io.ReadAll(rd)
	require.NoError(t, err)
	assert.Equal(t, data, got, "the attempt read bytes that are not its body")
	require.NoError(t, rd.Close())
	require.NoError(t, rd.Close(), "a second close")
	_, err = rd.Read(make([]byte, 1))
	assert.ErrorIs(t, err, http.ErrBodyReadAfterClose)
}

// Each attempt reads the whole body from the start.
func TestBodyReadersReplay(t *testing.T) {
	data := []byte(`{"model":"m","messages":[]}`)
	b, err := readBody(nil, bodyRequest(data, "", false), bodyConfig{limit: 1024})
	require.NoError(t, err)
	defer b.release()
	for range 3 {
		rd := b.reader()
		got, err := io.ReadAll(rd)
		require.NoError(t, err)
		assert.Equal(t, data, got)
		require.NoError(t, rd.Close())
	}
}

// The transport may close a body from another goroutine while reading it;
// with -race this proves the two do not touch the buffer at once.
func TestBodyReaderCloseWhileReading(t *testing.T) {
	b, err := readBody(nil, bodyRequest(bytes.Repeat([]byte("C"), 64<<10), "", false), bodyConfig{limit: 1 << 20})
	require.NoError(t, err)
	rd := b.reader()
	b.release()
	done := readToError(rd)
	require.NoError(t, rd.Close())
	<-done
}

// readToError reads rd in small pieces on another goroutine until a read
// fails, and then closes the channel it returns.
func readToError(rd io.Reader) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		p := make([]byte, 512)
		for {
			if _, err := rd.Read(p); err != nil {
				return
			}
		}
	}()
	return done
}

// oneByteThenStall is a client that declared a long body, sent one byte
// and stopped.
type oneByteThenStall struct{ sent bool }

var errStalled = errors.New("stalled")

func (s *oneByteThenStall) Read(p []byte) (int, error) {
	if s.sent {
		return 0, errStalled
	}
	s.sent = true
	p[0] = '{'
	return 1, nil
}

// The buffer grows with the bytes that arrived, not with the length the
// client declared.
func TestReadRawGrowsAsBytesArrive(t *testing.T) {
	budget := NewBodyBudget(64 << 20)
	h := &hold{budget: budget, buf: new(bytes.Buffer)}
	err := h.readFrom(&oneByteThenStall{}, 31<<20, 32<<20)
	require.ErrorIs(t, err, errStalled)
	assert.Equal(t, 1, h.buf.Len())
	assert.LessOrEqual(t, h.buf.Cap(), firstGrowth+bytes.MinRead, "room was reserved for the declared length")
	assert.LessOrEqual(t, budget.Held(), int64(firstGrowth+bytes.MinRead), "the budget was charged the declared length")
	h.free()
	assert.Zero(t, budget.Held())
}

// A body that arrives as declared ends in a buffer of its size (and the
// read that finds its end, rounded up to the size class of a big buffer),
// not the double that doubling would give. (A pooled buffer that has the
// room already is used as it is.)
func TestReadRawFitsTheDeclaredLength(t *testing.T) {
	for _, size := range []int{0, 1, 300, firstGrowth, 100_000, 3<<20 + 7} {
		h := &hold{buf: new(bytes.Buffer)}
		data := bytes.Repeat([]byte("d"), size)
		require.NoError(t, h.readFrom(iotest.HalfReader(bytes.NewReader(data)), int64(size), 32<<20))
		assert.Equal(t, data, h.bytes())
		assert.LessOrEqual(t, int64(h.buf.Cap()), bufferSize(int64(max(size+bytes.MinRead, firstGrowth))), "size %d", size)
	}
}

// An endless body is cut one byte past the limit.
func TestReadRawStopsPastTheLimit(t *testing.T) {
	h := &hold{buf: new(bytes.Buffer)}
	err := h.readFrom(endless{}, -1, 100_000)
	require.ErrorIs(t, err, errBodyTooLarge)
	assert.Equal(t, 100_001, h.buf.Len())
	assert.LessOrEqual(t, h.buf.Cap(), 100_000+bytes.MinRead)
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'e'
	}
	return len(p), nil
}

// The gateway's own body timeout applies only when the server sets no
// timeouts { read_body }.
func TestBodyReadTimeoutYieldsToTheServers(t *testing.T) {
	e := &Executor{opts: Options{BodyReadTimeout: time.Minute}}
	r := httptest.NewRequest(http.MethodPost, "/v1/messages", nil)
	assert.Equal(t, time.Minute, e.bodyReadTimeout(r), "no server in the context")
	for _, tc := range []struct {
		server caddy.Duration
		want   time.Duration
	}{{0, time.Minute}, {caddy.Duration(time.Hour), 0}, {caddy.Duration(time.Second), 0}} {
		ctx := context.WithValue(r.Context(), caddyhttp.ServerCtxKey, &caddyhttp.Server{ReadTimeout: tc.server})
		assert.Equal(t, tc.want, e.bodyReadTimeout(r.WithContext(ctx)), "server read_body %v", time.Duration(tc.server))
	}
}

// An attempt that sends a rewritten (decoded) body drops its
// Content-Encoding on a copy: the header is shared by the request's
// attempts, and the next one may send the body as the client encoded it.
func TestRewrittenAttemptKeepsTheSharedHeader(t *testing.T) {
	shared := http.Header{"Content-Encoding": {"gzip"}, "Anthropic-Version": {"2023-06-01"}}
	req := &http.Request{Header: shared}
	withoutContentEncoding(req)
	assert.Empty(t, req.Header.Get("Content-Encoding"))
	assert.Equal(t, "2023-06-01", req.Header.Get("Anthropic-Version"))
	assert.Equal(t, "gzip", shared.Get("Content-Encoding"), "the next attempt lost the client's Content-Encoding")
}
