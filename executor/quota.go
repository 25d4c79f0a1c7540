package executor

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// sawQuota reads the usage windows an answer of c reports in its headers
// (any status; an HTTP response or a WebSocket handshake, never the
// stream) into c's state, and warns once per window that reaches the
// quota threshold. It returns the fullest window the answer reported.
func (e *Executor) sawQuota(pool *auth.Pool, c *auth.Credential, h http.Header) (seen auth.QuotaLevel) {
	var q auth.QuotaWindows
	if auth.ParseQuota(h, pool.Now(), &q) == 0 {
		return seen
	}
	for _, w := range q.Slice() {
		if !seen.Known || w.Utilization > seen.Utilization {
			seen = auth.QuotaLevel{Known: true, Utilization: w.Utilization, Window: w.Window, ResetsAt: w.ResetsAt}
		}
	}
	var warnAt float64
	if e.opts.Quota != nil {
		warnAt = e.opts.Quota.Threshold
	}
	for _, w := range pool.RecordQuota(c, q.Slice(), warnAt) {
		e.opts.Logger.Warn("credential usage window reached the quota threshold; new sessions go to credentials with room",
			zap.String("credential", c.Name),
			zap.String("provider", string(c.Provider)),
			zap.String("window", w.Window),
			zap.Float64("utilization", w.Utilization),
			zap.Time("resets_at", w.ResetsAt),
			zap.Float64("threshold", warnAt),
		)
	}
	return seen
}
