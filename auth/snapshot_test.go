package auth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// findSnapshot returns the snapshot of the credential called name.
func findSnapshot(t *testing.T, snaps []auth.CredentialSnapshot, name string) auth.CredentialSnapshot {
	t.Helper()
	for _, s := range snaps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no snapshot of %q", name)
	return auth.CredentialSnapshot{}
}

// snapshotPool is a pool with one credential in each state, built in an
// order other than by name.
func snapshotPool(t *testing.T) (*auth.Pool, *clock) {
	t.Helper()
	mk := func(name string) *auth.Credential {
		return &auth.Credential{
			Name: name, Provider: auth.OpenAI, APIKey: "sk-SECRET-" + name + "-0123456789",
			Priority: 2, Weight: 3, Group: "g-" + name,
		}
	}
	off := mk("e-disabled")
	off.Disabled = true
	creds := []*auth.Credential{mk("d-wholeother"), mk("c-whole"), off, mk("b-degraded"), mk("a-fresh")}
	p, err := auth.NewPool(creds)
	require.NoError(t, err)
	clk := newClock()
	p.Now = clk.Now

	p.RecordFailure(p.Get("b-degraded"), "gpt-5", rateLimited(time.Minute))
	p.RecordFailure(p.Get("b-degraded"), "gpt-4o", auth.Outcome{Status: 400}) // recorded, not blocking
	p.RecordFailure(p.Get("c-whole"), "gpt-5", wholeOut(time.Hour, "usage_limit_reached"))
	p.RecordFailure(p.Get("d-wholeother"), "gpt-5", auth.Outcome{Status: 401})
	p.RecordFailure(p.Get("e-disabled"), "gpt-5", auth.Outcome{Status: 500})
	return p, clk
}

func TestSnapshot(t *testing.T) {
	p, clk := snapshotPool(t)
	start := clk.Now()
	snaps := p.Snapshot()

	names := []string{}
	for _, s := range snaps {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"a-fresh", "b-degraded", "c-whole", "d-wholeother", "e-disabled"}, names, "not every credential, or not ordered by name")

	for _, s := range snaps {
		c := p.Get(s.Name)
		assert.Equal(t, c.Fingerprint(), s.Fingerprint)
		assert.NotEmpty(t, s.Fingerprint)
		assert.Equal(t, auth.OpenAI, s.Provider)
		assert.Equal(t, 2, s.Priority)
		assert.Equal(t, 3, s.Weight)
		assert.Equal(t, "g-"+s.Name, s.Group)
		assert.Equal(t, c.Disabled, s.Disabled)
	}

	fresh := findSnapshot(t, snaps, "a-fresh")
	assert.Equal(t, auth.StatusAvailable, fresh.Status)
	assert.Nil(t, fresh.Whole)
	assert.Empty(t, fresh.Models)

	deg := findSnapshot(t, snaps, "b-degraded")
	assert.Equal(t, auth.StatusDegraded, deg.Status, "a credential with a blocked model")
	assert.Nil(t, deg.Whole)
	require.Len(t, deg.Models, 2)
	assert.Equal(t, auth.StatusCooldown, deg.Models["gpt-5"].Status)
	assert.Equal(t, auth.BlockCooldown, deg.Models["gpt-5"].Reason)
	assert.Equal(t, start.Add(time.Minute), deg.Models["gpt-5"].NextRetryAfter)
	assert.Equal(t, auth.StatusAvailable, deg.Models["gpt-4o"].Status)
	assert.Equal(t, 400, deg.Models["gpt-4o"].LastError.Status)

	whole := findSnapshot(t, snaps, "c-whole")
	assert.Equal(t, auth.StatusCooldown, whole.Status, "a credential that is out as a whole")
	require.NotNil(t, whole.Whole)
	assert.Equal(t, "usage_limit_reached", whole.Whole.Quota.Reason)
	assert.Empty(t, whole.Models)

	other := findSnapshot(t, snaps, "d-wholeother")
	assert.Equal(t, auth.StatusDegraded, other.Status, "an auth failure is recorded for the model that saw it")
	assert.Equal(t, auth.StatusBlocked, other.Models["gpt-5"].Status)
	assert.Equal(t, auth.BlockOther, other.Models["gpt-5"].Reason)

	off := findSnapshot(t, snaps, "e-disabled")
	assert.Equal(t, auth.StatusDisabled, off.Status, "disabled wins over any other state")

	// the snapshot is a copy: changing it does not change the pool
	deg.Models["gpt-5"] = auth.ModelState{}
	whole.Whole.NextRetryAfter = time.Time{}
	ok, _ := p.Available(p.Get("c-whole"), "gpt-5")
	assert.False(t, ok)
	ok, _ = p.Available(p.Get("b-degraded"), "gpt-5")
	assert.False(t, ok)

	// blocks that ended are shown lifted
	clk.Advance(time.Hour)
	snaps = p.Snapshot()
	for _, name := range []string{"a-fresh", "b-degraded", "c-whole", "d-wholeother"} {
		s := findSnapshot(t, snaps, name)
		assert.Equal(t, auth.StatusAvailable, s.Status, name)
		for m, st := range s.Models {
			assert.Equal(t, auth.StatusAvailable, st.Status, "%s for %s", name, m)
		}
		if s.Whole != nil {
			assert.Equal(t, auth.StatusAvailable, s.Whole.Status, name)
		}
	}
	assert.Equal(t, auth.StatusDisabled, findSnapshot(t, snaps, "e-disabled").Status)
}

func TestSnapshotEmptyPool(t *testing.T) {
	p, err := auth.NewPool(nil)
	require.NoError(t, err)
	assert.Empty(t, p.Snapshot())
	out, err := json.Marshal(p.Snapshot())
	require.NoError(t, err)
	assert.Equal(t, "[]", string(out))
}

// No secret anywhere in a snapshot, however it is printed.
func TestSnapshotHoldsNoSecret(t *testing.T) {
	p, _ := snapshotPool(t)
	snaps := p.Snapshot()
	js, err := json.Marshal(snaps)
	require.NoError(t, err)
	indented, err := json.MarshalIndent(snaps, "", "  ")
	require.NoError(t, err)
	whole := findSnapshot(t, snaps, "c-whole")
	outputs := map[string]string{
		"%+v":          fmt.Sprintf("%+v", snaps),
		"%v":           fmt.Sprintf("%v", snaps),
		"%#v":          fmt.Sprintf("%#v", snaps),
		"%+v of one":   fmt.Sprintf("%+v", whole),
		"%#v of one":   fmt.Sprintf("%#v", whole),
		"%+v of whole": fmt.Sprintf("%+v", *whole.Whole),
		"%+v of model": fmt.Sprintf("%+v", findSnapshot(t, snaps, "b-degraded").Models),
		"json":         string(js),
		"json indent":  string(indented),
	}
	for how, out := range outputs {
		for _, c := range p.Credentials() {
			assert.NotContains(t, out, c.APIKey, how)
		}
		assert.NotContains(t, out, "SECRET", how)
		assert.NotContains(t, out, "0123456789", how)
	}
	for _, how := range []string{"%+v", "%v", "%#v", "json", "json indent"} {
		for _, c := range p.Credentials() {
			assert.Contains(t, outputs[how], c.Fingerprint(), "%s: the credential is not identifiable", how)
		}
	}
	assert.Contains(t, outputs["%+v of one"], whole.Fingerprint)
}

// The JSON a management API serves uses the names of DESIGN §7.
func TestSnapshotJSON(t *testing.T) {
	p, _ := snapshotPool(t)
	js, err := json.Marshal(p.Snapshot())
	require.NoError(t, err)
	var out []map[string]any
	require.NoError(t, json.Unmarshal(js, &out))
	require.Len(t, out, 5)

	c := out[2]
	assert.Equal(t, "c-whole", c["name"])
	assert.Equal(t, "cooldown", c["status"])
	assert.Equal(t, p.Get("c-whole").Fingerprint(), c["fingerprint"])
	whole, ok := c["whole"].(map[string]any)
	require.True(t, ok, "no whole state in %s", js)
	assert.Equal(t, "cooldown", whole["reason"])
	assert.Contains(t, whole, "next_retry_after")
	lastErr, ok := whole["last_error"].(map[string]any)
	require.True(t, ok)
	assert.EqualValues(t, 429, lastErr["status"])
	assert.Contains(t, lastErr, "message")
	assert.Contains(t, lastErr, "time")
	quota, ok := whole["quota"].(map[string]any)
	require.True(t, ok)
	assert.Equal(t, true, quota["exceeded"])
	assert.Equal(t, "usage_limit_reached", quota["reason"])
	assert.Contains(t, quota, "next_recover_at")
	assert.Contains(t, quota, "backoff_level")

	b := out[1]
	models, ok := b["models"].(map[string]any)
	require.True(t, ok)
	assert.Contains(t, models, "gpt-5")
	assert.Equal(t, "degraded", b["status"])
	assert.Equal(t, "disabled", out[4]["status"])
	assert.False(t, strings.Contains(string(js), "nextProbe"), "an unexported field leaked")
}

// An operator's reset lifts one model's block, or every block of the
// credential, the credential-wide one included; the others keep theirs.
func TestResetLiftsBlocks(t *testing.T) {
	p, _ := snapshotPool(t)
	b := p.Get("b-degraded")
	ok, _ := p.Available(b, "gpt-5")
	require.False(t, ok)
	assert.Equal(t, 0, p.Reset(b, "o3"), "a model without a state clears nothing")
	assert.Equal(t, 1, p.Reset(b, "gpt-5"))
	ok, _ = p.Available(b, "gpt-5")
	assert.True(t, ok, "the reset model serves again")
	_, kept := p.State(b, "gpt-4o")
	assert.True(t, kept, "another model's state is not reset with ?model=")

	c := p.Get("c-whole")
	ok, _ = p.Available(c, "o3")
	require.False(t, ok, "a credential-wide block covers every model")
	assert.Equal(t, 1, p.Reset(c, ""), "the credential-wide state")
	ok, _ = p.Available(c, "gpt-5")
	assert.True(t, ok)
	assert.Equal(t, auth.StatusAvailable, findSnapshot(t, p.Snapshot(), "c-whole").Status)

	d := p.Get("d-wholeother")
	ok, _ = p.Available(d, "gpt-5")
	assert.False(t, ok, "a reset of one credential leaves the others blocked")
}

// stateReporter is an OAuth token provider that tells a fixed refresh state.
type stateReporter struct{ st auth.RefreshState }

func (stateReporter) Access(context.Context) (string, error)             { return "tok", nil }
func (stateReporter) Invalidate(context.Context, string) (string, error) { return "tok", nil }
func (r stateReporter) RefreshState() auth.RefreshState                  { return r.st }

// An OAuth credential's snapshot carries its token's refresh state, so a
// refresh that keeps failing shows in the management API; an API key has
// none.
func TestSnapshotShowsRefreshState(t *testing.T) {
	st := auth.RefreshState{
		Failures: 3, LastError: "claude oauth refresh: status 403: answered with a Cloudflare challenge page",
		RetryAt: time.Date(2030, 1, 1, 0, 0, 20, 0, time.UTC),
	}
	pool, err := auth.NewPool([]*auth.Credential{
		{Name: "claude-alice", Provider: auth.Claude, OAuth: stateReporter{st}},
		{Name: "key", Provider: auth.Claude, APIKey: "k"},
	})
	require.NoError(t, err)
	snaps := pool.Snapshot()
	got := findSnapshot(t, snaps, "claude-alice").OAuth
	require.NotNil(t, got)
	assert.Equal(t, st, *got)
	assert.Nil(t, findSnapshot(t, snaps, "key").OAuth)
	raw, err := json.Marshal(findSnapshot(t, snaps, "claude-alice"))
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"oauth":{"failures":3,"retry_at":"2030-01-01T00:00:20Z","last_error":"claude oauth refresh: status 403`)
}
