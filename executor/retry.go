package executor

import (
	"errors"
	"net/http"
	"time"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/selector"
)

// A credential's request_retry (CLIProxyAPI's per-auth-file field) sends a
// request that failed transiently (a 5xx or 408 before anything reached the
// client, or no answer at all) to the same credential again, up to that
// many times, before the attempt loop records the failure and moves on.
// The retries are attempts like any other (placeholders, metrics, request
// log), on top of max_attempts, and wait a little before each. A WebSocket
// turn is retried the same way, on a new upstream connection of the
// credential.

const (
	// retryBackoff is the wait before the first retry on a credential;
	// each later one waits twice as long, at most retryBackoffMax.
	retryBackoff    = 200 * time.Millisecond
	retryBackoffMax = 2 * time.Second
)

// retrySame sends the request to c again while its last try, aw with
// err, failed transiently and c's RequestRetry allows, and returns the
// last try. limit, the loop's attempt bound, grows by each retry.
func (rn *run) retrySame(w http.ResponseWriter, c *auth.Credential, d selector.Decision, aw *attemptWriter, err error, limit *int) (*attemptWriter, error) {
	// a body that could not be read is the client's fault, not the upstream's
	for n := 0; n < c.RequestRetry && transientFailure(aw, err) && rn.r.Context().Err() == nil && rn.body.failed() == nil; n++ {
		rn.logAttempt(c, aw.failStatus, err, "transient upstream failure, retrying on the same credential (request_retry)")
		if !rn.sleep(rn.retryWait(n)) {
			break
		}
		rn.attempts++
		*limit++
		aw, _, err = rn.try(w, c, d)
	}
	return aw, err
}

// transientFailure reports whether a try that nothing of reached the
// client failed in a way the same credential may not fail again: a 5xx
// (529 included) or 408, or a connection error. A first-event timeout has
// waited long already, and a token that could not be had stays so.
func transientFailure(aw *attemptWriter, err error) bool {
	switch {
	case aw.committed:
		return false
	case aw.held:
		return aw.failStatus >= 500 || aw.failStatus == http.StatusRequestTimeout
	case err == nil, errors.Is(err, errFirstEventTimeout):
		return false
	}
	var te *tokenError
	return !errors.As(err, &te)
}

// transientOutcome is transientFailure for an attempt described by its
// outcome (a WebSocket turn's): a 5xx or 408, or no answer for a reason
// other than an OAuth token that could not be had.
func transientOutcome(o auth.Outcome, err error) bool {
	var te *tokenError
	if errors.As(err, &te) || o.Revoked {
		return false
	}
	return o.Status == 0 || o.Status >= 500 || o.Status == http.StatusRequestTimeout
}

// retryWait is the wait before retry n (from 0) on a credential, within
// max_retry_interval when one is set.
func (rn *run) retryWait(n int) time.Duration {
	wait := min(retryBackoff<<n, retryBackoffMax)
	if limit := rn.e.opts.MaxRetryInterval; limit > 0 {
		wait = min(wait, limit)
	}
	return wait
}

// sleep waits d unless the client goes first; it reports whether it
// waited.
func (rn *run) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-rn.r.Context().Done():
		return false
	}
}
