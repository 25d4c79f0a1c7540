package executor

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowUpload is a client body sent through a pipe: start at once, each
// later part when the test says.
type slowUpload struct {
	r    *http.Request
	pw   *io.PipeWriter
	next chan []byte
}

func newSlowUpload(start []byte, declared int64) *slowUpload {
	pr, pw := io.Pipe()
	u := &slowUpload{pw: pw, next: make(chan []byte)}
	u.r = bodyRequest(nil, "", true)
	u.r.Body, u.r.ContentLength = pr, declared
	go func() {
		if _, err := pw.Write(start); err != nil {
			return
		}
		for p := range u.next {
			if p == nil {
				_ = pw.CloseWithError(io.ErrUnexpectedEOF)
				return
			}
			if _, err := pw.Write(p); err != nil {
				return
			}
		}
		_ = pw.Close()
	}()
	return u
}

func streamFound(m *modelScan) bool { return m.found }

// The first reader of a body whose start named the model gets the body as
// the client sends it, while the client is still sending; the copy kept
// replays it whole.
func TestStreamedBodyReachesTheFirstAttemptWhileArriving(t *testing.T) {
	start := []byte(`{"model":"claude-opus-4-1","messages":[`)
	rest := [][]byte{[]byte(`{"role":"user","content":"` + strings.Repeat("a", 100<<10) + `"}`), []byte(`],"stream":true}`)}
	full := bytes.Join(append([][]byte{start}, rest...), nil)
	u := newSlowUpload(start, int64(len(full)))

	b, err := openBody(nil, u.r, bodyConfig{limit: 1 << 20}, streamFound)
	require.NoError(t, err)
	defer b.release()
	require.NotNil(t, b.src, "the body was read whole before the first attempt")
	assert.Equal(t, "claude-opus-4-1", b.src.model)
	assert.False(t, b.complete())
	assert.Nil(t, b.bytes(), "a body still arriving offered as whole")
	assert.Equal(t, int64(len(full)), b.size(), "the declared length")

	rd := b.reader()
	got := make([]byte, len(start))
	_, err = io.ReadFull(rd, got)
	require.NoError(t, err)
	assert.Equal(t, start, got, "the start read before the attempt")
	go func() {
		for _, p := range rest {
			u.next <- p
		}
		close(u.next)
	}()
	tail, err := io.ReadAll(rd)
	require.NoError(t, err)
	assert.Equal(t, full, append(got, tail...))
	require.NoError(t, rd.Close())
	assert.True(t, b.complete())
	assert.Equal(t, full, b.bytes())

	replay := b.reader()
	again, err := io.ReadAll(replay)
	require.NoError(t, err)
	assert.Equal(t, full, again, "the replay")
	require.NoError(t, replay.Close())
}

// An attempt that stops reading early (an upstream that answered before
// the body's end) leaves the rest to wait, which reads it for the replay;
// the first attempt's reader gets nothing more.
func TestStreamedBodyWaitReadsTheRest(t *testing.T) {
	start := []byte(`{"model":"m","messages":"`)
	rest := bytes.Repeat([]byte("r"), 300<<10)
	full := append(append(append([]byte{}, start...), rest...), '"', '}')
	dir := t.TempDir()
	budget := NewBodyBudget(8 << 10)
	u := newSlowUpload(start, -1)
	b, err := openBody(nil, u.r, bodyConfig{limit: 1 << 20, budget: budget, dir: dir}, streamFound)
	require.NoError(t, err)
	require.NotNil(t, b.src)
	first := b.reader()
	_, err = io.ReadFull(first, make([]byte, len(start)))
	require.NoError(t, err)
	go func() {
		u.next <- rest
		u.next <- []byte(`"}`)
		close(u.next)
	}()
	require.NoError(t, b.wait())
	_, err = first.Read(make([]byte, 10))
	assert.ErrorIs(t, err, http.ErrBodyReadAfterClose, "the first attempt read on after the replay took the body")
	require.NoError(t, first.Close())
	assert.True(t, b.raw.spooled(), "a body past the budget was not spooled")
	assert.Equal(t, int64(-1), u.r.ContentLength)
	assert.Equal(t, int64(len(full)), b.size())
	replay := b.reader()
	got, err := io.ReadAll(replay)
	require.NoError(t, err)
	assert.Equal(t, full, got)
	require.NoError(t, replay.Close())
	b.release()
	assert.Empty(t, spoolFiles(t, dir))
	assert.Zero(t, budget.Held())
}

// A second top-level model later in the body stops it: the read that
// holds the key fails, so the upstream never gets the body whole.
func TestStreamedBodyNamingTheModelTwiceStops(t *testing.T) {
	start := []byte(`{"model":"cheap","messages":[],`)
	u := newSlowUpload(start, -1)
	b, err := openBody(nil, u.r, bodyConfig{limit: 1 << 20}, streamFound)
	require.NoError(t, err)
	defer b.release()
	rd := b.reader()
	defer rd.Close()
	go func() {
		u.next <- []byte(`"model":"expensive"}`)
		close(u.next)
	}()
	sent, err := io.ReadAll(rd)
	require.ErrorIs(t, err, errModelTwice)
	assert.Equal(t, start, sent, "the bytes naming the second model went on")
	assert.ErrorIs(t, b.failed(), errModelTwice)
}

// A body that grows past max_body while it streams fails with
// errBodyTooLarge; one the client breaks off fails too.
func TestStreamedBodyFailures(t *testing.T) {
	start := []byte(`{"model":"m","x":"`)
	t.Run("too large", func(t *testing.T) {
		u := newSlowUpload(start, -1)
		b, err := openBody(nil, u.r, bodyConfig{limit: 4 << 10}, streamFound)
		require.NoError(t, err)
		defer b.release()
		go func() { u.next <- bytes.Repeat([]byte("x"), 8<<10); close(u.next) }()
		rd := b.reader()
		_, err = io.ReadAll(rd)
		require.ErrorIs(t, err, errBodyTooLarge)
		assert.ErrorIs(t, b.failed(), errBodyTooLarge)
		assert.ErrorIs(t, b.wait(), errBodyTooLarge, "a replay of a body too large")
		require.NoError(t, rd.Close())
	})
	t.Run("broken off", func(t *testing.T) {
		dir := t.TempDir()
		u := newSlowUpload(start, 1<<20)
		b, err := openBody(nil, u.r, bodyConfig{limit: 4 << 20, budget: NewBodyBudget(1 << 10), dir: dir}, streamFound)
		require.NoError(t, err)
		go func() { u.next <- bytes.Repeat([]byte("x"), 64<<10); u.next <- nil }()
		rd := b.reader()
		_, err = io.ReadAll(rd)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.Len(t, spoolFiles(t, dir), 1)
		b.release()
		require.NoError(t, rd.Close())
		assert.Empty(t, spoolFiles(t, dir), "a broken-off body left its spool file")
	})
}

// A body whose start does not name the model, or that arrives whole with
// its start, is read whole before the first attempt.
func TestBodyReadWholeWhenItCannotStream(t *testing.T) {
	t.Run("model too late", func(t *testing.T) {
		start := []byte(`{"messages":"` + strings.Repeat("p", streamPrefix) + `",`)
		u := newSlowUpload(start, -1)
		done := make(chan *body)
		go func() {
			b, err := openBody(nil, u.r, bodyConfig{limit: 1 << 20}, streamFound)
			assert.NoError(t, err)
			done <- b
		}()
		select {
		case <-done:
			t.Fatal("a body whose model was not in its start was not read whole first")
		case <-time.After(100 * time.Millisecond):
		}
		u.next <- []byte(`"model":"m"}`)
		close(u.next)
		b := <-done
		defer b.release()
		assert.Nil(t, b.src)
		assert.Equal(t, `{"messages"`, string(b.bytes()[:11]))
	})
	t.Run("arrives whole", func(t *testing.T) {
		data := []byte(`{"model":"m"}`)
		b, err := openBody(nil, bodyRequest(data, "", false), bodyConfig{limit: 1 << 20}, streamFound)
		require.NoError(t, err)
		defer b.release()
		if b.src != nil {
			// the first read got the whole body but not its end
			rd := b.reader()
			got, err := io.ReadAll(rd)
			require.NoError(t, err)
			assert.Equal(t, data, got)
			require.NoError(t, rd.Close())
		}
		assert.Equal(t, data, b.bytes())
	})
}

// The transport may close the first attempt's reader from another
// goroutine while a read waits on the client; with -race this proves the
// two and the request's release do not touch the hold at once.
func TestStreamedBodyCloseWhileReading(t *testing.T) {
	u := newSlowUpload([]byte(`{"model":"m","x":"`), -1)
	b, err := openBody(nil, u.r, bodyConfig{limit: 1 << 20, budget: NewBodyBudget(1 << 10), dir: t.TempDir()}, streamFound)
	require.NoError(t, err)
	rd := b.reader()
	done := readToError(rd)
	go func() {
		for range 50 {
			u.next <- bytes.Repeat([]byte("y"), 1000)
		}
		close(u.next)
	}()
	time.Sleep(time.Millisecond)
	b.release()
	require.NoError(t, rd.Close())
	<-done
}

// The bound on a streamed answer's headers waits for a body still
// arriving: whether it asks for a stream is known only at its end, and
// the upstream answers only once it has it all. A replay, with the body
// whole, gets the bound.
func TestHeaderTimeoutWaitsForTheWholeBody(t *testing.T) {
	u := newSlowUpload([]byte(`{"model":"m","messages":[`), -1)
	b, err := openBody(nil, u.r, bodyConfig{limit: 1 << 20}, streamFound)
	require.NoError(t, err)
	defer b.release()
	require.NotNil(t, b.src)
	rn := &run{e: &Executor{opts: Options{StreamHeaderTimeout: time.Second}}, route: Route{Family: FamilyAnthropic, Endpoint: "messages"}, body: b}
	assert.Zero(t, rn.headerTimeout(), "bound while the body arrives")
	rd := b.reader()
	go func() { u.next <- []byte(`],"stream":true}`); close(u.next) }()
	_, err = io.ReadAll(rd)
	require.NoError(t, err)
	require.NoError(t, rd.Close())
	assert.Equal(t, time.Second, rn.headerTimeout(), "no bound once the body is whole")
}
