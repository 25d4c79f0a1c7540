package auth_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// recordingSync keeps what a Health reports.
type recordingSync struct {
	mu      sync.Mutex
	changes []auth.SharedState
	forgot  []string
}

func (r *recordingSync) Changed(s auth.SharedState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, s)
}

func (r *recordingSync) Forgot(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.forgot = append(r.forgot, key)
}

func (r *recordingSync) take() []auth.SharedState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.changes
	r.changes = nil
	return out
}

// A pool reports each change of a credential's states, and a second pool
// over another Health that applies the reports ends up blocking the same.
func TestHealthSyncReportsChangesThatAnotherHealthApplies(t *testing.T) {
	h := auth.NewHealth()
	rec := &recordingSync{}
	h.SetSync(rec)
	c := cred("a")
	p, err := auth.NewPoolWithHealth([]*auth.Credential{c}, h, auth.Policy{})
	require.NoError(t, err)
	other := auth.NewHealth()
	q, err := auth.NewPoolWithHealth([]*auth.Credential{cred("a")}, other, auth.Policy{})
	require.NoError(t, err)

	until := p.RecordFailure(c, "sonnet", auth.Outcome{Status: http.StatusTooManyRequests, Hint: auth.Hint{RetryAfter: time.Hour}})
	changes := rec.take()
	require.Len(t, changes, 1)
	assert.Equal(t, auth.HealthKey(c), changes[0].Key)
	assert.Equal(t, "sonnet", changes[0].Model)
	require.NotNil(t, changes[0].State)
	assert.Equal(t, until, changes[0].State.NextRetryAfter)
	assert.WithinDuration(t, until, changes[0].Expires(), time.Second)

	other.Apply(changes[0])
	ok, qUntil := q.Available(q.Get("a"), "sonnet")
	assert.False(t, ok)
	assert.Equal(t, until, qUntil)
	assert.Empty(t, rec.take(), "an applied state is not reported again")

	p.RecordFailure(c, "", auth.Outcome{Status: http.StatusTooManyRequests, Hint: auth.Hint{Whole: true, RetryAfter: time.Minute}})
	whole := rec.take()
	require.Len(t, whole, 1)
	assert.True(t, whole[0].Whole)
	other.Apply(whole[0])
	ok, _ = q.Available(q.Get("a"), "opus")
	assert.False(t, ok, "a credential-wide block applies to every model")

	p.RecordSuccess(c, "sonnet")
	cleared := rec.take()
	require.Len(t, cleared, 2, "the model state and the credential-wide one are cleared")
	for _, s := range cleared {
		assert.Nil(t, s.State)
		other.Apply(s)
	}
	ok, _ = q.Available(q.Get("a"), "sonnet")
	assert.True(t, ok)

	var seen []auth.SharedState
	p.RecordFailure(c, "haiku", auth.Outcome{Status: http.StatusServiceUnavailable})
	h.Each(func(s auth.SharedState) { seen = append(seen, s) })
	require.Len(t, seen, 1)
	assert.Equal(t, "haiku", seen[0].Model)

	h.SetSync(nil)
	rec.take()
	p.RecordFailure(c, "opus", auth.Outcome{Status: http.StatusServiceUnavailable})
	assert.Empty(t, rec.take(), "without a sync nothing is reported")
}

// An operator's reset is reported like a success, so it reaches the
// other instances.
func TestHealthSyncReportsAReset(t *testing.T) {
	h := auth.NewHealth()
	rec := &recordingSync{}
	h.SetSync(rec)
	c := cred("a")
	p, err := auth.NewPoolWithHealth([]*auth.Credential{c}, h, auth.Policy{})
	require.NoError(t, err)
	p.RecordFailure(c, "sonnet", auth.Outcome{Status: http.StatusServiceUnavailable})
	p.RecordFailure(c, "opus", auth.Outcome{Status: http.StatusServiceUnavailable})
	rec.take()
	assert.Equal(t, 2, p.Reset(c, ""))
	cleared := rec.take()
	require.Len(t, cleared, 2)
	for _, s := range cleared {
		assert.Nil(t, s.State)
		assert.Equal(t, auth.HealthKey(c), s.Key)
	}
}
