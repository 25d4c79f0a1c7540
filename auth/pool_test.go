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
func (c *clock) Set(t time.Time)                 { c.nanos.Store(t.UnixNano()) }

func cred(name string) *auth.Credential {
	return &auth.Credential{Name: name, Provider: auth.Claude, APIKey: "sk-" + name}
}

// newTestPool builds a pool of credentials named names on a fake clock.
func newTestPool(t *testing.T, names ...string) (*auth.Pool, *clock) {
	t.Helper()
	return newPolicyPool(t, auth.Policy{}, names...)
}

// newPolicyPool is newTestPool with a policy of its own.
func newPolicyPool(t *testing.T, policy auth.Policy, names ...string) (*auth.Pool, *clock) {
	t.Helper()
	creds := make([]*auth.Credential, 0, len(names))
	for _, n := range names {
		creds = append(creds, cred(n))
	}
	p, err := auth.NewPoolWithHealth(creds, auth.NewHealth(), policy)
	require.NoError(t, err)
	clk := newClock()
	p.Now = clk.Now
	return p, clk
}

// rateLimited is a 429 whose answer said to come back after d (0: no hint).
func rateLimited(d time.Duration) auth.Outcome {
	return auth.Outcome{Status: http.StatusTooManyRequests, Hint: auth.Hint{RetryAfter: d}}
}

// wholeOut is a 429 saying the whole credential is out for d.
func wholeOut(d time.Duration, reason string) auth.Outcome {
	return auth.Outcome{Status: http.StatusTooManyRequests, Hint: auth.Hint{RetryAfter: d, Whole: true, Reason: reason}}
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

// TestRecordFailureBlocks walks the table of DESIGN §7 with the default
// policy: what each upstream answer blocks, for how long and why, and that
// the block is lifted (lazily) when the clock passes it.
func TestRecordFailureBlocks(t *testing.T) {
	const model = "claude-opus-4-1"
	tests := []struct {
		name       string
		outcome    auth.Outcome
		wantBlock  time.Duration // 0: not blocked
		wantReason auth.BlockReason
		wantStatus auth.Status
		wantQuota  string // the quota's reason; "" when the quota is not exceeded
	}{
		{"429 with hint", rateLimited(90 * time.Second), 90 * time.Second, auth.BlockCooldown, auth.StatusCooldown, "rate_limit"},
		{"429 with a hint as long as max_cooldown", rateLimited(5 * time.Hour), 5 * time.Hour, auth.BlockCooldown, auth.StatusCooldown, "rate_limit"},
		{
			"429 with a hint naming its limit",
			auth.Outcome{Status: 429, Hint: auth.Hint{RetryAfter: time.Minute, Reason: "resource_exhausted"}},
			time.Minute, auth.BlockCooldown, auth.StatusCooldown, "resource_exhausted",
		},
		{"429 without hint", rateLimited(0), time.Second, auth.BlockCooldown, auth.StatusCooldown, "rate_limit"},
		{"401", auth.Outcome{Status: 401}, 30 * time.Minute, auth.BlockOther, auth.StatusBlocked, ""},
		{"402", auth.Outcome{Status: 402}, 30 * time.Minute, auth.BlockOther, auth.StatusBlocked, ""},
		{"403", auth.Outcome{Status: 403}, 30 * time.Minute, auth.BlockOther, auth.StatusBlocked, ""},
		{"403 ignores a hint", auth.Outcome{Status: 403, Hint: auth.Hint{RetryAfter: time.Second}}, 30 * time.Minute, auth.BlockOther, auth.StatusBlocked, ""},
		{"404 model not found", auth.Outcome{Status: 404, ModelNotFound: true}, 12 * time.Hour, auth.BlockOther, auth.StatusBlocked, ""},
		{"500", auth.Outcome{Status: 500}, 60 * time.Second, auth.BlockOther, auth.StatusBlocked, ""},
		{"502", auth.Outcome{Status: 502}, 60 * time.Second, auth.BlockOther, auth.StatusBlocked, ""},
		{"503", auth.Outcome{Status: 503}, 60 * time.Second, auth.BlockOther, auth.StatusBlocked, ""},
		{"504", auth.Outcome{Status: 504}, 60 * time.Second, auth.BlockOther, auth.StatusBlocked, ""},
		{"529 overloaded", auth.Outcome{Status: 529}, 60 * time.Second, auth.BlockOther, auth.StatusBlocked, ""},
		{"503 with hint", auth.Outcome{Status: 503, Hint: auth.Hint{RetryAfter: 5 * time.Second}}, 5 * time.Second, auth.BlockOther, auth.StatusBlocked, ""},
		{"408", auth.Outcome{Status: 408}, 60 * time.Second, auth.BlockOther, auth.StatusBlocked, ""},
		{"connection failure", auth.Outcome{Status: 0}, 60 * time.Second, auth.BlockOther, auth.StatusBlocked, ""},
		{"400", auth.Outcome{Status: 400}, 0, "", "", ""},
		{"400 ignores a hint", auth.Outcome{Status: 400, Hint: auth.Hint{RetryAfter: time.Hour}}, 0, "", "", ""},
		{"404 without model not found", auth.Outcome{Status: 404}, 0, "", "", ""},
		{"409", auth.Outcome{Status: 409}, 0, "", "", ""},
		{"413", auth.Outcome{Status: 413}, 0, "", "", ""},
		{"422", auth.Outcome{Status: 422}, 0, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, clk := newTestPool(t, "a", "b")
			c := p.Get("a")
			start := clk.Now()

			until := p.RecordFailure(c, model, tt.outcome)

			st, ok := p.State(c, model)
			require.True(t, ok, "a failure leaves a state")
			assert.Equal(t, tt.outcome.Status, st.LastError.Status)
			assert.Equal(t, start, st.LastError.Time)
			assert.NotEmpty(t, st.LastError.Message)
			assert.NotContains(t, st.LastError.Message, c.APIKey)
			assert.Equal(t, tt.wantQuota != "", st.Quota.Exceeded, "quota exceeded")
			assert.Equal(t, tt.wantQuota, st.Quota.Reason)

			other, _ := p.Available(p.Get("b"), model)
			assert.True(t, other, "a failure of one credential blocked another")

			avail, availUntil := p.Available(c, model)
			if tt.wantBlock == 0 {
				assert.True(t, until.IsZero(), "blocked until %v", until)
				assert.True(t, avail, "a client fault blocked the credential")
				assert.True(t, st.NextRetryAfter.IsZero())
				assert.Equal(t, auth.StatusAvailable, st.Status)
				assert.Empty(t, st.Reason)
				return
			}
			assert.Equal(t, start.Add(tt.wantBlock), until)
			assert.Equal(t, until, st.NextRetryAfter)
			assert.Equal(t, tt.wantReason, st.Reason)
			assert.Equal(t, tt.wantStatus, st.Status)
			if tt.wantQuota != "" {
				assert.Equal(t, until, st.Quota.NextRecoverAt)
			}
			assert.False(t, avail, "not blocked right after the failure")
			assert.Equal(t, until, availUntil)
			assert.False(t, p.Claim(c, model), "a blocked credential was claimed")

			clk.Advance(tt.wantBlock - time.Millisecond)
			avail, _ = p.Available(c, model)
			assert.False(t, avail, "block lifted before it ended")

			clk.Advance(time.Millisecond)
			avail, availUntil = p.Available(c, model)
			assert.True(t, avail, "block not lifted when it ended")
			assert.True(t, availUntil.IsZero())
			assert.True(t, p.Claim(c, model))
			assert.True(t, p.Claim(c, model), "a credential that is not probed is claimed by every request")
			st, _ = p.State(c, model)
			assert.Equal(t, auth.StatusAvailable, st.Status, "an ended block is still shown")
			assert.Equal(t, tt.outcome.Status, st.LastError.Status, "the last error is kept until a success")
		})
	}
}

func TestRecordFailureMessage(t *testing.T) {
	p, _ := newTestPool(t, "a")
	c := p.Get("a")
	p.RecordFailure(c, "m", auth.Outcome{Status: 429, Message: "rate_limit_error"})
	st, _ := p.State(c, "m")
	assert.Equal(t, "rate_limit_error", st.LastError.Message, "the caller's message is kept")

	p.RecordFailure(c, "n", auth.Outcome{Status: 0})
	st, _ = p.State(c, "n")
	assert.Contains(t, st.LastError.Message, "connection")
}

func TestTransientCooldownPolicy(t *testing.T) {
	const cooldown = 7 * time.Second
	for _, status := range []int{0, 408, 500, 503, 529} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			p, clk := newPolicyPool(t, auth.Policy{TransientCooldown: cooldown}, "a")
			c := p.Get("a")
			until := p.RecordFailure(c, "m", auth.Outcome{Status: status})
			assert.Equal(t, clk.After(cooldown), until)
			clk.Advance(cooldown)
			ok, _ := p.Available(c, "m")
			assert.True(t, ok)
		})
	}
	// the policy changes only the transient cooldown
	p, clk := newPolicyPool(t, auth.Policy{TransientCooldown: cooldown}, "a")
	assert.Equal(t, clk.After(30*time.Minute), p.RecordFailure(p.Get("a"), "m", auth.Outcome{Status: 401}))
	assert.Equal(t, clk.After(time.Second), p.RecordFailure(p.Get("a"), "n", rateLimited(0)))
}

func TestPolicyDefaults(t *testing.T) {
	assert.Equal(t, 60*time.Second, auth.DefaultTransientCooldown)
	assert.Equal(t, 5*time.Hour, auth.DefaultMaxCooldown)
	assert.Equal(t, 10*time.Minute, auth.DefaultProbeInterval)

	// zero and negative fields take the defaults
	for _, pol := range []auth.Policy{{}, {TransientCooldown: -1, MaxCooldown: -1, ProbeInterval: -1}} {
		p, clk := newPolicyPool(t, pol, "a")
		c := p.Get("a")
		assert.Equal(t, clk.After(auth.DefaultTransientCooldown), p.RecordFailure(c, "t", auth.Outcome{Status: 500}))
		assert.Equal(t, clk.After(auth.DefaultMaxCooldown), p.RecordFailure(c, "q", rateLimited(24*time.Hour)))
	}
}

func TestBackoffWithoutHint(t *testing.T) {
	p, clk := newTestPool(t, "a")
	c := p.Get("a")
	const model = "m"
	rateLimit := rateLimited(0)

	want := []time.Duration{
		1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second,
		32 * time.Second, 64 * time.Second, 128 * time.Second, 256 * time.Second, 512 * time.Second,
		1024 * time.Second, 30 * time.Minute, 30 * time.Minute,
	}
	for i, d := range want {
		until := p.RecordFailure(c, model, rateLimit)
		assert.Equal(t, clk.After(d), until, "rate limit #%d", i+1)
		st, _ := p.State(c, model)
		assert.Equal(t, i+1, st.Quota.BackoffLevel, "rate limit #%d", i+1)
		assert.Equal(t, until, st.Quota.NextRecoverAt)
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
	p.RecordFailure(c, "m", rateLimited(10*time.Second))
	clk.Advance(10 * time.Second)
	assert.Equal(t, clk.After(time.Second), p.RecordFailure(c, "m", rateLimited(0)),
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
		assert.Equal(t, start.Add(time.Second), p.RecordFailure(c, "m", rateLimited(0)))
		clk.Advance(50 * time.Millisecond) // still inside the 1s window
	}
	st, _ := p.State(c, "m")
	assert.Equal(t, start.Add(time.Second), st.NextRetryAfter,
		"10 rate limits in one window blocked for %v instead of 1s", st.NextRetryAfter.Sub(start))
	assert.Equal(t, 1, st.Quota.BackoffLevel)
	assert.Equal(t, clk.Now().Add(-50*time.Millisecond), st.LastError.Time, "the burst's last error was not recorded")

	// the next window escalates once, however many 429s it sees
	clk.Advance(time.Second)
	second := clk.After(2 * time.Second)
	for range 10 {
		assert.Equal(t, second, p.RecordFailure(c, "m", rateLimited(0)))
	}
	st, _ = p.State(c, "m")
	assert.Equal(t, 2, st.Quota.BackoffLevel)
}

func TestBlockIsPerModel(t *testing.T) {
	p, _ := newTestPool(t, "a", "b")
	a, b := p.Get("a"), p.Get("b")
	p.RecordFailure(a, "opus", rateLimited(time.Hour))
	p.RecordFailure(a, "haiku", auth.Outcome{Status: 404, ModelNotFound: true})

	tests := []struct {
		cred  *auth.Credential
		model string
		want  bool
	}{
		{a, "opus", false},
		{a, "haiku", false},
		{a, "sonnet", true},
		{a, "", true},
		{a, "OPUS", true}, // states are keyed by the exact model string
		{b, "opus", true},
		{b, "haiku", true},
	}
	for _, tt := range tests {
		ok, _ := p.Available(tt.cred, tt.model)
		assert.Equal(t, tt.want, ok, "%s for %q", tt.cred.Name, tt.model)
		assert.Equal(t, tt.want, p.Claim(tt.cred, tt.model), "claim %s for %q", tt.cred.Name, tt.model)
	}
	_, has := p.State(a, "sonnet")
	assert.False(t, has)
	opus, _ := p.State(a, "opus")
	haiku, _ := p.State(a, "haiku")
	assert.Equal(t, auth.BlockCooldown, opus.Reason)
	assert.Equal(t, auth.BlockOther, haiku.Reason)
}

// The upstream says the whole credential is out (Anthropic's unified 5h/7d
// rejection, Codex's usage_limit_reached): every model of it is blocked,
// other credentials are not.
func TestWholeCredentialBlock(t *testing.T) {
	p, clk := newTestPool(t, "a", "b")
	a, b := p.Get("a"), p.Get("b")
	start := clk.Now()
	p.RecordFailure(a, "sonnet", rateLimited(time.Minute)) // a model state of its own

	until := p.RecordFailure(a, "opus", wholeOut(2*time.Hour, "unified_5h"))
	assert.Equal(t, start.Add(2*time.Hour), until)

	for _, m := range []string{"opus", "sonnet", "haiku", ""} {
		ok, u := p.Available(a, m)
		assert.False(t, ok, "model %q of a credential that is out", m)
		assert.Equal(t, until, u, "model %q", m)
		assert.False(t, p.Claim(a, m))
		ok, _ = p.Available(b, m)
		assert.True(t, ok, "another credential is out for %q", m)
	}
	_, has := p.State(a, "opus")
	assert.False(t, has, "a credential-wide limit was recorded as the model's")

	snap := findSnapshot(t, p.Snapshot(), "a")
	require.NotNil(t, snap.Whole)
	assert.Equal(t, auth.StatusCooldown, snap.Status)
	assert.Equal(t, auth.StatusCooldown, snap.Whole.Status)
	assert.Equal(t, auth.BlockCooldown, snap.Whole.Reason)
	assert.Equal(t, until, snap.Whole.NextRetryAfter)
	assert.True(t, snap.Whole.Quota.Exceeded)
	assert.Equal(t, "unified_5h", snap.Whole.Quota.Reason)
	assert.Equal(t, until, snap.Whole.Quota.NextRecoverAt)
	assert.Equal(t, 429, snap.Whole.LastError.Status)

	// sonnet's own (shorter) block ends; the credential-wide one holds
	clk.Advance(time.Hour)
	ok, _ := p.Available(a, "sonnet")
	assert.False(t, ok)

	clk.Advance(time.Hour)
	for _, m := range []string{"opus", "sonnet", "haiku"} {
		ok, _ := p.Available(a, m)
		assert.True(t, ok, "model %q after the credential-wide block ended", m)
	}
	snap = findSnapshot(t, p.Snapshot(), "a")
	assert.Equal(t, auth.StatusAvailable, snap.Status)
}

func TestWholeCredentialBlockFromParsedHints(t *testing.T) {
	now := newClock().Now()
	tests := []struct {
		name   string
		header http.Header
		body   string
		want   time.Duration
		reason string
	}{
		{"anthropic unified 5h", http.Header{
			"Anthropic-Ratelimit-Unified-5h-Status": {"rejected"},
			"Anthropic-Ratelimit-Unified-5h-Reset":  {fmt.Sprint(now.Add(3 * time.Hour).Unix())},
		}, "", 3 * time.Hour, "unified_5h"},
		{
			"codex usage limit", nil,
			fmt.Sprintf(`{"error":{"type":"usage_limit_reached","resets_at":%d,"resets_in_seconds":5400}}`, now.Add(90*time.Minute).Unix()),
			90 * time.Minute, "usage_limit_reached",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, clk := newTestPool(t, "a")
			c := p.Get("a")
			hint := auth.ParseHint(tt.header, []byte(tt.body), clk.Now())
			require.True(t, hint.Whole)
			until := p.RecordFailure(c, "some-model", auth.Outcome{Status: 429, Hint: hint})
			assert.Equal(t, clk.After(tt.want), until)
			ok, _ := p.Available(c, "another-model")
			assert.False(t, ok)
			snap := findSnapshot(t, p.Snapshot(), "a")
			require.NotNil(t, snap.Whole)
			assert.Equal(t, tt.reason, snap.Whole.Quota.Reason)
		})
	}
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

func TestRecordSuccessClearsWholeBlock(t *testing.T) {
	p, _ := newTestPool(t, "a")
	c := p.Get("a")
	p.RecordFailure(c, "m", wholeOut(time.Hour, "usage_limit_reached"))
	p.RecordSuccess(c, "m")
	ok, _ := p.Available(c, "other")
	assert.True(t, ok)
	assert.Nil(t, findSnapshot(t, p.Snapshot(), "a").Whole)
}

func TestServedModels(t *testing.T) {
	a, b := cred("a"), cred("b")
	a.Models = []string{"listed-model", "family-*"}
	health := auth.NewHealth()
	p, err := auth.NewPoolWithHealth([]*auth.Credential{a, b}, health, auth.Policy{})
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"listed-model": true}, p.ServedModels(), "a wildcard names no model")

	p.RecordSuccess(b, "served-by-b")
	p.RecordSuccess(b, "")
	p.RecordFailure(a, "refused", auth.Outcome{Status: 404, ModelNotFound: true})
	assert.Equal(t, map[string]bool{"listed-model": true, "served-by-b": true}, p.ServedModels(),
		"a model an upstream refused is not known to exist")

	// what a credential served outlives its pool, as its health does
	p2, err := auth.NewPoolWithHealth([]*auth.Credential{cred("a"), cred("b")}, health, auth.Policy{})
	require.NoError(t, err)
	assert.True(t, p2.ServedModels()["served-by-b"])

	// and is bounded: a host that answers any name cannot grow it
	for i := range 1000 {
		p.RecordSuccess(a, fmt.Sprintf("any-%d", i))
	}
	assert.Less(t, len(p.ServedModels()), 300)
}

func TestClientFaultKeepsExistingBlock(t *testing.T) {
	p, clk := newTestPool(t, "a")
	c := p.Get("a")
	until := p.RecordFailure(c, "m", rateLimited(time.Minute))
	p.RecordFailure(c, "m", auth.Outcome{Status: 400})
	ok, got := p.Available(c, "m")
	assert.False(t, ok, "a 400 lifted a rate-limit cooldown")
	assert.Equal(t, until, got)
	st, _ := p.State(c, "m")
	assert.Equal(t, 400, st.LastError.Status, "the client fault was not recorded as the last error")
	assert.Equal(t, auth.StatusCooldown, st.Status)
	clk.Advance(time.Minute)
	ok, _ = p.Available(c, "m")
	assert.True(t, ok)
}

// A credential with DisableCooling stays in rotation whatever the upstream
// answers; its failures are still recorded.
func TestDisableCooling(t *testing.T) {
	c := cred("a")
	c.DisableCooling = true
	p, err := auth.NewPool([]*auth.Credential{c})
	require.NoError(t, err)
	clk := newClock()
	p.Now = clk.Now

	outcomes := []auth.Outcome{
		rateLimited(time.Hour), rateLimited(0),
		{Status: 401},
		{Status: 500},
		{Status: 0},
		{Status: 404, ModelNotFound: true},
		wholeOut(time.Hour, "unified_7d"),
	}
	for _, o := range outcomes {
		assert.True(t, p.RecordFailure(c, "m", o).IsZero(), "status %d blocked", o.Status)
		ok, until := p.Available(c, "m")
		assert.True(t, ok, "status %d blocked", o.Status)
		assert.True(t, until.IsZero())
		assert.True(t, p.Claim(c, "m"))
		clk.Advance(time.Second)
	}
	st, ok := p.State(c, "m")
	require.True(t, ok, "the failures were not recorded")
	assert.Equal(t, auth.StatusAvailable, st.Status)
	assert.Equal(t, 404, st.LastError.Status)
	assert.NotEmpty(t, st.LastError.Message)
	assert.True(t, st.NextRetryAfter.IsZero())

	snap := findSnapshot(t, p.Snapshot(), "a")
	assert.Equal(t, auth.StatusAvailable, snap.Status)
	require.NotNil(t, snap.Whole, "the credential-wide failure was not recorded")
	assert.Equal(t, 429, snap.Whole.LastError.Status)
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
	assert.False(t, p.Claim(foreign, "m"), "a credential outside the pool was claimed")
	assert.True(t, p.RecordFailure(foreign, "m", rateLimited(0)).IsZero())
	p.RecordSuccess(foreign, "m")
	_, has := p.State(foreign, "m")
	assert.False(t, has)
}

// The statuses and reasons are kept apart, so an operator can tell a quota
// from a broken key from a disabled credential.
func TestBlockReasonsAreDistinct(t *testing.T) {
	reasons := []auth.BlockReason{auth.BlockCooldown, auth.BlockDisabled, auth.BlockOther}
	assert.Equal(t, []auth.BlockReason{"cooldown", "disabled", "other"}, reasons)
	statuses := []auth.Status{
		auth.StatusAvailable, auth.StatusCooldown, auth.StatusBlocked,
		auth.StatusProbing, auth.StatusDisabled, auth.StatusDegraded,
	}
	seen := map[auth.Status]bool{}
	for _, s := range statuses {
		assert.False(t, seen[s], "status %q twice", s)
		seen[s] = true
	}
}

func TestModelStatesAreBounded(t *testing.T) {
	tests := []struct {
		name    string
		outcome auth.Outcome
	}{
		{"blocking failures", rateLimited(time.Hour)},
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
	p.RecordFailure(c, "hot", rateLimited(time.Hour))
	for i := range 1023 {
		p.RecordFailure(c, fmt.Sprintf("old-%d", i), rateLimited(time.Second))
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

// A state being probed (its hinted recovery lies past max_cooldown) is not
// over: pruning must not forget it, or the quota would look recovered.
func TestModelStatePruningKeepsProbedQuota(t *testing.T) {
	p, clk := newTestPool(t, "a")
	c := p.Get("a")
	start := clk.Now()
	p.RecordFailure(c, "weekly", rateLimited(7*24*time.Hour))
	for i := range 1023 {
		p.RecordFailure(c, fmt.Sprintf("old-%d", i), rateLimited(time.Second))
	}
	clk.Advance(5 * time.Hour)
	p.RecordFailure(c, "new", auth.Outcome{Status: 500})

	st, has := p.State(c, "weekly")
	require.True(t, has, "pruning forgot a quota that has not recovered")
	assert.Equal(t, auth.StatusProbing, st.Status)
	assert.Equal(t, start.Add(7*24*time.Hour), st.Quota.NextRecoverAt)
	_, has = p.State(c, "old-0")
	assert.False(t, has, "an expired state survived pruning")
}

func TestPoolConcurrentUse(t *testing.T) {
	names := []string{"a", "b", "c", "d"}
	p, clk := newTestPool(t, names...)
	models := []string{"m0", "m1", "m2"}
	outcomes := []auth.Outcome{
		{Status: 0},
		{Status: 200},
		{Status: 400},
		{Status: 401},
		rateLimited(0),
		{Status: 500},
		{Status: 503},
		rateLimited(time.Second), rateLimited(24 * time.Hour), wholeOut(2*time.Second, "unified_5h"),
		wholeOut(24*time.Hour, "unified_7d"),
		{Status: 404, ModelNotFound: true},
	}

	var wg sync.WaitGroup
	var claims atomic.Int64
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				c := p.Get(names[(g+i)%len(names)])
				m := models[i%len(models)]
				if ok, _ := p.Available(c, m); ok && p.Claim(c, m) {
					claims.Add(1)
				}
				switch o := outcomes[(g*7+i)%len(outcomes)]; o.Status {
				case 200:
					p.RecordSuccess(c, m)
				default:
					p.RecordFailure(c, m, o)
				}
				p.State(c, m)
				if i%25 == 0 {
					for _, s := range p.Snapshot() {
						_ = s.Status
					}
				}
				if i%50 == 0 {
					clk.Advance(time.Minute)
				}
			}
		}()
	}
	wg.Wait()
	assert.Positive(t, claims.Load())

	// the pool still works after the storm
	c := p.Get("a")
	p.RecordSuccess(c, "m0")
	ok, _ := p.Available(c, "m0")
	assert.True(t, ok)
	until := p.RecordFailure(c, "m0", auth.Outcome{Status: 401})
	assert.Equal(t, clk.After(30*time.Minute), until)
}
