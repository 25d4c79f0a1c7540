package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// RedisUp is the caddy_cliproxy_redis_up gauge of one metrics registry:
// 1 while the pool's Redis state is reachable, 0 while the pool serves
// from its local state.
func RedisUp(reg *prometheus.Registry) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "caddy",
		Subsystem: "cliproxy",
		Name:      "redis_up",
		Help:      "Whether the pool's Redis state is reachable (1) or the pool serves from local state (0).",
	}, []string{"pool"})
	if reg == nil {
		return g
	}
	if err := reg.Register(g); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.GaugeVec); ok {
				return existing
			}
		}
	}
	return g
}
