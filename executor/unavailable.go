package executor

import (
	"fmt"
	"net/http"
	"time"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// The gateway's own answers when no credential could serve a request:
// none could take it, or every attempt failed over.

// unavailable answers a request no credential could take.
func (rn *run) unavailable(w http.ResponseWriter, eligible []*auth.Credential) error {
	return rn.writeError(w, rn.unavailableError(eligible))
}

// unavailableError is the error of a request no credential could take:
// 429 with the nearest recovery when every one is cooling, else 503.
func (rn *run) unavailableError(eligible []*auth.Credential) *ClientError {
	pool := rn.v.pool
	var cooling, other time.Time
	for _, c := range eligible {
		reason, until := pool.BlockedBy(c, rn.model)
		if until.IsZero() {
			continue
		}
		if reason == auth.BlockCooldown {
			cooling = earliest(cooling, until)
		} else {
			other = earliest(other, until)
		}
	}
	if !cooling.IsZero() {
		return &ClientError{
			Status:     http.StatusTooManyRequests,
			Code:       CodeModelCooldown,
			Message:    fmt.Sprintf("every %s credential for model %q is cooling down", providersOf(eligible), rn.model),
			RetryAfter: earliest(cooling, other).Sub(pool.Now()),
			ResetAt:    earliest(cooling, other),
			Model:      rn.model,
			Provider:   providersOf(eligible),
		}
	}
	ce := &ClientError{
		Status:  http.StatusServiceUnavailable,
		Code:    CodeAuthUnavailable,
		Message: fmt.Sprintf("no %s credential for model %q is usable now", providersOf(eligible), rn.model),
	}
	if !other.IsZero() {
		ce.RetryAfter = other.Sub(pool.Now())
	}
	return ce
}

// exhausted answers a request whose attempts all failed over, the last
// one being last: 429 model_cooldown when every credential tried is
// cooling, else 503 auth_unavailable, each with the nearest recovery of
// those tried.
func (rn *run) exhausted(w http.ResponseWriter, tried []*auth.Credential, last *attemptWriter) error {
	if last.wrongClient {
		return rn.writeError(w, noCredentialForClient(rn.route, rn.model))
	}
	return rn.writeError(w, rn.exhaustedError(tried, last.failStatus, last.retryAt))
}

// exhaustedError is the gateway's answer after every credential tried
// failed over, the last with failStatus, to be back at retryAt.
func (rn *run) exhaustedError(tried []*auth.Credential, failStatus int, retryAt time.Time) *ClientError {
	pool := rn.v.pool
	now := pool.Now()
	rateLimited := failStatus == http.StatusTooManyRequests
	soonest := retryAt
	for _, c := range tried {
		reason, until := pool.BlockedBy(c, rn.model)
		if until.IsZero() {
			continue
		}
		if reason != auth.BlockCooldown {
			rateLimited = false
		}
		soonest = earliest(soonest, until)
	}
	ce := &ClientError{
		Status:  http.StatusServiceUnavailable,
		Code:    CodeAuthUnavailable,
		Message: fmt.Sprintf("no %s credential could serve model %q now", providersOf(tried), rn.model),
	}
	switch {
	case failStatus == http.StatusNotFound:
		ce.Status, ce.Code = http.StatusNotFound, CodeModelNotSupported
		ce.Message = fmt.Sprintf("the %s upstream does not know model %q", providersOf(tried), rn.model)
	case failStatus >= 500 || failStatus == http.StatusRequestTimeout:
		ce.Message = fmt.Sprintf("the %s upstream failed for model %q on every credential tried (status %d)", providersOf(tried), rn.model, failStatus)
	case rateLimited:
		ce.Status, ce.Code = http.StatusTooManyRequests, CodeModelCooldown
		ce.Message = fmt.Sprintf("every %s credential tried for model %q is rate limited", providersOf(tried), rn.model)
		ce.Model, ce.Provider = rn.model, providersOf(tried)
	}
	if !soonest.IsZero() {
		ce.RetryAfter, ce.ResetAt = soonest.Sub(now), soonest
	}
	if rateLimited && !ce.announces() {
		ce.RetryAfter, ce.ResetAt = time.Second, now.Add(time.Second) // a rate limit always says when to come back
	}
	return ce
}

// earliest is the earlier of two times, a zero time counting as none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
