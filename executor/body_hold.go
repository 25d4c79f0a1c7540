package executor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// errSpool is a body over the memory budget that could not be written to
// its spool file: the gateway's fault (a full or unwritable spool
// directory), answered 507.
var errSpool = errors.New("spooling request body")

// CodeInsufficientStorage is the error code of a request whose body the
// gateway could neither keep in memory nor spool.
const CodeInsufficientStorage = "insufficient_storage"

// hold keeps one copy of a request body: in memory while its budget gives
// the room, else in a temporary file, which the body is moved to whole the
// first time the budget says no. It is written by one goroutine at a time
// and read only once complete.
type hold struct {
	budget *BodyBudget
	dir    string // for spool files; "" is the system's temporary directory

	// in memory: buf, of which taken bytes come from the budget
	buf   *bytes.Buffer
	taken int64

	// spooled: file, of size bytes (staged ones included), and view, the
	// file mapped for inspection once asked for
	file  *os.File
	named bool // the file has a name, to remove (see createSpool)
	size  int64
	view  []byte
	unmap func()
	// staged gathers what is written to the file into writes of
	// stageSize: on ext4, writing a megabyte 32 KiB at a time (the size
	// of a read from the client) costs about twice what 64 KiB writes do
	staged *[]byte
}

// stageSize is the size of the writes to a spool file.
const stageSize = 64 << 10

var stagePool = sync.Pool{New: func() any { b := make([]byte, 0, stageSize); return &b }}

func newHold(budget *BodyBudget, dir string) *hold {
	return &hold{budget: budget, dir: dir, buf: getBuffer()}
}

// spoolPattern names spool files, so an operator can tell them apart.
const spoolPattern = "cliproxy-body-*"

// Len is how many bytes the hold has.
func (h *hold) Len() int64 {
	if h.file != nil {
		return h.size
	}
	return int64(h.buf.Len())
}

// spooled reports whether the body is in a file.
func (h *hold) spooled() bool { return h.file != nil }

// room makes room in memory for n more bytes of a body declared to be
// declared bytes long (-1: unknown) and at most limit, taking it from the
// budget; false when the budget has none left. The room grows by doubling,
// from firstGrowth, never past the declared rest or the limit: a client
// that declares 31 MB and sends one byte must not make the gateway hold
// (or reserve) 31 MB. A client that has sent firstGrowth bytes is taken at
// its word: the room grows to the declared length at once, which spares
// the copies of doubling, within the budget. The budget is charged for
// the buffer as allocated, a pooled one included.
func (h *hold) room(n int, declared, limit int64) bool {
	have := int64(h.buf.Len())
	need := have + int64(n)
	if need <= h.taken {
		if h.buf.Cap() < int(need) {
			h.grow(h.taken)
		}
		return true
	}
	want := max(2*h.taken, firstGrowth)
	if rest := declared - have; rest > 0 {
		if have >= firstGrowth {
			want = have + rest + bytes.MinRead
		} else {
			want = min(want, have+rest+bytes.MinRead)
		}
	}
	want = bufferSize(max(min(want, limit+bytes.MinRead), need, int64(h.buf.Cap())))
	if !h.budget.take(want - h.taken) {
		return false
	}
	h.taken = want
	if h.buf.Cap() < int(want) {
		h.grow(want)
	}
	return true
}

// grow moves buf to a buffer of capacity want (see bufferSize). A big
// buffer it leaves goes back to the arena; a small one is left to the
// collector: back in the pool, it would be handed to the next body, which
// would outgrow it too and allocate again (the pool gets each body's
// final buffer when the body is freed).
func (h *hold) grow(want int64) {
	grown := append(allocBuffer(want, h.budget.arenaLimit()), h.buf.Bytes()...)
	old := h.buf
	h.buf = bytes.NewBuffer(grown)
	if old.Cap() > pooledBufferLimit {
		putBuffer(old, h.budget.arenaLimit())
	}
}

// spool moves what the hold has in memory to a new temporary file, and
// gives its memory back.
func (h *hold) spool() error {
	f, named, err := createSpool(h.dir)
	if err != nil {
		return fmt.Errorf("%w: %w", errSpool, err)
	}
	if _, err := f.Write(h.buf.Bytes()); err != nil {
		_ = f.Close()
		if named {
			_ = os.Remove(f.Name())
		}
		return fmt.Errorf("%w: %w", errSpool, err)
	}
	h.file, h.named, h.size = f, named, int64(h.buf.Len())
	putBuffer(h.buf, h.budget.arenaLimit())
	h.buf = nil
	h.budget.give(h.taken)
	h.taken = 0
	return nil
}

// write appends p.
func (h *hold) write(p []byte, declared, limit int64) error {
	if h.file == nil && !h.room(len(p), declared, limit) {
		if err := h.spool(); err != nil {
			return err
		}
	}
	if h.file == nil {
		h.buf.Write(p)
		return nil
	}
	for len(p) > 0 {
		if h.staged == nil {
			// a stage let go with its hold holds that body's last bytes
			h.staged = stagePool.Get().(*[]byte)
			*h.staged = (*h.staged)[:0]
		}
		st := *h.staged
		n := copy(st[len(st):cap(st)], p)
		*h.staged, p = st[:len(st)+n], p[n:]
		h.size += int64(n)
		if len(*h.staged) == cap(*h.staged) {
			if err := h.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush writes what is staged to the spool file; every read of a spooled
// hold flushes first.
func (h *hold) flush() error {
	if h.staged == nil || len(*h.staged) == 0 {
		return nil
	}
	_, err := h.file.Write(*h.staged)
	*h.staged = (*h.staged)[:0]
	if err != nil {
		return fmt.Errorf("%w: %w", errSpool, err)
	}
	return nil
}

// unstage flushes and gives the stage back: the body is all written.
func (h *hold) unstage() error {
	if h.staged == nil {
		return nil
	}
	err := h.flush()
	stagePool.Put(h.staged)
	h.staged = nil
	return err
}

// readFrom reads src to its end into the hold, stopping one byte past
// limit with errBodyTooLarge. In memory the bytes are read in place.
func (h *hold) readFrom(src io.Reader, declared, limit int64) error {
	for {
		var n int
		var err error
		if h.file == nil && h.room(bytes.MinRead, declared, limit) {
			// a byte past the limit is enough to know the body is too large
			room := h.buf.AvailableBuffer()[:min(int64(h.buf.Available()), h.taken-int64(h.buf.Len()), limit+1-int64(h.buf.Len()))]
			n, err = src.Read(room)
			h.buf.Write(room[:n]) // the bytes are in place already: this only extends buf
		} else {
			if h.file == nil {
				if serr := h.spool(); serr != nil {
					return serr
				}
			}
			scratch := scratchPool.Get().(*[]byte)
			p := (*scratch)[:min(int64(len(*scratch)), limit+1-h.size)]
			n, err = src.Read(p)
			if werr := h.write(p[:n], declared, limit); werr != nil {
				scratchPool.Put(scratch)
				return werr
			}
			scratchPool.Put(scratch)
		}
		if h.Len() > limit {
			return errBodyTooLarge
		}
		switch {
		case err == io.EOF:
			return h.unstage()
		case err != nil:
			return fmt.Errorf("reading request body: %w", err)
		}
	}
}

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// bytes is the whole body: the memory it is in, or the spool file mapped
// into memory (see mapFile), nil when the file cannot be mapped.
func (h *hold) bytes() []byte {
	if h.file == nil {
		return h.buf.Bytes()
	}
	if h.flush() != nil {
		return nil
	}
	if h.view == nil && h.size > 0 {
		h.view, h.unmap = mapFile(h.file, h.size)
	}
	return h.view
}

// openReader returns a reader of the whole body, from its start; several
// may read at once.
func (h *hold) openReader() io.Reader {
	if h.file == nil {
		return bytes.NewReader(h.buf.Bytes())
	}
	if err := h.flush(); err != nil {
		return failedReader{err}
	}
	return io.NewSectionReader(h.file, 0, h.size)
}

// readAt reads the bytes held from off into p.
func (h *hold) readAt(p []byte, off int64) (int, error) {
	if h.file == nil {
		return copy(p, h.buf.Bytes()[off:]), nil
	}
	if err := h.flush(); err != nil {
		return 0, err
	}
	n, err := h.file.ReadAt(p, off)
	if err == io.EOF && n == len(p) {
		err = nil
	}
	return n, err
}

// free gives back what the hold has: its memory to the pool and the
// budget, its spool file to the file system.
func (h *hold) free() {
	if h.unmap != nil {
		h.unmap()
		h.unmap, h.view = nil, nil
	}
	if h.staged != nil {
		stagePool.Put(h.staged)
		h.staged = nil
	}
	if h.file != nil {
		_ = h.file.Close()
		if h.named {
			_ = os.Remove(h.file.Name())
		}
		h.file = nil
	}
	putBuffer(h.buf, h.budget.arenaLimit())
	h.buf = nil
	h.budget.give(h.taken)
	h.taken = 0
}

// failedReader is the reader of a body whose spool file failed.
type failedReader struct{ err error }

func (r failedReader) Read([]byte) (int, error) { return 0, r.err }
