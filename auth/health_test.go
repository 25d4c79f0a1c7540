package auth_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// rebuild builds a pool over health from fresh credential values, as a
// config reload does, on clk.
func rebuild(t *testing.T, health *auth.Health, clk *clock, creds ...*auth.Credential) *auth.Pool {
	t.Helper()
	p, err := auth.NewPoolWithHealth(creds, health, auth.Policy{})
	require.NoError(t, err)
	p.Now = clk.Now
	return p
}

// A pool rebuilt over the same Health (a config reload) finds the cooldowns
// of the credentials it keeps, whatever their position in the config.
func TestHealthSurvivesRebuild(t *testing.T) {
	health := auth.NewHealth()
	clk := newClock()
	start := clk.Now()
	old := rebuild(t, health, clk, cred("a"), cred("b"), cred("c"))
	old.RecordFailure(old.Get("a"), "m", rateLimited(time.Hour))
	old.RecordFailure(old.Get("a"), "n", rateLimited(0))
	old.RecordFailure(old.Get("b"), "m", wholeOut(2*time.Hour, "unified_7d"))
	old.RecordFailure(old.Get("c"), "m", rateLimited(week)) // probed after 5h

	// new Credential values, another order, one credential gone, one new
	reloaded := rebuild(t, health, clk, cred("d"), cred("c"), cred("b"), cred("a"))
	a, b, c, d := reloaded.Get("a"), reloaded.Get("b"), reloaded.Get("c"), reloaded.Get("d")
	require.NotSame(t, old.Get("a"), a)

	ok, until := reloaded.Available(a, "m")
	assert.False(t, ok, "a reload lifted a cooldown")
	assert.Equal(t, start.Add(time.Hour), until)
	st, has := reloaded.State(a, "n")
	require.True(t, has)
	assert.Equal(t, 1, st.Quota.BackoffLevel, "a reload reset the backoff")
	ok, until = reloaded.Available(b, "other-model")
	assert.False(t, ok, "a reload lifted a credential-wide block")
	assert.Equal(t, start.Add(2*time.Hour), until)
	ok, _ = reloaded.Available(d, "m")
	assert.True(t, ok)

	// the probe is shared too: one per credential, whichever pool asks
	clk.Advance(5 * time.Hour)
	require.True(t, old.Claim(old.Get("c"), "m"))
	assert.False(t, reloaded.Claim(c, "m"), "each pool got its own probe")

	// what one pool records, the other sees
	reloaded.RecordSuccess(a, "m")
	ok, _ = old.Available(old.Get("a"), "m")
	assert.True(t, ok)
	old.RecordFailure(old.Get("a"), "m", auth.Outcome{Status: 401})
	ok, _ = reloaded.Available(a, "m")
	assert.False(t, ok)

	assert.Equal(t, findSnapshot(t, old.Snapshot(), "a").Models, findSnapshot(t, reloaded.Snapshot(), "a").Models)
}

// A credential whose key was replaced under the same name is another
// account: it starts afresh.
func TestHealthNewKeyStartsFresh(t *testing.T) {
	health := auth.NewHealth()
	clk := newClock()
	old := rebuild(t, health, clk, cred("a"))
	old.RecordFailure(old.Get("a"), "m", rateLimited(time.Hour))
	old.RecordFailure(old.Get("a"), "m", wholeOut(time.Hour, "unified_5h"))

	rotated := &auth.Credential{Name: "a", Provider: auth.Claude, APIKey: "sk-a-rotated"}
	p := rebuild(t, health, clk, rotated)
	ok, _ := p.Available(rotated, "m")
	assert.True(t, ok, "a new key inherited the old key's cooldown")
	_, has := p.State(rotated, "m")
	assert.False(t, has)
	assert.Equal(t, auth.StatusAvailable, findSnapshot(t, p.Snapshot(), "a").Status)

	// and the old key's state is still there if it comes back
	back := rebuild(t, health, clk, cred("a"))
	ok, _ = back.Available(back.Get("a"), "m")
	assert.False(t, ok)

	// a credential that takes another's key under another name is not it
	renamed := &auth.Credential{Name: "renamed", Provider: auth.Claude, APIKey: "sk-a"}
	p = rebuild(t, health, clk, renamed)
	ok, _ = p.Available(renamed, "m")
	assert.True(t, ok)
}

func TestSeparateHealthsAreIndependent(t *testing.T) {
	clk := newClock()
	p1 := rebuild(t, auth.NewHealth(), clk, cred("a"))
	p2 := rebuild(t, auth.NewHealth(), clk, cred("a"))
	p1.RecordFailure(p1.Get("a"), "m", rateLimited(time.Hour))
	ok, _ := p2.Available(p2.Get("a"), "m")
	assert.True(t, ok)

	// NewPool always starts with a health of its own
	p3, err := auth.NewPool([]*auth.Credential{cred("a")})
	require.NoError(t, err)
	ok, _ = p3.Available(p3.Get("a"), "m")
	assert.True(t, ok)
}

// RevokeSource takes every credential of one auth file out, for every
// model, with the reason kept; other files' credentials stay in, and a new
// login (ForgetSource) brings them back.
func TestHealthRevokeSource(t *testing.T) {
	health := auth.NewHealth()
	clk := newClock()
	a, b, other := cred("a"), cred("b"), cred("other")
	a.Source, b.Source, other.Source = "acct.json", "acct.json", "else.json"
	p := rebuild(t, health, clk, a, b, other)

	health.RevokeSource("acct.json", "invalid_grant: refresh token revoked", clk.Now())
	for _, c := range []*auth.Credential{a, b} {
		reason, _ := p.BlockedBy(c, "any-model")
		assert.Equal(t, auth.BlockDisabled, reason, c.Name)
		clk.Advance(24 * time.Hour)
		ok, _ := p.Available(c, "another-model")
		assert.False(t, ok, "a revoked credential came back by itself: %s", c.Name)
	}
	ok, _ := p.Available(other, "any-model")
	assert.True(t, ok)
	var found bool
	for _, s := range p.Snapshot() {
		if s.Name == "a" {
			found = true
			require.NotNil(t, s.Whole)
			assert.Contains(t, s.Whole.LastError.Message, "invalid_grant", "the reason is not visible")
			assert.Equal(t, auth.StatusDisabled, s.Status)
		}
	}
	assert.True(t, found)

	health.ForgetSource("acct.json")
	p = rebuild(t, health, clk, cred("a"))
	ok, _ = p.Available(p.Get("a"), "any-model")
	assert.True(t, ok)
}

// A file found dead before any pool held its credential (the background
// refresher runs as soon as the file is read) is revoked in the pool built
// afterwards, until a new login.
func TestHealthRevokeSourceBeforeThePool(t *testing.T) {
	health := auth.NewHealth()
	clk := newClock()
	health.RevokeSource("late.json", "invalid_grant", clk.Now())
	c := cred("late")
	c.Source = "late.json"
	p := rebuild(t, health, clk, c)
	reason, _ := p.BlockedBy(c, "any-model")
	assert.Equal(t, auth.BlockDisabled, reason)

	health.ForgetSource("late.json")
	again := cred("late")
	again.Source = "late.json"
	p = rebuild(t, health, clk, again)
	ok, _ := p.Available(again, "any-model")
	assert.True(t, ok, "a new login stayed revoked")
}
