package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// stateCollector reports the credentials' health as it is at scrape time,
// so a gauge is never stale and a removed credential has no series. The
// per-model series name only models known to exist (auth.Pool.ServedModels):
// a state of a model name an upstream refused (404) stays in the pool and
// the management API, but makes no series, or any member could make a
// thousand series per credential with made-up names.
type stateCollector struct {
	available      *prometheus.Desc
	modelAvailable *prometheus.Desc
	cooldownUntil  *prometheus.Desc
	quotaUsed      *prometheus.Desc
	quotaReset     *prometheus.Desc

	mu      sync.Mutex
	sources map[*Recorder]struct{}
}

// wholeModel is the model label of a block on the whole credential.
const wholeModel = "*"

func newStateCollector(ns, sub string) *stateCollector {
	name := func(n string) string { return prometheus.BuildFQName(ns, sub, n) }
	return &stateCollector{
		available: prometheus.NewDesc(name("credential_available"),
			"1 when the credential may serve (some of) its models, 0 when it is disabled or blocked as a whole.",
			[]string{"provider", "credential"}, nil),
		modelAvailable: prometheus.NewDesc(name("credential_model_available"),
			"1 when the credential may serve the model, 0 while the model is blocked on it; only for models that failed since their last success, and that the pool has served or the config names.",
			[]string{"provider", "credential", "model"}, nil),
		cooldownUntil: prometheus.NewDesc(name("credential_cooldown_until_seconds"),
			"Unix time until which the credential is blocked for the model (model \"*\": for every model), while it is.",
			[]string{"provider", "credential", "model", "reason"}, nil),
		quotaUsed: prometheus.NewDesc(name("credential_quota_utilization"),
			"Share (0..1) of the credential's usage window used, as the upstream's headers last reported it; 0 once the window has reset.",
			[]string{"credential", "window"}, nil),
		quotaReset: prometheus.NewDesc(name("credential_quota_reset_timestamp_seconds"),
			"Unix time at which the credential's usage window resets, as the upstream last reported it.",
			[]string{"credential", "window"}, nil),
		sources: make(map[*Recorder]struct{}),
	}
}

func (s *stateCollector) add(hm *Recorder) {
	s.mu.Lock()
	s.sources[hm] = struct{}{}
	s.mu.Unlock()
}

func (s *stateCollector) remove(hm *Recorder) {
	s.mu.Lock()
	delete(s.sources, hm)
	s.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (s *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.available
	ch <- s.modelAvailable
	ch <- s.cooldownUntil
	ch <- s.quotaUsed
	ch <- s.quotaReset
}

// Collect implements prometheus.Collector. While a reload runs, the old
// and the new handler may both have a credential: it is reported once.
func (s *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	pools := make([]*auth.Pool, 0, len(s.sources))
	for hm := range s.sources {
		if p := hm.pool(); p != nil {
			pools = append(pools, p)
		}
	}
	s.mu.Unlock()
	seen := make(map[credLabels]bool)
	for _, p := range pools {
		known := p.ServedModels()
		for _, c := range p.Snapshot() {
			key := credLabels{string(c.Provider), c.Name}
			if seen[key] {
				continue
			}
			seen[key] = true
			s.collectCredential(ch, c, known)
		}
	}
}

// collectCredential reports c's health, per model for the known models.
func (s *stateCollector) collectCredential(ch chan<- prometheus.Metric, c auth.CredentialSnapshot, known map[string]bool) {
	provider := string(c.Provider)
	up := 0.0
	if c.Status == auth.StatusAvailable || c.Status == auth.StatusDegraded {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(s.available, prometheus.GaugeValue, up, provider, c.Name)
	if c.Quota != nil {
		for _, w := range c.Quota.Windows {
			ch <- prometheus.MustNewConstMetric(s.quotaUsed, prometheus.GaugeValue, w.Utilization, c.Name, w.Window)
			if !w.ResetsAt.IsZero() {
				ch <- prometheus.MustNewConstMetric(s.quotaReset, prometheus.GaugeValue, float64(w.ResetsAt.Unix()), c.Name, w.Window)
			}
		}
	}
	if c.Whole != nil {
		s.collectBlock(ch, provider, c.Name, wholeModel, *c.Whole)
	}
	for model, st := range c.Models {
		if !known[model] {
			continue
		}
		ok := 0.0
		if st.Status == auth.StatusAvailable {
			ok = 1
		}
		ch <- prometheus.MustNewConstMetric(s.modelAvailable, prometheus.GaugeValue, ok, provider, c.Name, model)
		s.collectBlock(ch, provider, c.Name, model, st)
	}
}

// collectBlock reports a block in force.
func (s *stateCollector) collectBlock(ch chan<- prometheus.Metric, provider, name, model string, st auth.ModelState) {
	switch st.Status {
	case auth.StatusCooldown, auth.StatusBlocked, auth.StatusDisabled:
	default:
		return // available, or probing: a request at a time goes through
	}
	if st.NextRetryAfter.IsZero() {
		return
	}
	until := float64(st.NextRetryAfter.UnixMilli()) / 1000
	ch <- prometheus.MustNewConstMetric(s.cooldownUntil, prometheus.GaugeValue, until, provider, name, model, string(st.Reason))
}
