package metrics

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// The collectors are made once per process and registered into the
// registry of every config that loads, as Caddy's own HTTP metrics are: a
// reload gets a new registry, and the counters carry on in it.
var (
	metricsOnce sync.Once
	allMetrics  *metricSet
)

// metricSet is every cliproxy collector, and which credentials and members
// the live handlers have, so that the series of one no handler has any
// more are deleted.
type metricSet struct {
	requests *prometheus.CounterVec
	attempts *prometheus.CounterVec
	affinity *prometheus.CounterVec
	ttfb     *prometheus.HistogramVec
	tokens   *prometheus.CounterVec
	state    *stateCollector

	mu      sync.Mutex
	creds   map[credLabels]int // handlers having each credential
	members map[string]int     // handlers having each member
}

// credLabels are the labels naming a credential in every series.
type credLabels struct{ provider, credential string }

func credLabelsOf(c *auth.Credential) credLabels {
	return credLabels{string(c.Provider), c.Name}
}

func metricsSet() *metricSet {
	metricsOnce.Do(func() {
		const ns, sub = "caddy", "cliproxy"
		byCredStatus := []string{"provider", "credential", "status"}
		allMetrics = &metricSet{
			requests: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "requests_total",
				Help: "Requests answered, by the provider and credential that served the answer (empty when the gateway answered itself) and status class.",
			}, byCredStatus),
			attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "attempts_total",
				Help: "Upstream attempts, by provider, credential and the upstream's status class (error: no answer).",
			}, byCredStatus),
			affinity: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "affinity_total",
				Help: "Session affinity picks of requests with a session, by outcome: hit, miss, rebind, detour.",
			}, []string{"outcome"}),
			ttfb: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Namespace: ns, Subsystem: sub, Name: "upstream_ttfb_seconds",
				Help:    "Time from sending an upstream attempt to its response header, by provider and credential.",
				Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120},
			}, []string{"provider", "credential"}),
			tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ns, Subsystem: sub, Name: "tokens_total",
				Help: "Tokens the upstreams reported, by provider, credential, member and kind (input, output, cache_read, cache_creation).",
			}, []string{"provider", "credential", "member", "kind"}),
			state:   newStateCollector(ns, sub),
			creds:   make(map[credLabels]int),
			members: make(map[string]int),
		}
	})
	return allMetrics
}

// register adds the collectors to reg; a second handler of the same config
// finds them there already.
func (m *metricSet) register(reg *prometheus.Registry) error {
	for _, c := range []prometheus.Collector{m.requests, m.attempts, m.affinity, m.ttfb, m.tokens, m.state} {
		if err := Register(reg, c); err != nil {
			return err
		}
	}
	return nil
}

// Register adds c to reg, unless reg has it already (every handler of a
// config registers the same collectors).
func Register(reg *prometheus.Registry, c prometheus.Collector) error {
	err := reg.Register(c)
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) && already.ExistingCollector == c {
		return nil
	}
	return err
}

// hold counts one more handler having each of creds and members.
func (m *metricSet) hold(creds []credLabels, members []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range creds {
		m.creds[c]++
	}
	for _, n := range members {
		m.members[n]++
	}
}

// release counts one handler less having each of creds and members, and
// deletes the series of those no handler has any more.
func (m *metricSet) release(creds []credLabels, members []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range creds {
		if m.creds[c]--; m.creds[c] > 0 {
			continue
		}
		delete(m.creds, c)
		l := prometheus.Labels{"provider": c.provider, "credential": c.credential}
		m.requests.DeletePartialMatch(l)
		m.attempts.DeletePartialMatch(l)
		m.ttfb.DeletePartialMatch(l)
		m.tokens.DeletePartialMatch(l)
	}
	for _, n := range members {
		if m.members[n]--; m.members[n] > 0 {
			continue
		}
		delete(m.members, n)
		m.tokens.DeletePartialMatch(prometheus.Labels{"member": n})
	}
}
