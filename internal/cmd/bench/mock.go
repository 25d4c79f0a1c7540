package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// holdHeader asks the mock to send the first event of its answer and then
// hold the stream open until the harness releases it (the memory test).
const holdHeader = "X-Bench-Hold"

// mock is the upstream both Caddys proxy to: it reads the request body and
// answers with a Claude Messages event stream of about 2 KB, flushed event
// by event as the real API does. It does as little else as it can, so the
// figures are the proxies' own.
type mock struct {
	events [][]byte

	// upstream keys seen, for checking that cliproxy spread the sessions
	// over its credentials and that plain Caddy sent its static key
	keys     sync.Map // string → *atomic.Int64
	keyless  atomic.Int64
	held     atomic.Int64
	holdMu   sync.Mutex
	holdDone chan struct{}
}

func newMock() *mock {
	return &mock{events: claudeAnswer(), holdDone: make(chan struct{})}
}

// claudeAnswer is the event stream of one streamed Messages answer: the
// six event types Claude Code expects, with text deltas up to about 2 KB.
func claudeAnswer() [][]byte {
	ev := func(name, data string) []byte {
		return []byte("event: " + name + "\ndata: " + data + "\n\n")
	}
	out := [][]byte{
		ev("message_start", `{"type":"message_start","message":{"id":"msg_bench01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12873,"cache_creation_input_tokens":0,"cache_read_input_tokens":12288,"output_tokens":1}}}`),
		ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
	}
	words := strings.Fields("I looked at the failing test and the handler it exercises; the config loader returns early when the file is missing, so the error never reaches the caller. Here is the fix with a test that proves it.")
	for i := 0; i < 12; i++ {
		chunk := strings.Join(words[(i*3)%len(words):min(len(words), (i*3)%len(words)+6)], " ") + " "
		out = append(out, ev("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":%q}}`, chunk)))
	}
	out = append(out,
		ev("content_block_stop", `{"type":"content_block_stop","index":0}`),
		ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":96}}`),
		ev("message_stop", `{"type":"message_stop"}`),
	)
	return out
}

// answerSize is the size of the event stream in bytes.
func (m *mock) answerSize() int {
	n := 0
	for _, e := range m.events {
		n += len(e)
	}
	return n
}

func (m *mock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	key := r.Header.Get("X-Api-Key")
	if key == "" {
		m.keyless.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"type":"error","error":{"type":"authentication_error","message":"no key"}}`)
		return
	}
	m.count(key)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Request-Id", "req_bench01")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	for i, e := range m.events {
		if _, err := w.Write(e); err != nil {
			return
		}
		_ = rc.Flush()
		if i == 0 && r.Header.Get(holdHeader) != "" {
			m.held.Add(1)
			select {
			case <-m.holdChan():
			case <-r.Context().Done():
			}
			m.held.Add(-1)
		}
	}
}

func (m *mock) count(key string) {
	v, ok := m.keys.Load(key)
	if !ok {
		v, _ = m.keys.LoadOrStore(key, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(1)
}

// distinctKeys returns how many upstream keys have been seen since the
// last call, and forgets them.
func (m *mock) distinctKeys() int {
	n := 0
	m.keys.Range(func(k, _ any) bool {
		n++
		m.keys.Delete(k)
		return true
	})
	return n
}

func (m *mock) holdChan() chan struct{} {
	m.holdMu.Lock()
	defer m.holdMu.Unlock()
	return m.holdDone
}

// release lets every held stream finish and arms a new hold.
func (m *mock) release() {
	m.holdMu.Lock()
	defer m.holdMu.Unlock()
	close(m.holdDone)
	m.holdDone = make(chan struct{})
}
