package oauth

import (
	"context"
	"errors"
	"sync"
	"time"
)

// TokenSourceOptions tune a [TokenSource]. Zero fields take their defaults.
type TokenSourceOptions struct {
	// Skew is how long before expiry a token is refreshed. Default 5m. A
	// token that lives less than twice the skew is refreshed halfway
	// through its life instead, so short-lived tokens are not refreshed on
	// every use.
	Skew time.Duration

	// OnRefresh persists a newly obtained token (Claude and Codex rotate
	// the refresh token, so a token that is not persisted is lost for
	// good). It is called once per successful refresh, in order, outside
	// the source's locks, before the callers waiting for that refresh are
	// released.
	OnRefresh func(Token)

	// OnRevoked is called once when the token endpoint declares the
	// refresh token dead (see [ErrRevoked]), with the reason, so the
	// credential can be disabled. Called outside the source's locks.
	OnRevoked func(reason string)

	// OnFailure is called after each failed refresh that is not a
	// revocation (the endpoint unreachable, a 5xx, a challenge page…),
	// with the error and how many refreshes in a row have failed, outside
	// the source's locks, so that one that keeps failing is heard of.
	OnFailure func(err error, failures int)

	// MinBackoff and MaxBackoff bound the wait after a failed refresh
	// before the next attempt: MinBackoff after the first failure,
	// doubling per consecutive failure, at most MaxBackoff. Callers get
	// the last error (or the still-valid token) meanwhile. Defaults 5s and
	// 10m.
	MinBackoff, MaxBackoff time.Duration

	// Timeout bounds one refresh attempt. The attempt runs detached from
	// the callers waiting for it, so one canceled request does not cancel
	// the refresh for the others. Default 30s.
	Timeout time.Duration

	// PollInterval is the longest the background refresher sleeps before
	// looking at the clock again (it also wakes when a refresh is due).
	// Default 1m.
	PollInterval time.Duration

	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// Coordinator, when set, runs every refresh, so that the instances of
	// a cluster that hold the same account refresh its token once between
	// them. Default: none, the source refreshes on its own.
	Coordinator RefreshCoordinator
}

// RefreshCoordinator runs a token source's refreshes on behalf of several
// processes holding the same token. Coordinate calls refresh, or returns a
// token another process obtained meanwhile for current; it returns
// refresh's error as is.
type RefreshCoordinator interface {
	Coordinate(ctx context.Context, current Token, refresh func(context.Context) (Token, error)) (Token, error)
}

// Defaults of TokenSourceOptions.
const (
	DefaultRefreshSkew    = 5 * time.Minute
	DefaultMinBackoff     = 5 * time.Second
	DefaultMaxBackoff     = 10 * time.Minute
	DefaultRefreshTimeout = 30 * time.Second
	DefaultBackgroundPoll = time.Minute
)

func (o TokenSourceOptions) withDefaults() TokenSourceOptions {
	if o.Skew <= 0 {
		o.Skew = DefaultRefreshSkew
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultRefreshTimeout
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultBackgroundPoll
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// TokenSource holds the OAuth token of one credential and keeps it fresh. It
// refreshes when a token is about to expire (on use, or ahead of time with
// StartBackground) and when the upstream rejects it (Invalidate). However
// many requests need a refresh at once, one refresh runs (single flight) and
// they all wait for it. Failed refreshes back off; a refresh token the
// provider declares dead marks the source revoked for good (until Update).
//
// A TokenSource is safe for concurrent use. It never logs and its errors
// never carry a token.
type TokenSource struct {
	provider  OAuthProvider
	refresher *Refresher
	opts      TokenSourceOptions

	mu          sync.Mutex
	tok         Token
	refreshAt   time.Time    // when tok is due for a refresh; zero: only when rejected
	rejected    bool         // the upstream rejected tok.AccessToken
	call        *refreshCall // the refresh in flight, if any
	epoch       uint64       // bumped by Update; results of older refreshes are dropped
	failures    int          // consecutive failed refreshes
	retryAt     time.Time    // no refresh attempt before this
	lastErr     error        // error of the last failed refresh
	lastRefresh time.Time    // when the last successful refresh finished
	revoked     error        // non-nil once the refresh token is dead

	bgMu   sync.Mutex
	bgStop context.CancelFunc
	bgDone chan struct{}
}

// refreshCall is one refresh in flight; done is closed when it finished and
// its result (and the token's persistence) is settled.
type refreshCall struct {
	done chan struct{}
	tok  Token
	err  error
}

// NewTokenSource returns a source for p's token t, refreshed with r (nil
// means a zero Refresher: real endpoints, http.DefaultClient).
func NewTokenSource(p OAuthProvider, t Token, r *Refresher, opts TokenSourceOptions) *TokenSource {
	if r == nil {
		r = &Refresher{}
	}
	ts := &TokenSource{provider: p, refresher: r, opts: opts.withDefaults(), tok: t}
	ts.refreshAt = ts.schedule(t, time.Time{})
	return ts
}

// Provider returns the OAuth provider the source refreshes with.
func (ts *TokenSource) Provider() OAuthProvider { return ts.provider }

// Access returns an access token to use now. When the token is within Skew
// of its expiry, expired, or was rejected upstream, it refreshes first; the
// callers arriving meanwhile wait for the same refresh. When that refresh
// fails it returns the current token if it is still valid and the refresh
// error otherwise. While a failed refresh backs off, no new attempt is made.
// A revoked source always returns its revocation error (matching
// ErrRevoked). A caller whose ctx ends stops waiting with ctx's error; the
// refresh goes on for the others.
func (ts *TokenSource) Access(ctx context.Context) (string, error) {
	ts.mu.Lock()
	c, access, err := ts.beginLocked(ts.opts.Now())
	ts.mu.Unlock()
	if c == nil {
		return access, err
	}
	return ts.await(ctx, c)
}

// Invalidate tells the source that the upstream answered 401 to rejected, an
// access token it handed out, and returns the token to retry with. When the
// source still holds rejected it refreshes (joining a refresh already in
// flight); when another caller has already replaced rejected it returns the
// replacement without a refresh, so any number of requests failing with the
// same token cause one refresh. During a backoff after a failed refresh it
// makes no attempt and returns the last error; the rejected token is not
// handed out again.
func (ts *TokenSource) Invalidate(ctx context.Context, rejected string) (string, error) {
	for joined := 0; ; joined++ {
		ts.mu.Lock()
		if ts.revoked == nil && rejected != "" && ts.tok.AccessToken == rejected {
			ts.rejected = true
		}
		own := ts.call == nil
		c, access, err := ts.beginLocked(ts.opts.Now())
		ts.mu.Unlock()
		if c == nil {
			return access, err
		}
		access, err = ts.await(ctx, c)
		// A refresh joined as it was committing may have produced the very
		// token that was rejected: look again, starting at most one
		// refresh of our own.
		if err != nil || own || access != rejected || joined > 0 {
			return access, err
		}
	}
}

// beginLocked decides what a caller needing a token at now gets: the current
// token (c nil, err nil), an error (c nil), or a refresh to wait for, which
// it starts unless one is in flight.
func (ts *TokenSource) beginLocked(now time.Time) (c *refreshCall, access string, err error) {
	if ts.revoked != nil {
		return nil, "", ts.revoked
	}
	if !ts.dueLocked(now) {
		return nil, ts.tok.AccessToken, nil
	}
	if ts.call != nil {
		return ts.call, "", nil
	}
	if now.Before(ts.retryAt) {
		if ts.usableLocked(now) {
			return nil, ts.tok.AccessToken, nil
		}
		return nil, "", ts.lastErr
	}
	return ts.startLocked(), "", nil
}

// await waits for c or ctx, whichever ends first.
func (ts *TokenSource) await(ctx context.Context, c *refreshCall) (string, error) {
	select {
	case <-c.done:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if c.err == nil {
		return c.tok.AccessToken, nil
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.revoked == nil && ts.usableLocked(ts.opts.Now()) {
		return ts.tok.AccessToken, nil
	}
	return "", c.err
}

// dueLocked reports whether the token needs a refresh at now.
func (ts *TokenSource) dueLocked(now time.Time) bool {
	return ts.rejected || ts.tok.AccessToken == "" ||
		(!ts.refreshAt.IsZero() && !now.Before(ts.refreshAt))
}

// usableLocked reports whether the current access token may still be handed
// out at now.
func (ts *TokenSource) usableLocked(now time.Time) bool {
	return !ts.rejected && ts.tok.Valid(now)
}

// schedule returns when t is due for a refresh: Skew before its expiry, but,
// when the time it was issued is known, not before half its lifetime.
func (ts *TokenSource) schedule(t Token, issued time.Time) time.Time {
	if t.Expiry.IsZero() {
		return time.Time{}
	}
	at := t.Expiry.Add(-ts.opts.Skew)
	if !issued.IsZero() {
		if half := issued.Add(t.Expiry.Sub(issued) / 2); at.Before(half) {
			at = half
		}
	}
	return at
}

// backoff returns the wait after n consecutive failures.
func (ts *TokenSource) backoff(n int) time.Duration {
	d := ts.opts.MinBackoff
	for i := 1; i < n && d < ts.opts.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, ts.opts.MaxBackoff)
}

// startLocked starts a refresh with the current refresh token.
func (ts *TokenSource) startLocked() *refreshCall {
	c := &refreshCall{done: make(chan struct{})}
	ts.call = c
	go ts.run(c, ts.tok.RefreshToken, ts.epoch)
	return c
}

// run performs the refresh of c, detached from every caller, and settles
// its outcome: the new token (persisted through OnRefresh before waiters are
// released), a revocation, or a backoff.
func (ts *TokenSource) run(c *refreshCall, refreshToken string, epoch uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), ts.opts.Timeout)
	refresh := func(ctx context.Context) (Token, error) {
		return ts.refresher.Refresh(ctx, ts.provider, refreshToken)
	}
	var tok Token
	var err error
	if co := ts.opts.Coordinator; co != nil {
		ts.mu.Lock()
		current := ts.tok
		ts.mu.Unlock()
		tok, err = co.Coordinate(ctx, current, refresh)
	} else {
		tok, err = refresh(ctx)
	}
	cancel()

	var persist, revokedNow bool
	failures := 0
	ts.mu.Lock()
	now := ts.opts.Now()
	switch {
	case epoch != ts.epoch:
		// Update installed another token meanwhile; it wins.
		tok, err = ts.tok, nil
	case err == nil:
		ts.tok = tok
		ts.rejected = false
		ts.refreshAt = ts.schedule(tok, now)
		ts.failures, ts.retryAt, ts.lastErr = 0, time.Time{}, nil
		ts.lastRefresh = now
		persist = ts.opts.OnRefresh != nil
	case errors.Is(err, ErrRevoked):
		ts.revoked, ts.lastErr = err, err
		revokedNow = true
	default:
		ts.failures++
		ts.retryAt = now.Add(ts.backoff(ts.failures))
		ts.lastErr = err
		failures = ts.failures
	}
	c.tok, c.err = tok, err
	ts.mu.Unlock()

	// The call stays in flight while persisting, which keeps OnRefresh
	// calls in order and lets waiters use the token only once persisted.
	if persist {
		ts.opts.OnRefresh(tok)
	}
	if revokedNow && ts.opts.OnRevoked != nil {
		ts.opts.OnRevoked(err.Error())
	}
	if failures > 0 && ts.opts.OnFailure != nil {
		ts.opts.OnFailure(err, failures)
	}

	ts.mu.Lock()
	ts.call = nil
	ts.mu.Unlock()
	close(c.done)
}

// Revoked reports whether the provider declared the refresh token dead, with
// the reason (the token endpoint's error code and description).
func (ts *TokenSource) Revoked() (bool, string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.revoked == nil {
		return false, ""
	}
	return true, ts.revoked.Error()
}

// Token returns a copy of the current token, for persistence and snapshots.
// It holds secrets: never log it.
func (ts *TokenSource) Token() Token {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.tok
}

// Update replaces the token with t, obtained elsewhere (for example the
// account signed in again and its auth file changed), and forgets failures,
// backoff and revocation. A refresh in flight is dropped when it ends. It
// does not call OnRefresh.
func (ts *TokenSource) Update(t Token) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.epoch++
	ts.tok = t
	ts.rejected = false
	ts.refreshAt = ts.schedule(t, time.Time{})
	ts.failures, ts.retryAt, ts.lastErr, ts.revoked = 0, time.Time{}, nil, nil
}

// RefreshStatus describes a TokenSource for management and snapshots. It
// carries no secret.
type RefreshStatus struct {
	// Expiry is when the access token expires (zero: unknown).
	Expiry time.Time `json:"expiry,omitzero"`
	// RefreshAt is when the token is due for a refresh (zero: only when
	// the upstream rejects it).
	RefreshAt time.Time `json:"refresh_at,omitzero"`
	// LastRefresh is when the last successful refresh finished (zero:
	// none by this source).
	LastRefresh time.Time `json:"last_refresh,omitzero"`
	// Failures counts consecutive failed refreshes; RetryAt is when the
	// next attempt may be made and LastError describes the last failure.
	Failures  int       `json:"failures"`
	RetryAt   time.Time `json:"retry_at,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// Revoked is set when the refresh token is dead; Reason says why.
	Revoked bool   `json:"revoked,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Status returns the source's refresh state.
func (ts *TokenSource) Status() RefreshStatus {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	st := RefreshStatus{
		Expiry:      ts.tok.Expiry,
		RefreshAt:   ts.refreshAt,
		LastRefresh: ts.lastRefresh,
		Failures:    ts.failures,
		RetryAt:     ts.retryAt,
	}
	if ts.lastErr != nil {
		st.LastError = ts.lastErr.Error()
	}
	if ts.revoked != nil {
		st.Revoked, st.Reason = true, ts.revoked.Error()
	}
	return st
}

// StartBackground refreshes the token ahead of its expiry in a goroutine
// until ctx ends or Stop is called, so requests rarely wait for a refresh.
// It is a no-op while the background refresher runs.
func (ts *TokenSource) StartBackground(ctx context.Context) {
	ts.bgMu.Lock()
	defer ts.bgMu.Unlock()
	if ts.bgDone != nil {
		select {
		case <-ts.bgDone: // ended with its ctx; start afresh
		default:
			return
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	ts.bgStop, ts.bgDone = cancel, done
	go ts.background(ctx, done)
}

// Stop ends the background refresher and waits for it, and for a refresh in
// flight (at most Timeout), so that a rotated token is persisted before the
// source is dropped. The source stays usable: Access still refreshes on
// demand.
func (ts *TokenSource) Stop() {
	ts.bgMu.Lock()
	cancel, done := ts.bgStop, ts.bgDone
	ts.bgStop, ts.bgDone = nil, nil
	ts.bgMu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	ts.mu.Lock()
	c := ts.call
	ts.mu.Unlock()
	if c != nil {
		<-c.done
	}
}

// background is the refresher loop of StartBackground.
func (ts *TokenSource) background(ctx context.Context, done chan struct{}) {
	defer close(done)
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		wait := ts.opts.PollInterval
		var c *refreshCall
		ts.mu.Lock()
		now := ts.opts.Now()
		switch {
		case ts.revoked != nil:
			// Nothing to do until Update.
		case ts.call != nil:
			c = ts.call
		case !ts.dueLocked(now):
			if !ts.refreshAt.IsZero() {
				wait = min(wait, ts.refreshAt.Sub(now))
			}
		case now.Before(ts.retryAt):
			wait = min(wait, ts.retryAt.Sub(now))
		default:
			c = ts.startLocked()
		}
		ts.mu.Unlock()

		if c != nil {
			select {
			case <-c.done:
				continue
			case <-ctx.Done():
				return
			}
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			return
		}
	}
}
