package cliproxy

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-cliproxy/cliproxy/management"
	"github.com/caddy-cliproxy/cliproxy/pool"
	"github.com/caddy-cliproxy/cliproxy/telemetry"
)

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
type respBackend struct{ st *pool.State }

func (b respBackend) Hub() *telemetry.Hub { return b.st.Telemetry }

// Authenticate implements telemetry.Authenticator with the guard of the
// pool's newest member that mounts the management API (its key, its
// allow_remote), or else one that takes only the runtime password; the
// pool's lockout counts the failures of both.
func (b respBackend) Authenticate(remote netip.Addr, password string) error {
	g := b.st.ManagementGuard()
	if g == nil {
		pw := os.Getenv(ManagementPasswordEnv)
		if pw == "" {
			return errors.New("ERR this pool has no management key; set one in the cliproxy management block, or " + ManagementPasswordEnv)
		}
		g = management.NewGuard(nil, pw, false, b.st.Lockout)
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
	return errors.New("WRONGPASS invalid username-password pair or user is disabled.") //nolint:staticcheck // Redis's own words, period included, which clients match
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
		if st, ok := val.(*pool.State); ok {
			ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(st.Telemetry.Dropped()), name)
			ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(st.Telemetry.Queue().Len()), name)
		}
		return true
	})
}
