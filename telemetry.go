package cliproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/executor"
	"github.com/caddy-cliproxy/cliproxy/management"
	"github.com/caddy-cliproxy/cliproxy/telemetry"
)

// telemetryEvents turns the executor's events into the pool's usage
// records and error events.
type telemetryEvents struct{ hub *telemetry.Hub }

func (e telemetryEvents) Usage(ev executor.UsageEvent) { e.hub.Usage(usageRecord(ev)) }
func (e telemetryEvents) Error(ev executor.ErrorEvent) { e.hub.Error(errorRecord(ev)) }

var _ executor.Events = telemetryEvents{}

// usageRecord is ev in the seed's field names. Names only: the client's
// principal, the credential's name.
func usageRecord(ev executor.UsageEvent) *telemetry.Record {
	rec := &telemetry.Record{
		Timestamp:  telemetry.Time(ev.Start),
		LatencyMS:  ev.Latency.Milliseconds(),
		TTFTMS:     ev.TTFB.Milliseconds(),
		Provider:   ev.Provider,
		Model:      ev.Model,
		Endpoint:   ev.Endpoint,
		AuthIndex:  ev.Credential,
		Client:     ev.Client,
		RequestID:  ev.RequestID,
		Failed:     ev.Failed,
		Status:     ev.Status,
		Attempts:   ev.Attempts,
		FinishedAt: telemetry.Time(ev.Start.Add(ev.Latency)),
		Tokens: telemetry.Tokens{
			Input:         ev.Tokens.Input,
			Output:        ev.Tokens.Output,
			Reasoning:     ev.Tokens.Reasoning,
			Cached:        ev.Tokens.CacheRead,
			CacheRead:     ev.Tokens.CacheRead,
			CacheCreation: ev.Tokens.CacheCreation,
			Total:         ev.Tokens.Total(ev.Family),
		},
	}
	if ev.Credential != "" {
		rec.AuthType = telemetry.AuthTypeAPIKey
		if ev.OAuth {
			rec.AuthType = telemetry.AuthTypeOAuth
		}
	}
	if ev.Failed {
		rec.Fail = &telemetry.Fail{StatusCode: ev.Status}
	}
	return rec
}

// errorRecord is ev in the seed's field names.
func errorRecord(ev executor.ErrorEvent) *telemetry.ErrorEvent {
	out := &telemetry.ErrorEvent{
		Timestamp:  telemetry.Time(ev.Time),
		Provider:   ev.Provider,
		Model:      ev.Model,
		AuthIndex:  ev.Credential,
		StatusCode: ev.Status,
		Code:       ev.Code,
		Retryable:  ev.Retryable,
		Client:     ev.Client,
		Message:    ev.Message,
	}
	if ev.Credential == "" {
		return out
	}
	out.AuthStatus.Status = telemetry.AuthActive
	switch ev.Blocked {
	case auth.BlockCooldown:
		out.AuthStatus.Status = telemetry.AuthCooldown
	case auth.BlockDisabled:
		out.AuthStatus.Status = telemetry.AuthDisabled
	case auth.BlockOther:
		out.AuthStatus.Status = telemetry.AuthError
	}
	out.AuthStatus.Unavailable = ev.Blocked != ""
	if !ev.Until.IsZero() {
		until := telemetry.Time(ev.Until)
		out.AuthStatus.NextRetryAfter = &until
	}
	return out
}

// poolTelemetry is the RESP backend of the pool called name.
func poolTelemetry(name string) (telemetry.Backend, error) {
	st, err := findPool(name)
	if err != nil {
		return nil, err
	}
	return respBackend{st}, nil
}

// respBackend lets RESP clients of a pool in with its management key, or
// the runtime password from loopback, under the management API's lockout.
type respBackend struct{ st *poolState }

func (b respBackend) Hub() *telemetry.Hub { return b.st.telemetry }

// Authenticate implements telemetry.Authenticator with the guard of the
// pool's newest handler that mounts the management API (its key, its
// allow_remote), or else one that takes only the runtime password; the
// pool's lockout counts the failures of both.
func (b respBackend) Authenticate(remote netip.Addr, password string) error {
	g := b.st.managementGuard()
	if g == nil {
		pw := os.Getenv(ManagementPasswordEnv)
		if pw == "" {
			return errors.New("ERR this pool has no management key; set one in the cliproxy management block, or " + ManagementPasswordEnv)
		}
		g = management.NewGuard(nil, pw, false, b.st.lockout)
	}
	e := g.Check(remote, password)
	if e == nil {
		return nil
	}
	switch e.Code {
	case management.CodeRemoteRefused:
		return errors.New("ERR usage telemetry accepts only local clients here (management allow_remote is off)")
	case management.CodeLockedOut:
		return fmt.Errorf("ERR too many failed attempts from this address; try again in %s", e.RetryAfter.Round(time.Second))
	}
	return errors.New("WRONGPASS invalid username-password pair or user is disabled.")
}

// managementGuard is the guard of the newest handler of s that mounts the
// management API on its site, or nil.
func (s *poolState) managementGuard() *management.Guard {
	for _, h := range s.current() {
		if h.guard != nil {
			return h.guard
		}
	}
	return nil
}

// PopUsage implements management.Backend: the records a RESP LPOP pops.
func (s *poolState) PopUsage(ctx context.Context, n int) ([]json.RawMessage, error) {
	recs, err := s.telemetry.Pop(ctx, n)
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, len(recs))
	for i, r := range recs {
		out[i] = r
	}
	return out, nil
}

// telemetryCollector reports every pool's usage queue at scrape time.
type telemetryCollector struct {
	dropped, queued *prometheus.Desc
}

var (
	telemetryMetricsOnce sync.Once
	telemetryMetrics     *telemetryCollector
)

// registerTelemetryMetrics adds the usage queue's metrics to reg (once per
// registry: every handler of a config calls it).
func registerTelemetryMetrics(reg *prometheus.Registry) error {
	telemetryMetricsOnce.Do(func() {
		telemetryMetrics = &telemetryCollector{
			dropped: prometheus.NewDesc("caddy_cliproxy_usage_records_dropped_total",
				"Usage records dropped unread from the pool's usage queue, past its retention or its size.",
				[]string{"pool"}, nil),
			queued: prometheus.NewDesc("caddy_cliproxy_usage_queue_records",
				"Usage records waiting in this process's queue for a collector (in cluster mode, those kept while Redis was down).",
				[]string{"pool"}, nil),
		}
	})
	if err := reg.Register(telemetryMetrics); err != nil {
		var already prometheus.AlreadyRegisteredError
		if !errors.As(err, &already) || already.ExistingCollector != telemetryMetrics {
			return err
		}
	}
	return nil
}

// Describe implements prometheus.Collector.
func (c *telemetryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.dropped
	ch <- c.queued
}

// Collect implements prometheus.Collector.
func (c *telemetryCollector) Collect(ch chan<- prometheus.Metric) {
	pools.Range(func(key, val any) bool {
		name, _ := key.(string)
		if st, ok := val.(*poolState); ok {
			ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(st.telemetry.Dropped()), name)
			ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(st.telemetry.Queue().Len()), name)
		}
		return true
	})
}
