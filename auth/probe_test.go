package auth_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

const week = 7 * 24 * time.Hour

// A hint past max_cooldown (5h by default) blocks for max_cooldown only and
// keeps the hinted recovery as the quota's; past the cap the credential is
// probed: Available says yes, and Claim lets one request through per probe
// interval.
func TestMaxCooldownCapsHintThenProbes(t *testing.T) {
	p, clk := newTestPool(t, "a")
	c := p.Get("a")
	start := clk.Now()

	until := p.RecordFailure(c, "m", rateLimited(week))
	assert.Equal(t, start.Add(5*time.Hour), until, "the hint was not capped by max_cooldown")
	st, _ := p.State(c, "m")
	assert.Equal(t, auth.StatusCooldown, st.Status)
	assert.Equal(t, until, st.NextRetryAfter)
	assert.Equal(t, start.Add(week), st.Quota.NextRecoverAt, "the hinted recovery was lost")
	assert.True(t, st.Quota.Exceeded)

	clk.Advance(5*time.Hour - time.Millisecond)
	ok, _ := p.Available(c, "m")
	assert.False(t, ok)
	assert.False(t, p.Claim(c, "m"))

	clk.Advance(time.Millisecond)
	ok, u := p.Available(c, "m")
	assert.True(t, ok, "past max_cooldown the credential is not offered for a probe")
	assert.True(t, u.IsZero())
	st, _ = p.State(c, "m")
	assert.Equal(t, auth.StatusProbing, st.Status)
	assert.Equal(t, start.Add(week), st.Quota.NextRecoverAt)
	assert.Equal(t, auth.StatusDegraded, findSnapshot(t, p.Snapshot(), "a").Status)
	assert.Equal(t, auth.StatusProbing, findSnapshot(t, p.Snapshot(), "a").Models["m"].Status)

	require.True(t, p.Claim(c, "m"), "the first request did not get the probe")
	for range 5 {
		assert.False(t, p.Claim(c, "m"), "a second request got the same probe")
	}
	ok, u = p.Available(c, "m")
	assert.False(t, ok, "a taken probe is still offered")
	assert.Equal(t, clk.After(10*time.Minute), u)

	// the probe's answer never came (the client went away): another probe
	// one interval later
	clk.Advance(10*time.Minute - time.Millisecond)
	assert.False(t, p.Claim(c, "m"))
	clk.Advance(time.Millisecond)
	assert.True(t, p.Claim(c, "m"))
	assert.False(t, p.Claim(c, "m"))

	// the quota is back when the upstream said: no more probing
	clk.Set(start.Add(week))
	ok, _ = p.Available(c, "m")
	assert.True(t, ok)
	for range 3 {
		assert.True(t, p.Claim(c, "m"), "still probing after the hinted recovery")
	}
	st, _ = p.State(c, "m")
	assert.Equal(t, auth.StatusAvailable, st.Status)
	assert.Equal(t, auth.StatusAvailable, findSnapshot(t, p.Snapshot(), "a").Status)
}

// A failed probe (the upstream still says 429) blocks for the probe interval
// and keeps the recovery the upstream announced. The gateway claims the
// probe before sending it, so the failure arrives after Claim.
func TestFailedProbe(t *testing.T) {
	tests := []struct {
		name    string
		claim   bool
		latency time.Duration // between Claim and the answer
		outcome auth.Outcome
		recover time.Duration // the quota's recovery, from the start
	}{
		{"claimed, 429 without hint", true, 0, rateLimited(0), week},
		{"claimed, 429 without hint, after a slow answer", true, 3 * time.Second, rateLimited(0), week},
		{"claimed, 429 with the same hint", true, time.Second, rateLimited(week - 5*time.Hour - time.Second), week},
		{"claimed, 429 with a later hint", true, 0, rateLimited(week), 5*time.Hour + week},
		{"claimed, 429 with a shorter hint", true, 0, rateLimited(time.Hour), week},
		{"not claimed, 429 without hint", false, 0, rateLimited(0), week},
		{"not claimed, 429 with a hint", false, 0, rateLimited(time.Hour), week},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, clk := newTestPool(t, "a")
			c := p.Get("a")
			start := clk.Now()
			p.RecordFailure(c, "m", rateLimited(week))
			clk.Advance(5 * time.Hour)
			if tt.claim {
				require.True(t, p.Claim(c, "m"))
			}
			clk.Advance(tt.latency)

			until := p.RecordFailure(c, "m", tt.outcome)

			assert.Equal(t, clk.After(10*time.Minute), until, "a failed probe blocks for the probe interval (blocked %v)", until.Sub(clk.Now()))
			st, _ := p.State(c, "m")
			assert.Equal(t, auth.StatusCooldown, st.Status)
			assert.Equal(t, auth.BlockCooldown, st.Reason)
			assert.Equal(t, start.Add(tt.recover), st.Quota.NextRecoverAt, "the announced recovery was lost")
			assert.True(t, st.Quota.Exceeded)

			// and after the interval, the next probe
			clk.Advance(10 * time.Minute)
			ok, _ := p.Available(c, "m")
			assert.True(t, ok)
			st, _ = p.State(c, "m")
			assert.Equal(t, auth.StatusProbing, st.Status)
			assert.True(t, p.Claim(c, "m"))
			assert.False(t, p.Claim(c, "m"))
		})
	}
}

// A probe that fails with a transient error keeps probing after the
// transient cooldown, without losing the quota's recovery.
func TestProbeTransientFailure(t *testing.T) {
	p, clk := newTestPool(t, "a")
	c := p.Get("a")
	start := clk.Now()
	p.RecordFailure(c, "m", rateLimited(week))
	clk.Advance(5 * time.Hour)
	require.True(t, p.Claim(c, "m"))
	assert.Equal(t, clk.After(time.Minute), p.RecordFailure(c, "m", auth.Outcome{Status: 503}))
	st, _ := p.State(c, "m")
	assert.Equal(t, start.Add(week), st.Quota.NextRecoverAt)
	clk.Advance(time.Minute)
	st, _ = p.State(c, "m")
	assert.Equal(t, auth.StatusProbing, st.Status)
}

// A successful probe clears the state: the quota came back early.
func TestSuccessfulProbe(t *testing.T) {
	p, clk := newTestPool(t, "a")
	c := p.Get("a")
	p.RecordFailure(c, "m", rateLimited(week))
	clk.Advance(5 * time.Hour)
	require.True(t, p.Claim(c, "m"))
	p.RecordSuccess(c, "m")

	_, has := p.State(c, "m")
	assert.False(t, has)
	for range 3 {
		ok, _ := p.Available(c, "m")
		assert.True(t, ok)
		assert.True(t, p.Claim(c, "m"), "a recovered credential is still probed")
	}
	assert.Equal(t, auth.StatusAvailable, findSnapshot(t, p.Snapshot(), "a").Status)
}

// A credential-wide limit past max_cooldown is probed once per interval for
// the whole credential, not once per model.
func TestWholeCredentialProbe(t *testing.T) {
	p, clk := newTestPool(t, "a")
	c := p.Get("a")
	start := clk.Now()
	until := p.RecordFailure(c, "opus", wholeOut(week, "unified_7d"))
	assert.Equal(t, start.Add(5*time.Hour), until)

	clk.Advance(5 * time.Hour)
	for _, m := range []string{"opus", "sonnet"} {
		ok, _ := p.Available(c, m)
		assert.True(t, ok, "%s is not offered for the probe", m)
	}
	snap := findSnapshot(t, p.Snapshot(), "a")
	assert.Equal(t, auth.StatusProbing, snap.Status)
	require.NotNil(t, snap.Whole)
	assert.Equal(t, start.Add(week), snap.Whole.Quota.NextRecoverAt)

	require.True(t, p.Claim(c, "sonnet"))
	assert.False(t, p.Claim(c, "opus"), "two probes of one credential in one interval")
	assert.False(t, p.Claim(c, "sonnet"))

	// the probe fails: the upstream still says the credential is out
	clk.Advance(2 * time.Second)
	until = p.RecordFailure(c, "sonnet", wholeOut(week-5*time.Hour-2*time.Second, "unified_7d"))
	assert.Equal(t, clk.After(10*time.Minute), until, "a failed probe of the credential blocks for the probe interval (blocked %v)", until.Sub(clk.Now()))
	snap = findSnapshot(t, p.Snapshot(), "a")
	require.NotNil(t, snap.Whole)
	assert.Equal(t, auth.StatusCooldown, snap.Status)
	assert.Equal(t, start.Add(week), snap.Whole.Quota.NextRecoverAt)

	clk.Advance(10 * time.Minute)
	require.True(t, p.Claim(c, "opus"))
	p.RecordSuccess(c, "opus")
	for _, m := range []string{"opus", "sonnet", "haiku"} {
		ok, _ := p.Available(c, m)
		assert.True(t, ok, "%s after a successful probe", m)
		assert.True(t, p.Claim(c, m))
	}
	assert.Equal(t, auth.StatusAvailable, findSnapshot(t, p.Snapshot(), "a").Status)
}

func TestProbePolicy(t *testing.T) {
	p, clk := newPolicyPool(t, auth.Policy{MaxCooldown: time.Hour, ProbeInterval: time.Minute}, "a")
	c := p.Get("a")
	start := clk.Now()
	assert.Equal(t, start.Add(time.Hour), p.RecordFailure(c, "m", rateLimited(3*time.Hour)))
	clk.Advance(time.Hour)
	require.True(t, p.Claim(c, "m"))
	assert.False(t, p.Claim(c, "m"))
	clk.Advance(time.Minute)
	assert.True(t, p.Claim(c, "m"))

	// a hint no longer than max_cooldown is not probed
	assert.Equal(t, clk.After(time.Hour), p.RecordFailure(c, "n", rateLimited(time.Hour)))
	clk.Advance(time.Hour)
	st, _ := p.State(c, "n")
	assert.Equal(t, auth.StatusAvailable, st.Status)
	assert.True(t, p.Claim(c, "n"))
	assert.True(t, p.Claim(c, "n"))
}
