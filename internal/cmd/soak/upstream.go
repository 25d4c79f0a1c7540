package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

// turnHeader carries a turn's ID from the client through the gateway to
// the upstream, so the harness knows which credentials a turn tried.
const turnHeader = "X-Soak-Turn"

// The faults a credential can be given, by the name the report uses.
const (
	faultNone       = ""
	fault429        = "429"
	fault429Hint    = "429 with Retry-After"
	faultErrorEvent = "stream opened with an error event"
	fault529        = "529"
	faultReset      = "stream reset mid-answer"
	faultHang       = "hang before answering"
	faultRefused    = "key refused (401)"
)

// eventDelay paces every streamed answer, as a model writing does.
const eventDelay = 15 * time.Millisecond

// mockFault is what the mock is told to do for a fault.
func mockFault(kind string) mockupstream.Fault {
	f := mockupstream.Fault{EventDelay: eventDelay}
	switch kind {
	case fault429:
		f.Status = http.StatusTooManyRequests
	case fault429Hint:
		f.Status, f.RetryAfter = http.StatusTooManyRequests, "3"
	case faultErrorEvent:
		f.StreamError = "overloaded_error"
	case fault529:
		f.Status = 529
	case faultReset:
		f.ResetAfter = 5
	case faultHang:
		f.FirstByteDelay = 10 * time.Minute
	case faultRefused:
		f.Status = http.StatusUnauthorized
	}
	return f
}

// attempt is one upstream request of a turn, as the upstream saw it.
type attempt struct {
	Key   string
	Fault string
	Start time.Time
	End   time.Time // zero while it runs
}

// upstream is the mock provider every credential points at, with the
// faults the chaos gives each upstream key and a record of every turn's
// attempts.
type upstream struct {
	mock *mockupstream.Server
	srv  *httptest.Server

	mu       sync.Mutex
	faults   map[string]string    // upstream key → fault kind
	history  map[string][]span    // upstream key → its faults, oldest first
	attempts map[string][]attempt // turn ID → its attempts, oldest first
}

func newUpstream() *upstream {
	u := &upstream{
		mock:     mockupstream.New(),
		faults:   map[string]string{},
		history:  map[string][]span{},
		attempts: map[string][]attempt{},
	}
	u.mock.SetRequestLogLimit(1) // the harness keeps its own record
	u.mock.SetReply("*", reply)
	u.mock.SetFault("*", mockFault(faultNone))
	u.srv = httptest.NewServer(u)
	return u
}

// reply is every answer's text: long enough to stream in several events.
const reply = "I read the handler and its test. The loader returns early when the file is missing, " +
	"so the error never reaches the caller; I changed it to wrap and return the error, and added a test " +
	"that fails without the change. The suite passes now."

func (u *upstream) close() { u.srv.Close() }

// setFault gives key the fault kind ("" takes it away).
func (u *upstream) setFault(key, kind string) {
	now := time.Now()
	u.mu.Lock()
	h := u.history[key]
	if n := len(h); n > 0 && h[n-1].to.IsZero() {
		h[n-1].to = now
	}
	if kind == faultNone {
		delete(u.faults, key)
	} else {
		u.faults[key] = kind
		h = append(h, span{from: now, state: kind})
	}
	u.history[key] = h
	u.mu.Unlock()
	u.mock.SetFault(key, mockFault(kind))
}

// faultNear is a fault key began or ended within d of t ("" for none).
func (u *upstream) faultNear(key string, t time.Time, d time.Duration) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	near := func(x time.Time) bool { return !x.IsZero() && x.Sub(t).Abs() <= d }
	for _, s := range u.history[key] {
		if near(s.from) || near(s.to) {
			return s.state
		}
	}
	return ""
}

// faultAt is the fault key had at t ("" for none).
func (u *upstream) faultAt(key string, t time.Time) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, s := range u.history[key] {
		if !t.Before(s.from) && (s.to.IsZero() || t.Before(s.to)) {
			return s.state
		}
	}
	return ""
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	turn := r.Header.Get(turnHeader)
	key := mockupstream.KeyOf(r)
	u.mu.Lock()
	a := attempt{Key: key, Fault: u.faults[key], Start: time.Now()}
	i := len(u.attempts[turn])
	u.attempts[turn] = append(u.attempts[turn], a)
	u.mu.Unlock()
	defer func() {
		// also when the mock aborts the connection (a reset) by panicking
		u.mu.Lock()
		if as := u.attempts[turn]; i < len(as) {
			as[i].End = time.Now()
		}
		u.mu.Unlock()
	}()
	u.mock.ServeHTTP(w, r)
}

// seen reports whether any attempt of turn reached the upstream.
func (u *upstream) seen(turn string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.attempts[turn]) > 0
}

// take returns and forgets a finished turn's attempts, waiting a moment
// for the last one to be marked ended (the client may read the end of an
// answer before the upstream's handler returns).
func (u *upstream) take(turn string) []attempt {
	for range 20 {
		u.mu.Lock()
		as := u.attempts[turn]
		if len(as) == 0 || !as[len(as)-1].End.IsZero() {
			delete(u.attempts, turn)
			u.mu.Unlock()
			return as
		}
		u.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	as := u.attempts[turn]
	delete(u.attempts, turn)
	return as
}

// keyOfCredential maps the harness's credential names to the upstream keys
// they hold, and back.
type keyring struct {
	byName map[string]string
	byKey  map[string]string
}

func newKeyring() *keyring {
	return &keyring{byName: map[string]string{}, byKey: map[string]string{}}
}

func (k *keyring) add(name, key string) {
	k.byName[name], k.byKey[key] = key, name
}

// provider is the provider of a credential, from its name.
func provider(name string) string {
	switch {
	case strings.HasPrefix(name, "openai"):
		return "openai"
	case strings.HasPrefix(name, "gemini"):
		return "gemini"
	}
	return "claude"
}
