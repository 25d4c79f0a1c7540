package mockupstream

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// maxBodyBytes bounds how much of a request body the mock reads (the real
// Messages API rejects bodies above 32 MB).
const maxBodyBytes = 32 << 20

// Server is one http.Handler serving every provider's API. It is safe for
// concurrent use; faults, replies and the request log are guarded by a mutex.
type Server struct {
	mu        sync.Mutex
	requests  []Recorded
	keep      int // requests kept in the log; 0 = all (SetRequestLogLimit)
	faults    map[string]*Fault
	replies   map[string]string
	models    map[string][]string // per family, set by SetModels
	onRequest func(Recorded)
	// WebSocket mode: responses created per key, closes seen, open count
	storedIDs map[string]map[string]bool
	wsCloses  []WSClose
	wsOpen    int
	cached    map[[sha256.Size]byte]bool // prompt cache, see promptcache.go
	// Code Assist account set-up, see codeassist_setup.go
	codeAssist *codeAssistState
	// subscription accounts and the clients they refuse, see subscription.go
	subscriptions map[string]Subscription
}

// Recorded is one request received by a [Server].
type Recorded struct {
	// Provider names the API that was called: "anthropic" (messages and
	// count_tokens), "anthropic-models", "openai-chat", "openai-responses",
	// "openai-completions", "openai-embeddings", "openai-models", "gemini"
	// (generateContent, streamGenerateContent, countTokens), "gemini-models",
	// or "unknown" for a path the mock does not serve.
	Provider string
	// Method, Path, RawQuery and Host are copied from the request.
	Method, Path, RawQuery, Host string
	// Header is a clone of the request headers as received.
	Header http.Header
	// Body is the request body exactly as received (still compressed if the
	// request had a Content-Encoding).
	Body []byte
	// DecodedBody is Body after undoing any gzip, zstd or deflate
	// Content-Encoding; it equals Body when the request was not encoded, and
	// is nil when decoding failed.
	DecodedBody []byte
	// Key is the upstream key seen, as extracted by [KeyOf].
	Key string
	// Model is the body's "model" field, or the model segment of a Gemini or
	// models-retrieve URL path.
	Model string
	// Stream reports whether a streaming answer was asked for.
	Stream bool
	// Time is when the request arrived.
	Time time.Time
}

// New returns a Server with no faults, default replies and an empty log.
func New() *Server {
	return &Server{
		faults:  map[string]*Fault{},
		replies: map[string]string{},
	}
}

// OnRequest registers fn to be called (outside the server's lock) with every
// request as it is recorded; pass nil to remove it. The standalone command
// uses it for logging.
func (s *Server) OnRequest(fn func(Recorded)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onRequest = fn
}

// Requests returns a copy of every recorded request, in arrival order. The
// copies share nothing with the server's log.
func (s *Server) Requests() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Recorded, len(s.requests))
	for i, r := range s.requests {
		out[i] = r.clone()
	}
	return out
}

// RequestsFor returns the recorded requests whose upstream key is key, in
// arrival order.
func (s *Server) RequestsFor(key string) []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Recorded
	for _, r := range s.requests {
		if r.Key == key {
			out = append(out, r.clone())
		}
	}
	return out
}

// Reset forgets every recorded request, fault, reply, model list set with
// SetModels and cached prompt.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
	s.faults = map[string]*Fault{}
	s.replies = map[string]string{}
	s.models = nil
	s.storedIDs = nil
	s.wsCloses = nil
	s.cached = nil
	s.codeAssist = nil
	s.subscriptions = nil
}

// clone deep-copies r's header and bodies.
func (r Recorded) clone() Recorded {
	r.Header = r.Header.Clone()
	r.Body = bytes.Clone(r.Body)
	r.DecodedBody = bytes.Clone(r.DecodedBody)
	return r
}

// SetRequestLogLimit keeps only the n newest requests in the log (0, the
// default, keeps every one), for a long run such as the soak harness,
// whose growing conversations would otherwise hold every body ever sent.
func (s *Server) SetRequestLogLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keep = n
	s.trimLog()
}

func (s *Server) trimLog() {
	if over := len(s.requests) - s.keep; s.keep > 0 && over > 0 {
		clear(s.requests[:over])
		s.requests = s.requests[over:]
	}
}

func (s *Server) record(rec Recorded) {
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	s.trimLog()
	fn := s.onRequest
	s.mu.Unlock()
	if fn != nil {
		fn(rec.clone())
	}
}

// ServeHTTP records the request, applies any programmed [Fault] for its key
// and answers in the called provider's wire format.
//
// A fault with ResetAfter aborts the stream with panic(http.ErrAbortHandler),
// which net/http turns into an abrupt connection close; serve the mock through
// a real server (httptest.NewServer), not an httptest.ResponseRecorder, when
// using it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isWebSocket(r) && strings.HasSuffix(strings.TrimRight(r.URL.Path, "/"), "/responses") {
		s.serveResponsesWS(w, r)
		return
	}
	raw, readErr := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	decoded, decErr := decodeBody(r.Header.Get("Content-Encoding"), raw)
	rt := routeOf(r)
	c := &call{s: s, w: w, r: r, rt: rt, body: decoded, key: KeyOf(r)}
	c.model, c.stream = rt.modelAndStream(r, decoded)

	s.record(Recorded{
		Provider:    rt.provider,
		Method:      r.Method,
		Path:        r.URL.Path,
		RawQuery:    r.URL.RawQuery,
		Host:        r.Host,
		Header:      r.Header.Clone(),
		Body:        bytes.Clone(raw),
		DecodedBody: bytes.Clone(decoded),
		Key:         c.key,
		Model:       c.model,
		Stream:      c.stream,
		Time:        time.Now(),
	})

	switch {
	case rt.op == opUnknown:
		writeNotFound(w, r)
		return
	case readErr != nil:
		c.fail(http.StatusBadRequest, "could not read request body: "+readErr.Error())
		return
	case len(raw) > maxBodyBytes:
		c.fail(http.StatusRequestEntityTooLarge, "request exceeds the maximum allowed number of bytes")
		return
	case decErr != nil:
		c.fail(http.StatusUnsupportedMediaType, decErr.Error())
		return
	case r.Method != rt.method:
		c.fail(http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+r.URL.Path)
		return
	case c.key == "":
		c.fail(http.StatusUnauthorized, noKeyMessage(rt.family))
		return
	}

	f, ok := s.takeFault(c.key)
	if ok {
		c.fault = f
		if !sleepCtx(r.Context(), f.FirstByteDelay) {
			return
		}
		for k, v := range f.Headers {
			w.Header().Set(k, v)
		}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		if f.Status != 0 {
			c.fail(f.Status, faultMessage(rt.family, f.Status, c.key))
			return
		}
		if f.Body != "" {
			writeRaw(w, http.StatusOK, f.Body)
			return
		}
		if f.StreamError != "" && c.stream {
			c.streamError(f.StreamError)
			return
		}
	}
	if c.refuseForeignClient() {
		return
	}
	c.reply = s.replyFor(c.key, rt.family)
	rt.handle(c)
}
