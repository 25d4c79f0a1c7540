package cliproxy

import (
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-cliproxy/cliproxy/outcome"
)

// usageLog writes one cliproxy.usage entry per finished request: who
// asked, what served it, how it went and what it cost. Never a secret.
type usageLog struct{ l *zap.Logger }

// Request implements outcome.Recorder.
func (u usageLog) Request(r *outcome.Request) {
	ce := u.l.Check(zapcore.InfoLevel, "request")
	if ce == nil {
		return
	}
	quota := zap.Skip()
	if r.QuotaWindow != "" {
		quota = zap.Dict("quota", zap.String("window", r.QuotaWindow), zap.Float64("utilization", r.QuotaUtilization))
	}
	ce.Write(
		zap.String("client", r.Client),
		zap.String("provider", r.Provider),
		zap.String("model", r.Model),
		zap.String("credential", r.Credential),
		zap.Int("status", r.Status),
		zap.Int("attempts", r.Attempts),
		zap.Duration("latency", r.Latency),
		zap.Duration("ttfb", r.FirstByte),
		zap.Int64("input_tokens", r.Tokens.Input),
		zap.Int64("output_tokens", r.Tokens.Output),
		zap.Int64("cache_read_tokens", r.Tokens.CacheRead),
		zap.Int64("cache_creation_tokens", r.Tokens.CacheCreation),
		quota,
	)
}

// Attempt implements outcome.Recorder; the usage log has requests only.
func (usageLog) Attempt(outcome.Attempt) {}

// Failure implements outcome.Recorder; the usage log has requests only.
func (usageLog) Failure(outcome.Failure) {}

// Interface guard
var _ outcome.Recorder = usageLog{}
