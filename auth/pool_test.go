package auth_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// clock is a fake clock safe for concurrent use.
type clock struct{ nanos atomic.Int64 }

func newClock() *clock {
	c := new(clock)
	c.nanos.Store(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time                  { return time.Unix(0, c.nanos.Load()).UTC() }
func (c *clock) Advance(d time.Duration)         { c.nanos.Add(int64(d)) }
func (c *clock) After(d time.Duration) time.Time { return c.Now().Add(d) }

func cred(name string) *auth.Credential {
	return &auth.Credential{Name: name, Provider: auth.Claude, APIKey: "sk-" + name}
}

// newTestPool builds a pool of credentials named names on a fake clock.
func newTestPool(t *testing.T, names ...string) (*auth.Pool, *clock) {
	t.Helper()
	creds := make([]*auth.Credential, 0, len(names))
	for _, n := range names {
		creds = append(creds, cred(n))
	}
	p, err := auth.NewPool(creds)
	require.NoError(t, err)
	clk := newClock()
	p.Now = clk.Now
	return p, clk
}

func TestNewPool(t *testing.T) {
	tests := []struct {
		name    string
		creds   []*auth.Credential
		want    []string
		wantErr string
	}{
		{"empty pool", nil, []string{}, ""},
		{"ordered by name", []*auth.Credential{cred("c"), cred("a"), cred("b")}, []string{"a", "b", "c"}, ""},
		{"byte order, not natural order", []*auth.Credential{cred("key10"), cred("key2"), cred("Key3")}, []string{"Key3", "key10", "key2"}, ""},
		{"duplicate name", []*auth.Credential{cred("a"), cred("b"), cred("a")}, nil, `duplicate credential name "a"`},
		{"empty name", []*auth.Credential{cred("a"), {Provider: auth.Claude, APIKey: "k"}}, nil, "without a name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := auth.NewPool(tt.creds)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Nil(t, p)
				return
			}
			require.NoError(t, err)
			names := []string{}
			for _, c := range p.Credentials() {
				names = append(names, c.Name)
				assert.Same(t, c, p.Get(c.Name))
			}
			assert.Equal(t, tt.want, names)
			assert.Nil(t, p.Get("missing"))
		})
	}
}

func TestNewPoolDoesNotReorderCallersSlice(t *testing.T) {
	in := []*auth.Credential{cred("b"), cred("a")}
	_, err := auth.NewPool(in)
	require.NoError(t, err)
	assert.Equal(t, "b", in[0].Name)
}

func TestRecordFailureBlocks(t *testing.T) {
	const model = "claude-opus-4-1"
	tests := []struct {
		name       string
		outcome    auth.Outcome
		wantBlock  time.Duration // 0: not blocked
		wantReason auth.BlockReason
	}{
		{"429 with hint", auth.Outcome{Status: 429, RetryAfter: 90 * time.Second}, 90 * time.Second, auth.BlockCooldown},
		{"429 with long hint", auth.Outcome{Status: 429, RetryAfter: 5 * time.Hour}, 5 * time.Hour, auth.BlockCooldown},
		{"429 without hint", auth.Outcome{Status: 429}, time.Second, auth.BlockCooldown},
		{"401", auth.Outcome{Status: 401}, 30 * time.Minute, auth.BlockOther},
		{"402", auth.Outcome{Status: 402}, 30 * time.Minute, auth.BlockOther},
		{"403", auth.Outcome{Status: 403}, 30 * time.Minute, auth.BlockOther},
		{"403 ignores a hint", auth.Outcome{Status: 403, RetryAfter: time.Second}, 30 * time.Minute, auth.BlockOther},
		{"500", auth.Outcome{Status: 500}, 60 * time.Second, auth.BlockOther},
		{"502", auth.Outcome{Status: 502}, 60 * time.Second, auth.BlockOther},
		{"503", auth.Outcome{Status: 503}, 60 * time.Second, auth.BlockOther},
		{"529 overloaded", auth.Outcome{Status: 529}, 60 * time.Second, auth.BlockOther},
		{"503 with hint", auth.Outcome{Status: 503, RetryAfter: 5 * time.Second}, 5 * time.Second, auth.BlockOther},
		{"408", auth.Outcome{Status: 408}, 60 * time.Second, auth.BlockOther},
		{"connection failure", auth.Outcome{Status: 0}, 60 * time.Second, auth.BlockOther},
		{"400", auth.Outcome{Status: 400}, 0, ""},
		{"404", auth.Outcome{Status: 404}, 0, ""},
		{"409", auth.Outcome{Status: 409}, 0, ""},
		{"413", auth.Outcome{Status: 413}, 0, ""},
		{"422", auth.Outcome{Status: 422}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, clk := newTestPool(t, "a")
			c := p.Get("a")
			start := clk.Now()

			until := p.RecordFailure(c, model, tt.outcome)

			st, ok := p.State(c, model)
			require.True(t, ok, "a failure leaves a state")
			assert.Equal(t, tt.outcome.Status, st.LastStatus)
			assert.Equal(t, start, st.LastErrorAt)
			assert.NotEmpty(t, st.LastError)
			assert.NotContains(t, st.LastError, c.APIKey)

			avail, availUntil := p.Available(c, model)
			if tt.wantBlock == 0 {
				assert.True(t, until.IsZero(), "blocked until %v", until)
				assert.True(t, avail, "a client fault blocked the credential")
				assert.True(t, st.BlockedUntil.IsZero())
				return
			}
			assert.Equal(t, start.Add(tt.wantBlock), until)
			assert.Equal(t, until, st.BlockedUntil)
			assert.Equal(t, tt.wantReason, st.Reason)
			assert.False(t, avail, "not blocked right after the failure")
			assert.Equal(t, until, availUntil)

			clk.Advance(tt.wantBlock - time.Millisecond)
			avail, _ = p.Available(c, model)
			assert.False(t, avail, "block lifted before it ended")

			clk.Advance(time.Millisecond)
			avail, availUntil = p.Available(c, model)
			assert.True(t, avail, "block not lifted when it ended")
			assert.True(t, availUntil.IsZero())
		})
	}
}

func TestBackoffWithoutHint(t *testing.T) {
	p, clk := newTestPool(t, "a")
	c := p.Get("a")
	const model = "m"
	rateLimit := auth.Outcome{Status: http.StatusTooManyRequests}

	want := []time.Duration{
		1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second,
		32 * time.Second, 64 * time.Second, 128 * time.Second, 256 * time.Second, 512 * time.Second,
		1024 * time.Second, 30 * time.Minute, 30 * time.Minute,
	}
	for i, d := range want {
		until := p.RecordFailure(c, model, rateLimit)
		assert.Equal(t, clk.After(d), until, "rate limit #%d", i+1)
		// the next rate limit arrives once this window is over
		clk.Advance(d)
	}
	for i := 0; i < 50; i++ {
		until := p.RecordFailure(c, model, rateLimit)
		require.Equal(t, clk.After(30*time.Minute), until, "backoff passed its cap or overflowed after %d more rate limits", i)
		clk.Advance(30 * time.Minute)
	}

	p.RecordSuccess(c, model)
	_, ok := p.State(c, model)
	assert.False(t, ok, "success did not clear the state")
	assert.Equal(t, clk.After(time.Second), p.RecordFailure(c, model, rateLimit), "success did not reset the backoff")
}

func TestBackoffHintDoesNotEscalate(t *testing.T) {
	p, clk := newTestPool(t, "a")
	c := p.Get("a")
	p.RecordFailure(c, "m", auth.Outcome{Status: 429, RetryAfter: 10 * time.Second})
	clk.Advance(10 * time.Second)
	assert.Equal(t, clk.After(time.Second), p.RecordFailure(c, "m", auth.Outcome{Status: 429}),
		"a hinted rate limit counted as a backoff step")
}

// Requests in flight on one credential when its quota runs out all come back
// 429 at about the same moment. Design §7: the backoff escalates once per
// open window, so a burst does not push the credential out for minutes.
func TestBackoffEscalatesOncePerWindow(t *testing.T) {
	p, clk := newTestPool(t, "a")
	c := p.Get("a")
	start := clk.Now()
	for i := 0; i < 10; i++ {
		p.RecordFailure(c, "m", auth.Outcome{Status: 429})
	}
	st, _ := p.State(c, "m")
	assert.Equal(t, start.Add(time.Second), st.BlockedUntil,
		"10 simultaneous rate limits blocked for %v instead of 1s", st.BlockedUntil.Sub(start))
}

func TestBlockIsPerModel(t *testing.T) {
	p, _ := newTestPool(t, "a", "b")
	a, b := p.Get("a"), p.Get("b")
	p.RecordFailure(a, "opus", auth.Outcome{Status: 429, RetryAfter: time.Hour})

	tests := []struct {
		cred  *auth.Credential
		model string
		want  bool
	}{
		{a, "opus", false},
		{a, "sonnet", true},
		{a, "", true},
		{a, "OPUS", true}, // states are keyed by the exact model string
		{b, "opus", true},
	}
	for _, tt := range tests {
		ok, _ := p.Available(tt.cred, tt.model)
		assert.Equal(t, tt.want, ok, "%s for %q", tt.cred.Name, tt.model)
	}
	_, has := p.State(a, "sonnet")
	assert.False(t, has)
}

func TestRecordSuccessClearsBlock(t *testing.T) {
	p, _ := newTestPool(t, "a")
	c := p.Get("a")
	p.RecordFailure(c, "m", auth.Outcome{Status: 500})
	p.RecordFailure(c, "other", auth.Outcome{Status: 500})
	p.RecordSuccess(c, "m")
	ok, _ := p.Available(c, "m")
	assert.True(t, ok)
	ok, _ = p.Available(c, "other")
	assert.False(t, ok, "a success on one model cleared another")
	p.RecordSuccess(c, "never-failed") // no state: must not create one or panic
	_, has := p.State(c, "never-failed")
	assert.False(t, has)
}

func TestClientFaultKeepsExistingBlock(t *testing.T) {
	p, clk := newTestPool(t, "a")
	c := p.Get("a")
	until := p.RecordFailure(c, "m", auth.Outcome{Status: 429, RetryAfter: time.Minute})
	p.RecordFailure(c, "m", auth.Outcome{Status: 400})
	ok, got := p.Available(c, "m")
	assert.False(t, ok, "a 400 lifted a rate-limit cooldown")
	assert.Equal(t, until, got)
	clk.Advance(time.Minute)
	ok, _ = p.Available(c, "m")
	assert.True(t, ok)
}

func TestDisabledAndForeignCredentials(t *testing.T) {
	disabled := cred("off")
	disabled.Disabled = true
	p, err := auth.NewPool([]*auth.Credential{cred("on"), disabled})
	require.NoError(t, err)

	ok, until := p.Available(disabled, "m")
	assert.False(t, ok, "a disabled credential is available")
	assert.True(t, until.IsZero(), "a disabled credential does not recover by itself")

	ok, _ = p.Available(p.Get("on"), "m")
	assert.True(t, ok)

	foreign := cred("on") // same name, not the pool's credential
	ok, _ = p.Available(foreign, "m")
	assert.False(t, ok, "a credential outside the pool is available")
	assert.True(t, p.RecordFailure(foreign, "m", auth.Outcome{Status: 429}).IsZero())
	p.RecordSuccess(foreign, "m")
	_, has := p.State(foreign, "m")
	assert.False(t, has)
}

func TestModelStatesAreBounded(t *testing.T) {
	tests := []struct {
		name    string
		outcome auth.Outcome
	}{
		{"blocking failures", auth.Outcome{Status: 429, RetryAfter: time.Hour}},
		{"non-blocking failures", auth.Outcome{Status: 400}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := newTestPool(t, "a")
			c := p.Get("a")
			const n = 5000
			for i := range n {
				p.RecordFailure(c, fmt.Sprintf("model-%d", i), tt.outcome)
			}
			kept := 0
			for i := range n {
				if _, ok := p.State(c, fmt.Sprintf("model-%d", i)); ok {
					kept++
				}
			}
			assert.LessOrEqual(t, kept, 1024, "model states grow without bound")
			assert.Positive(t, kept)
			_, ok := p.State(c, fmt.Sprintf("model-%d", n-1))
			assert.True(t, ok, "the newest failure was not recorded")
		})
	}
}

// When the states are full, the ones whose block has ended go first, so a
// flood of model names does not lift a live cooldown.
func TestModelStatePruningKeepsLiveBlocks(t *testing.T) {
	p, clk := newTestPool(t, "a")
	c := p.Get("a")
	p.RecordFailure(c, "hot", auth.Outcome{Status: 429, RetryAfter: time.Hour})
	for i := range 1023 {
		p.RecordFailure(c, fmt.Sprintf("old-%d", i), auth.Outcome{Status: 429, RetryAfter: time.Second})
	}
	clk.Advance(2 * time.Second)
	p.RecordFailure(c, "new", auth.Outcome{Status: 500})

	ok, _ := p.Available(c, "hot")
	assert.False(t, ok, "pruning lifted a live cooldown")
	ok, _ = p.Available(c, "new")
	assert.False(t, ok)
	_, has := p.State(c, "old-0")
	assert.False(t, has, "an expired state survived pruning")
}

func TestPoolConcurrentUse(t *testing.T) {
	names := []string{"a", "b", "c", "d"}
	p, clk := newTestPool(t, names...)
	models := []string{"m0", "m1", "m2"}
	statuses := []int{0, 200, 400, 401, 429, 500, 503}

	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				c := p.Get(names[(g+i)%len(names)])
				m := models[i%len(models)]
				switch s := statuses[(g*7+i)%len(statuses)]; s {
				case 200:
					p.RecordSuccess(c, m)
				default:
					p.RecordFailure(c, m, auth.Outcome{Status: s})
				}
				p.Available(c, m)
				p.State(c, m)
				if i%50 == 0 {
					clk.Advance(time.Second)
				}
			}
		}()
	}
	wg.Wait()

	// the pool still works after the storm
	c := p.Get("a")
	p.RecordSuccess(c, "m0")
	ok, _ := p.Available(c, "m0")
	assert.True(t, ok)
	until := p.RecordFailure(c, "m0", auth.Outcome{Status: 401})
	assert.Equal(t, clk.After(30*time.Minute), until)
}
