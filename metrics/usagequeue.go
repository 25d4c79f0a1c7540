package metrics

import (
	"iter"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-cliproxy/cliproxy/telemetry"
)

// UsageQueues reports the pools' usage queues at scrape time.
type UsageQueues struct {
	hubs            iter.Seq2[string, *telemetry.Hub]
	dropped, queued *prometheus.Desc
}

// NewUsageQueues reports the usage queue of each pool hubs yields (by pool
// name), read anew at each scrape.
func NewUsageQueues(hubs iter.Seq2[string, *telemetry.Hub]) *UsageQueues {
	return &UsageQueues{
		hubs: hubs,
		dropped: prometheus.NewDesc("caddy_cliproxy_usage_records_dropped_total",
			"Usage records dropped unread from the pool's usage queue, past its retention or its size.",
			[]string{"pool"}, nil),
		queued: prometheus.NewDesc("caddy_cliproxy_usage_queue_records",
			"Usage records waiting in this process's queue for a collector (in cluster mode, those kept while Redis was down).",
			[]string{"pool"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *UsageQueues) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.dropped
	ch <- c.queued
}

// Collect implements prometheus.Collector.
func (c *UsageQueues) Collect(ch chan<- prometheus.Metric) {
	for name, hub := range c.hubs {
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(hub.Dropped()), name)
		ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(hub.Queue().Len()), name)
	}
}

// Interface guard
var _ prometheus.Collector = (*UsageQueues)(nil)
