package oauth_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
	"github.com/caddy-cliproxy/cliproxy/internal/mockoauth"
)

// oauthClock is a fake clock safe for concurrent use.
type oauthClock struct{ nanos atomic.Int64 }

func newOAuthClock() *oauthClock {
	c := new(oauthClock)
	c.nanos.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *oauthClock) Now() time.Time          { return time.Unix(0, c.nanos.Load()).UTC() }
func (c *oauthClock) Advance(d time.Duration) { c.nanos.Add(int64(d)) }

// oauthEnv is a mock token endpoint, a Refresher pointed at it for every
// provider (one path per provider) and a fake clock.
type oauthEnv struct {
	mock *mockoauth.Server
	clk  *oauthClock
	ref  *oauth.Refresher

	mu        sync.Mutex
	persisted []oauth.Token
	revoked   []string
}

func newOAuthEnv(t *testing.T, cfg mockoauth.Config) *oauthEnv {
	t.Helper()
	env := &oauthEnv{clk: newOAuthClock()}
	cfg.Now = env.clk.Now
	env.mock = mockoauth.New(cfg)
	srv := httptest.NewServer(env.mock)
	t.Cleanup(srv.Close)
	env.ref = &oauth.Refresher{
		Client: srv.Client(),
		TokenURLs: map[oauth.OAuthProvider]string{
			oauth.OAuthClaude: srv.URL + "/claude/token",
			oauth.OAuthCodex:  srv.URL + "/codex/token",
			oauth.OAuthGoogle: srv.URL + "/google/token",
		},
		Now: env.clk.Now,
	}
	return env
}

// source builds a TokenSource on env's clock that records what it persists
// and revokes.
func (env *oauthEnv) source(p oauth.OAuthProvider, tok oauth.Token, opts oauth.TokenSourceOptions) *oauth.TokenSource {
	opts.Now = env.clk.Now
	opts.OnRefresh = func(tok oauth.Token) {
		env.mu.Lock()
		defer env.mu.Unlock()
		env.persisted = append(env.persisted, tok)
	}
	opts.OnRevoked = func(reason string) {
		env.mu.Lock()
		defer env.mu.Unlock()
		env.revoked = append(env.revoked, reason)
	}
	return oauth.NewTokenSource(p, tok, env.ref, opts)
}

func (env *oauthEnv) persistedTokens() []oauth.Token {
	env.mu.Lock()
	defer env.mu.Unlock()
	return append([]oauth.Token(nil), env.persisted...)
}

func (env *oauthEnv) revokedReasons() []string {
	env.mu.Lock()
	defer env.mu.Unlock()
	return append([]string(nil), env.revoked...)
}

// expiring is the initial token of the tests, expiring in d.
func (env *oauthEnv) expiring(d time.Duration) oauth.Token {
	return oauth.Token{AccessToken: "at-0", RefreshToken: "rt-0", Expiry: env.clk.Now().Add(d)}
}

// concurrently runs f n times at once and returns the results.
func concurrently(n int, f func() (string, error)) ([]string, []error) {
	toks, errs := make([]string, n), make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			toks[i], errs[i] = f()
		}()
	}
	close(start)
	wg.Wait()
	return toks, errs
}

func TestTokenSourceNoRefreshWhenFresh(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{Format: mockoauth.Claude})
	ts := env.source(oauth.OAuthClaude, env.expiring(time.Hour), oauth.TokenSourceOptions{})
	for range 5 {
		at, err := ts.Access(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "at-0", at)
	}
	env.clk.Advance(54 * time.Minute) // 6 minutes left: outside the 5m skew
	at, err := ts.Access(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "at-0", at)
	assert.Zero(t, env.mock.Refreshes())
	assert.Empty(t, env.persistedTokens())
}

func TestTokenSourceUnknownExpiryIsNotRefreshed(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{})
	ts := env.source(oauth.OAuthClaude, oauth.Token{AccessToken: "at-0", RefreshToken: "rt-0"}, oauth.TokenSourceOptions{})
	env.clk.Advance(1000 * time.Hour)
	at, err := ts.Access(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "at-0", at)
	assert.Zero(t, env.mock.Refreshes())
}

// TestTokenSourceRefreshesAheadOfExpiry: a token about to expire is refreshed
// before use, and the new token is persisted before the caller gets it.
func TestTokenSourceRefreshesAheadOfExpiry(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{Format: mockoauth.Claude})
	ts := env.source(oauth.OAuthClaude, env.expiring(4*time.Minute), oauth.TokenSourceOptions{})

	at, err := ts.Access(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "mock-access-1", at)
	assert.Equal(t, 1, env.mock.RefreshesFor("rt-0"))

	want := oauth.Token{AccessToken: "mock-access-1", RefreshToken: "mock-refresh-1", Expiry: env.clk.Now().Add(time.Hour)}
	assert.Equal(t, []oauth.Token{want}, env.persistedTokens(), "persisted once, before use")
	assert.Equal(t, want, ts.Token())
	st := ts.Status()
	assert.Equal(t, env.clk.Now(), st.LastRefresh)
	assert.Equal(t, want.Expiry.Add(-5*time.Minute), st.RefreshAt)

	// Fresh now: no more refreshes.
	for range 3 {
		at, err = ts.Access(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "mock-access-1", at)
	}
	assert.Equal(t, 1, env.mock.Refreshes())

	// The next refresh presents the rotated refresh token.
	env.clk.Advance(56 * time.Minute)
	at, err = ts.Access(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "mock-access-2", at)
	assert.Equal(t, 1, env.mock.RefreshesFor("mock-refresh-1"))
	assert.Len(t, env.persistedTokens(), 2)
}

func TestTokenSourceShortLivedTokenIsNotRefreshedOnEveryUse(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{Format: mockoauth.Codex, ExpiresIn: time.Minute})
	ts := env.source(oauth.OAuthCodex, env.expiring(0), oauth.TokenSourceOptions{})
	at, err := ts.Access(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "mock-access-1", at)

	// The token lives 1m, less than the 5m skew: it is refreshed at half
	// its life, not on every use.
	env.clk.Advance(29 * time.Second)
	at, err = ts.Access(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "mock-access-1", at)
	assert.Equal(t, 1, env.mock.Refreshes())

	env.clk.Advance(time.Second)
	at, err = ts.Access(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "mock-access-2", at)
}

// TestTokenSourceSingleFlightAccess: 20 concurrent requests with an expired
// token cause one refresh.
func TestTokenSourceSingleFlightAccess(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{Format: mockoauth.Codex, DetectReuse: true})
	env.mock.SetFault("*", mockoauth.Fault{Delay: 100 * time.Millisecond}) // keep the refresh in flight
	ts := env.source(oauth.OAuthCodex, env.expiring(-time.Minute), oauth.TokenSourceOptions{})

	toks, errs := concurrently(20, func() (string, error) { return ts.Access(context.Background()) })
	for i := range toks {
		require.NoError(t, errs[i])
		assert.Equal(t, "mock-access-1", toks[i])
	}
	assert.Equal(t, 1, env.mock.Refreshes())
	assert.Len(t, env.persistedTokens(), 1)
}

// TestTokenSourceSingleFlightInvalidate: 20 requests rejected with the same
// token cause one refresh, and all retry with the new token.
func TestTokenSourceSingleFlightInvalidate(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{Format: mockoauth.Claude, DetectReuse: true})
	env.mock.SetFault("*", mockoauth.Fault{Delay: 100 * time.Millisecond})
	ts := env.source(oauth.OAuthClaude, env.expiring(time.Hour), oauth.TokenSourceOptions{})

	toks, errs := concurrently(20, func() (string, error) { return ts.Invalidate(context.Background(), "at-0") })
	for i := range toks {
		require.NoError(t, errs[i])
		assert.Equal(t, "mock-access-1", toks[i])
	}
	assert.Equal(t, 1, env.mock.Refreshes())
	assert.Len(t, env.persistedTokens(), 1)

	// A latecomer rejected with the old token gets the replacement
	// without a refresh.
	at, err := ts.Invalidate(context.Background(), "at-0")
	require.NoError(t, err)
	assert.Equal(t, "mock-access-1", at)
	assert.Equal(t, 1, env.mock.Refreshes())

	// A rejection of the new token refreshes again.
	env.mock.ClearFaults()
	at, err = ts.Invalidate(context.Background(), "mock-access-1")
	require.NoError(t, err)
	assert.Equal(t, "mock-access-2", at)
	assert.Equal(t, 2, env.mock.Refreshes())
}

func TestTokenSourceInvalidateAlreadyReplaced(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{Format: mockoauth.Google})
	ts := env.source(oauth.OAuthGoogle, env.expiring(time.Hour), oauth.TokenSourceOptions{})
	at, err := ts.Invalidate(context.Background(), "at-from-before-a-reload")
	require.NoError(t, err)
	assert.Equal(t, "at-0", at)
	assert.Zero(t, env.mock.Refreshes())
}

func TestTokenSourceGoogleKeepsRefreshToken(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{Format: mockoauth.Google, ExpiresIn: 3599 * time.Second})
	ts := env.source(oauth.OAuthGoogle, env.expiring(-time.Second), oauth.TokenSourceOptions{})
	at, err := ts.Access(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "mock-access-1", at)
	tok := ts.Token()
	assert.Equal(t, "rt-0", tok.RefreshToken)
	assert.Equal(t, env.clk.Now().Add(3599*time.Second), tok.Expiry)
	assert.Equal(t, []oauth.Token{tok}, env.persistedTokens())

	env.clk.Advance(time.Hour)
	_, err = ts.Access(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 2, env.mock.RefreshesFor("rt-0"), "google refresh tokens are reused")
}

// TestTokenSourceRevoked: a dead refresh token revokes the source with a
// visible reason, and no refresh is attempted again.
func TestTokenSourceRevoked(t *testing.T) {
	cases := []struct {
		name     string
		provider oauth.OAuthProvider
		setup    func(env *oauthEnv)
		code     string
	}{
		{"invalid_grant", oauth.OAuthClaude, func(env *oauthEnv) {
			env.mock.SetFault("rt-0", mockoauth.Fault{Status: 400, Error: "invalid_grant", Description: "Refresh token not found or invalid"})
		}, "invalid_grant"},
		{"google invalid_grant", oauth.OAuthGoogle, func(env *oauthEnv) {
			env.mock.SetFault("*", mockoauth.Fault{Status: 400, Error: "invalid_grant", Description: "Token has been expired or revoked."})
		}, "invalid_grant"},
		{"refresh_token_reused", oauth.OAuthCodex, func(env *oauthEnv) {
			// Someone else (the user's own Codex CLI) refreshed with the
			// same refresh token first.
			_, err := env.ref.Refresh(context.Background(), oauth.OAuthCodex, "rt-0")
			require.NoError(t, err)
		}, "refresh_token_reused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newOAuthEnv(t, mockoauth.Config{DetectReuse: true})
			tc.setup(env)
			before := env.mock.Refreshes()
			ts := env.source(tc.provider, env.expiring(-time.Minute), oauth.TokenSourceOptions{})

			_, err := ts.Access(context.Background())
			require.ErrorIs(t, err, oauth.ErrRevoked)
			assert.Contains(t, err.Error(), tc.code)
			revoked, reason := ts.Revoked()
			assert.True(t, revoked)
			assert.Contains(t, reason, tc.code)
			assert.NotContains(t, reason, "rt-0")
			assert.Equal(t, []string{reason}, env.revokedReasons())
			st := ts.Status()
			assert.True(t, st.Revoked)
			assert.Equal(t, reason, st.Reason)

			// No further attempts, however long and however asked.
			env.clk.Advance(24 * time.Hour)
			_, err = ts.Access(context.Background())
			assert.ErrorIs(t, err, oauth.ErrRevoked)
			_, err = ts.Invalidate(context.Background(), "at-0")
			assert.ErrorIs(t, err, oauth.ErrRevoked)
			assert.Equal(t, before+1, env.mock.Refreshes())
			assert.Len(t, env.revokedReasons(), 1)
			assert.Empty(t, env.persistedTokens())
		})
	}
}

// TestTokenSourceRevokedDespiteValidToken: a revoked account is out even
// while its access token has time left.
func TestTokenSourceRevokedDespiteValidToken(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{Format: mockoauth.Codex})
	env.mock.SetFault("*", mockoauth.Fault{Status: 401, Error: "refresh_token_reused"})
	ts := env.source(oauth.OAuthCodex, env.expiring(2*time.Minute), oauth.TokenSourceOptions{})
	_, err := ts.Access(context.Background())
	assert.ErrorIs(t, err, oauth.ErrRevoked)

	// Update (the user signed in again) brings it back.
	env.mock.ClearFaults()
	ts.Update(oauth.Token{AccessToken: "at-new", RefreshToken: "rt-new", Expiry: env.clk.Now().Add(time.Hour)})
	revoked, _ := ts.Revoked()
	assert.False(t, revoked)
	at, err := ts.Access(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "at-new", at)
}

// TestTokenSourceBackoff: failed refreshes are retried no sooner than the
// backoff (5s, 10s, 20s, … capped), not once per request.
func TestTokenSourceBackoff(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{Format: mockoauth.Claude})
	env.mock.SetFault("*", mockoauth.Fault{Status: 500})
	ts := env.source(oauth.OAuthClaude, env.expiring(-time.Minute), oauth.TokenSourceOptions{MaxBackoff: 15 * time.Second})

	access := func() error {
		_, err := ts.Access(context.Background())
		return err
	}
	err := access()
	require.Error(t, err)
	assert.NotErrorIs(t, err, oauth.ErrRevoked)
	assert.Contains(t, err.Error(), "server_error")

	_, errs := concurrently(20, func() (string, error) { return ts.Access(context.Background()) })
	for _, err := range errs {
		assert.Error(t, err, "the last error while backing off")
	}
	assert.Equal(t, 1, env.mock.Refreshes(), "no attempt within the backoff")
	st := ts.Status()
	assert.Equal(t, 1, st.Failures)
	assert.Equal(t, env.clk.Now().Add(5*time.Second), st.RetryAt)
	assert.Contains(t, st.LastError, "status 500")

	env.clk.Advance(5 * time.Second)
	require.Error(t, access())
	assert.Equal(t, 2, env.mock.Refreshes())

	env.clk.Advance(9 * time.Second) // second backoff is 10s
	require.Error(t, access())
	assert.Equal(t, 2, env.mock.Refreshes())
	env.clk.Advance(time.Second)
	require.Error(t, access())
	assert.Equal(t, 3, env.mock.Refreshes())

	env.clk.Advance(15 * time.Second) // third would be 20s: capped at 15s
	require.Error(t, access())
	assert.Equal(t, 4, env.mock.Refreshes())

	// Recovery resets the backoff.
	env.mock.ClearFaults()
	env.clk.Advance(15 * time.Second)
	at, err := ts.Invalidate(context.Background(), "at-0")
	require.NoError(t, err)
	assert.Equal(t, "mock-access-1", at)
	st = ts.Status()
	assert.Zero(t, st.Failures)
	assert.Empty(t, st.LastError)
	assert.True(t, st.RetryAt.IsZero())
}

// TestTokenSourceServesValidTokenWhileRefreshFails: a transient failure does
// not take away a token that still works.
func TestTokenSourceServesValidTokenWhileRefreshFails(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{Format: mockoauth.Codex})
	env.mock.SetFault("*", mockoauth.Fault{Status: 503})
	ts := env.source(oauth.OAuthCodex, env.expiring(3*time.Minute), oauth.TokenSourceOptions{})

	for range 10 {
		at, err := ts.Access(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "at-0", at)
	}
	assert.Equal(t, 1, env.mock.Refreshes())

	// Once expired, the error.
	env.clk.Advance(3 * time.Minute)
	_, err := ts.Access(context.Background())
	assert.ErrorContains(t, err, "status 503")
}

// TestTokenSourceRefreshTimeout: a token endpoint that hangs counts as a
// failure after Timeout, and backs off like one.
func TestTokenSourceRefreshTimeout(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{Format: mockoauth.Google})
	env.mock.SetFault("*", mockoauth.Fault{Delay: 5 * time.Second})
	ts := env.source(oauth.OAuthGoogle, env.expiring(time.Minute), oauth.TokenSourceOptions{Timeout: 50 * time.Millisecond})

	start := time.Now()
	at, err := ts.Access(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "at-0", at, "still valid: served despite the failed refresh")
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Contains(t, ts.Status().LastError, "deadline exceeded")

	for range 5 {
		_, err = ts.Access(context.Background())
		require.NoError(t, err)
	}
	assert.Equal(t, 1, env.mock.Refreshes())

	env.clk.Advance(2 * time.Minute)
	_, err = ts.Access(context.Background())
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestTokenSourceInvalidateDuringBackoff: after a 401 and a failed refresh,
// the rejected token is not handed out again.
func TestTokenSourceInvalidateDuringBackoff(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{Format: mockoauth.Claude})
	env.mock.SetFault("*", mockoauth.Fault{Status: 500, Times: 1})
	ts := env.source(oauth.OAuthClaude, env.expiring(time.Hour), oauth.TokenSourceOptions{})

	_, err := ts.Invalidate(context.Background(), "at-0")
	require.ErrorContains(t, err, "status 500")
	_, err = ts.Access(context.Background())
	require.Error(t, err, "the rejected token is not served")
	_, err = ts.Invalidate(context.Background(), "at-0")
	require.Error(t, err)
	assert.Equal(t, 1, env.mock.Refreshes())

	env.clk.Advance(5 * time.Second)
	at, err := ts.Access(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "mock-access-1", at)
}

// TestTokenSourceWaiterCancel: a waiter whose request is canceled stops
// waiting; the refresh completes for the others.
func TestTokenSourceWaiterCancel(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{Format: mockoauth.Claude})
	env.mock.SetFault("*", mockoauth.Fault{Delay: 300 * time.Millisecond})
	ts := env.source(oauth.OAuthClaude, env.expiring(-time.Minute), oauth.TokenSourceOptions{})

	ctx, cancel := context.WithCancel(context.Background())
	canceled := make(chan error, 1)
	go func() {
		_, err := ts.Access(ctx)
		canceled <- err
	}()
	other := make(chan string, 1)
	go func() {
		at, err := ts.Invalidate(context.Background(), "at-0")
		assert.NoError(t, err)
		other <- at
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-canceled:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(200 * time.Millisecond):
		t.Fatal("canceled waiter still waiting")
	}
	assert.Equal(t, "mock-access-1", <-other)
	assert.Equal(t, 1, env.mock.Refreshes())
	assert.Len(t, env.persistedTokens(), 1)
}

// backgroundRunning reports whether a TokenSource background goroutine
// exists (started or not yet scheduled: its "created by" line names
// StartBackground either way).
func backgroundRunning() bool {
	buf := make([]byte, 4<<20)
	n := runtime.Stack(buf, true)
	return strings.Contains(string(buf[:n]), "created by github.com/caddy-cliproxy/cliproxy/auth/oauth.(*TokenSource).StartBackground")
}

// TestTokenSourceBackground: the background refresher refreshes before
// expiry without any request, and Stop ends it.
func TestTokenSourceBackground(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{Format: mockoauth.Codex, DetectReuse: true})
	ts := env.source(oauth.OAuthCodex, env.expiring(10*time.Minute),
		oauth.TokenSourceOptions{PollInterval: 2 * time.Millisecond})
	ts.StartBackground(context.Background())
	ts.StartBackground(context.Background()) // no second goroutine

	time.Sleep(20 * time.Millisecond)
	assert.Zero(t, env.mock.Refreshes(), "not due yet")

	env.clk.Advance(5*time.Minute + time.Second)
	require.Eventually(t, func() bool { return len(env.persistedTokens()) == 1 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, "mock-access-1", ts.Token().AccessToken)
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, 1, env.mock.Refreshes(), "once")

	// Requests use the refreshed token without waiting.
	at, err := ts.Access(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "mock-access-1", at)

	ts.Stop()
	assert.False(t, backgroundRunning(), "Stop waits for the goroutine")
	ts.Stop() // idempotent
	env.clk.Advance(2 * time.Hour)
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, 1, env.mock.Refreshes(), "nothing refreshes after Stop")
}

func TestTokenSourceBackgroundEndsWithContext(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{Format: mockoauth.Claude})
	ts := env.source(oauth.OAuthClaude, env.expiring(time.Hour), oauth.TokenSourceOptions{PollInterval: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	ts.StartBackground(ctx)
	require.True(t, backgroundRunning())
	cancel()
	require.Eventually(t, func() bool { return !backgroundRunning() }, 5*time.Second, time.Millisecond)

	// It can be started again, and Stop still works.
	ts.StartBackground(context.Background())
	assert.True(t, backgroundRunning())
	ts.Stop()
	assert.False(t, backgroundRunning())
}

// TestTokenSourceBackgroundBacksOff: the background refresher respects the
// backoff too and recovers.
func TestTokenSourceBackgroundBacksOff(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{Format: mockoauth.Google})
	env.mock.SetFault("*", mockoauth.Fault{Status: 500})
	ts := env.source(oauth.OAuthGoogle, env.expiring(time.Minute), oauth.TokenSourceOptions{PollInterval: time.Millisecond})
	ts.StartBackground(context.Background())
	t.Cleanup(ts.Stop)

	require.Eventually(t, func() bool { return env.mock.Refreshes() == 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(30 * time.Millisecond)
	assert.Equal(t, 1, env.mock.Refreshes(), "waits out the backoff")

	env.mock.ClearFaults()
	env.clk.Advance(5 * time.Second)
	require.Eventually(t, func() bool { return ts.Token().AccessToken == "mock-access-1" }, 5*time.Second, time.Millisecond)
	assert.Equal(t, 2, env.mock.Refreshes())
}

// TestTokenSourceStopWaitsForRefresh: Stop lets a refresh in flight finish
// and persist, so a rotated refresh token is not lost.
func TestTokenSourceStopWaitsForRefresh(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{Format: mockoauth.Claude})
	env.mock.SetFault("*", mockoauth.Fault{Delay: 100 * time.Millisecond})
	ts := env.source(oauth.OAuthClaude, env.expiring(-time.Minute), oauth.TokenSourceOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, _ = ts.Access(ctx) }()
	require.Eventually(t, func() bool { return env.mock.Refreshes() == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	ts.Stop()
	assert.Len(t, env.persistedTokens(), 1)
}

// TestTokenSourceUpdateDuringRefresh: a token installed by Update while a
// refresh is in flight wins over that refresh's result.
func TestTokenSourceUpdateDuringRefresh(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{Format: mockoauth.Claude})
	env.mock.SetFault("*", mockoauth.Fault{Delay: 100 * time.Millisecond})
	ts := env.source(oauth.OAuthClaude, env.expiring(-time.Minute), oauth.TokenSourceOptions{})
	got := make(chan string, 1)
	go func() {
		at, err := ts.Access(context.Background())
		assert.NoError(t, err)
		got <- at
	}()
	require.Eventually(t, func() bool { return env.mock.Refreshes() == 1 }, 5*time.Second, time.Millisecond)
	ts.Update(oauth.Token{AccessToken: "at-relogin", RefreshToken: "rt-relogin", Expiry: env.clk.Now().Add(time.Hour)})
	assert.Equal(t, "at-relogin", <-got)
	assert.Equal(t, "rt-relogin", ts.Token().RefreshToken)
	assert.Empty(t, env.persistedTokens())
}

func TestTokenSourceNoRefreshToken(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{})
	ts := env.source(oauth.OAuthClaude, oauth.Token{AccessToken: "sk-ant-oat-setup"}, oauth.TokenSourceOptions{})
	at, err := ts.Access(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "sk-ant-oat-setup", at)

	_, err = ts.Invalidate(context.Background(), "sk-ant-oat-setup")
	assert.ErrorIs(t, err, oauth.ErrNoRefreshToken)
	assert.False(t, errors.Is(err, oauth.ErrRevoked))
	assert.Zero(t, env.mock.Refreshes())
}

// TestTokenSourceReportsFailingRefresh: refreshes that keep failing for a
// reason other than a dead refresh token (here the old Claude host's
// challenge page) are each reported with their count, and show in the
// source's status while the still-valid token goes on serving; a success
// clears them.
func TestTokenSourceReportsFailingRefresh(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{Format: mockoauth.Claude})
	challenge := httptest.NewServer(&mockoauth.Challenge{})
	t.Cleanup(challenge.Close)
	good := env.ref.TokenURLs[oauth.OAuthClaude]
	env.ref.TokenURLs[oauth.OAuthClaude] = challenge.URL + "/v1/oauth/token"

	var mu sync.Mutex
	var counts []int
	var last error
	tok := env.expiring(4 * time.Minute)
	ts := env.source(oauth.OAuthClaude, tok, oauth.TokenSourceOptions{
		MinBackoff: time.Second,
		OnFailure: func(err error, failures int) {
			mu.Lock()
			defer mu.Unlock()
			counts = append(counts, failures)
			last = err
		},
	})
	for range 3 {
		at, err := ts.Access(context.Background())
		require.NoError(t, err, "the valid token serves while refreshes fail")
		assert.Equal(t, "at-0", at)
		env.clk.Advance(5 * time.Second) // past the backoff
	}
	mu.Lock()
	assert.Equal(t, []int{1, 2, 3}, counts)
	require.Error(t, last)
	assert.Contains(t, last.Error(), "Cloudflare challenge page")
	mu.Unlock()
	assert.Empty(t, env.revokedReasons(), "a challenge is not a revocation")

	st := ts.Status()
	assert.Equal(t, 3, st.Failures)
	assert.Contains(t, st.LastError, "status 403")
	assert.Contains(t, st.LastError, "Cloudflare challenge page")
	assert.False(t, st.RetryAt.IsZero())
	assert.Equal(t, tok.Expiry, st.Expiry)

	// back at the real endpoint: the next refresh works and clears them
	env.ref.TokenURLs[oauth.OAuthClaude] = good
	at, err := ts.Access(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "mock-access-1", at)
	st = ts.Status()
	assert.Zero(t, st.Failures)
	assert.Empty(t, st.LastError)
}

// A coordinator that hands out a token obtained elsewhere spares the
// refresh, and the token is persisted as a refreshed one.
func TestTokenSourceRefreshesThroughItsCoordinator(t *testing.T) {
	env := newOAuthEnv(t, mockoauth.Config{Format: mockoauth.Claude})
	elsewhere := oauth.Token{AccessToken: "from-another-instance", RefreshToken: "rt-1", Expiry: env.clk.Now().Add(time.Hour)}
	co := coordinatorFunc(func(ctx context.Context, cur oauth.Token, refresh func(context.Context) (oauth.Token, error)) (oauth.Token, error) {
		assert.Equal(t, "at-0", cur.AccessToken, "the coordinator sees the token being replaced")
		return elsewhere, nil
	})
	ts := env.source(oauth.OAuthClaude, env.expiring(time.Minute), oauth.TokenSourceOptions{Coordinator: co})
	tok, err := ts.Access(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "from-another-instance", tok)
	assert.Zero(t, env.mock.Refreshes(), "no refresh of our own")
	assert.Equal(t, []oauth.Token{elsewhere}, env.persistedTokens(), "the token is written to the file all the same")
}

type coordinatorFunc func(context.Context, oauth.Token, func(context.Context) (oauth.Token, error)) (oauth.Token, error)

func (f coordinatorFunc) Coordinate(ctx context.Context, cur oauth.Token, refresh func(context.Context) (oauth.Token, error)) (oauth.Token, error) {
	return f(ctx, cur, refresh)
}
