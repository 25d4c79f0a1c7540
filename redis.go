package cliproxy

import (
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-cliproxy/cliproxy/cluster"
	"github.com/caddy-cliproxy/cliproxy/executor"
)

// StateConfig puts a pool's state in Redis, so several Caddy instances
// act as one gateway (see docs/cluster.md).
type StateConfig struct {
	// URL is redis://[user:password@]host:port/db, or rediss:// for TLS.
	// Placeholders ({env.REDIS_PASSWORD}) are resolved at provision, so
	// the password stays out of saved configs. Required.
	URL string `json:"url,omitempty"`

	// UsageRetention is how many usage events the Redis list "usage"
	// keeps for a consumer that is away; older ones are dropped.
	// Default: 10000.
	UsageRetention int `json:"usage_retention,omitempty"`
}

// clusters holds the Redis connection of each pool and URL across config
// reloads, so a reload neither drops the subscription nor the queued
// writes.
var clusters = caddy.NewUsagePool()

// clusterState is a pool's Redis connection as the usage pool keeps it.
type clusterState struct{ *cluster.Cluster }

// Destruct closes the connection once no handler uses it.
func (c clusterState) Destruct() error { return c.Close() }

// clusterKey names a pool's connection to one Redis in the usage pool. It
// holds the password of the URL, which never leaves the process.
func (h *Handler) clusterKey(url string) string { return h.Pool + "\x00" + url }

// loadCluster connects the pool's state to Redis, or takes the connection
// the pool already has to it.
func (h *Handler) loadCluster(ctx caddy.Context, repl *caddy.Replacer) error {
	url := repl.ReplaceKnown(h.State.URL, "")
	key := h.clusterKey(url)
	val, _, err := clusters.LoadOrNew(key, func() (caddy.Destructor, error) {
		c, err := cluster.New(cluster.Options{
			URL:            url,
			Pool:           h.Pool,
			Health:         h.state.Health,
			Bindings:       h.state.Sessions,
			UsageRetention: h.State.UsageRetention,
			Logger:         caddy.Log().Named("cliproxy.cluster"),
		})
		if err != nil {
			return nil, err
		}
		return clusterState{c}, nil
	})
	if err != nil {
		return err
	}
	h.cluster, h.clusterKeyed = val.(clusterState).Cluster, key
	// a reload with another URL hands the pool's state to the new Redis
	h.state.Link(h.cluster)
	gauge := redisUp(ctx.GetMetricsRegistry()).WithLabelValues(h.Pool)
	h.cluster.OnUp(func(up bool) {
		if up {
			gauge.Set(1)
		} else {
			gauge.Set(0)
		}
	})
	h.logger.Info("pool state shared through redis", zap.String("pool", h.Pool), zap.Bool("reachable", h.cluster.Up()))
	return nil
}

// releaseCluster ends this handler's use of the pool's Redis connection.
func (h *Handler) releaseCluster() {
	if h.cluster == nil {
		return
	}
	if deleted, _ := clusters.Delete(h.clusterKeyed); deleted {
		h.state.Unlink(h.cluster)
	}
}

// clusterEvents hands the executor's events to the cluster.
type clusterEvents struct{ c *cluster.Cluster }

func (e clusterEvents) Usage(ev executor.UsageEvent) {
	e.c.Usage(usageRecord{
		Time: time.Now().Add(-ev.Latency), Client: ev.Client, Provider: ev.Provider, Model: ev.Model,
		Credential: ev.Credential, Status: ev.Status, Attempts: ev.Attempts,
		LatencyMS: millis(ev.Latency), TTFBMS: millis(ev.TTFB),
		InputTokens: ev.Tokens.Input, OutputTokens: ev.Tokens.Output,
		CacheReadTokens: ev.Tokens.CacheRead, CacheCreationTokens: ev.Tokens.CacheCreation,
	})
}
func (e clusterEvents) Error(ev executor.ErrorEvent) { e.c.Error(ev) }

var _ executor.Events = clusterEvents{}

// usageRecord is a usage event as a consumer of the Redis list reads it:
// the fields of the cliproxy.usage log entry, durations in milliseconds.
type usageRecord struct {
	Time                time.Time `json:"time"`
	Client              string    `json:"client"`
	Provider            string    `json:"provider"`
	Model               string    `json:"model"`
	Credential          string    `json:"credential"`
	Status              int       `json:"status"`
	Attempts            int       `json:"attempts"`
	LatencyMS           float64   `json:"latency_ms"`
	TTFBMS              float64   `json:"ttfb_ms"`
	InputTokens         int64     `json:"input_tokens"`
	OutputTokens        int64     `json:"output_tokens"`
	CacheReadTokens     int64     `json:"cache_read_tokens"`
	CacheCreationTokens int64     `json:"cache_creation_tokens"`
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
