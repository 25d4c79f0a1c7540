package cliproxy

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/cluster"
	"github.com/caddy-cliproxy/cliproxy/executor"
	"github.com/caddy-cliproxy/cliproxy/management"
	"github.com/caddy-cliproxy/cliproxy/selector"
	"github.com/caddy-cliproxy/cliproxy/session"
	"github.com/caddy-cliproxy/cliproxy/telemetry"
)

// pools holds the state of each named credential pool across config
// reloads: the new handler is provisioned while the old one still runs, so
// both hold a reference and the state lives on as long as either does.
var pools = caddy.NewUsagePool()

// poolState is what a reload must not lose: cooldowns, session bindings,
// the strategies' cursors, usage totals, what operators changed through
// the management API, and the management lockouts.
type poolState struct {
	health   *auth.Health
	bindings *session.Cache
	// shared is the pool's cluster in Redis, if any: management drops
	// bindings through it so they reach every instance
	shared  atomic.Pointer[cluster.Cluster]
	usage   *management.UsageStats
	lockout *management.Lockout
	// telemetry is the usage queue and channels collectors read
	telemetry *telemetry.Hub

	mu         sync.Mutex
	strategies map[string]selector.Selector // by canonical name
	authDirs   map[string]*authDir          // by absolute directory
	authRefs   map[string]int               // handlers using each
	handlers   []*Handler                   // provisioned, not cleaned up; oldest first
	disabled   map[string]bool              // operator overrides, by credential name
	// strategyOverride is the strategy an operator chose through the
	// management API in place of strategyBase, the configured one; a
	// config whose strategy differs from strategyBase ends the override.
	strategyOverride, strategyBase string
}

// Destruct stops the binding sweeper, the auth directory watchers and the
// token refreshers once no handler uses the pool.
func (s *poolState) Destruct() error {
	s.bindings.Stop()
	s.mu.Lock()
	dirs := s.authDirs
	s.authDirs = make(map[string]*authDir)
	s.mu.Unlock()
	for _, a := range dirs {
		a.close()
	}
	return nil
}

// openAuthDir returns the pool's watcher of dir, starting it the first
// time: every handler of the pool, across reloads, shares its files and
// token sources, so each token is refreshed once. Each call must be
// matched by releaseAuthDir; the watcher stops with its last user, so a
// reload that drops or moves auth_dir leaves no refresher behind.
func (s *poolState) openAuthDir(dir string, refresher *auth.Refresher, cl *cluster.Cluster, logger *zap.Logger) (*authDir, string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, "", fmt.Errorf("resolving auth_dir: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.authDirs[abs]; ok {
		s.authRefs[abs]++
		a.share(cl)
		return a, abs, nil
	}
	a, err := openAuthDir(abs, refresher, s.health, cl, logger)
	if err != nil {
		return nil, "", err
	}
	s.authDirs[abs] = a
	s.authRefs[abs] = 1
	return a, abs, nil
}

// releaseAuthDir ends one use of the watcher of dir (as openAuthDir
// returned it).
func (s *poolState) releaseAuthDir(dir string) {
	s.mu.Lock()
	s.authRefs[dir]--
	a := s.authDirs[dir]
	last := s.authRefs[dir] <= 0
	if last {
		delete(s.authDirs, dir)
		delete(s.authRefs, dir)
	}
	s.mu.Unlock()
	if last && a != nil {
		a.close()
	}
}

// strategy returns the pool's strategy called canonical, building it the
// first time: a reload with the same strategy keeps its cursors, one with
// another strategy gets a fresh one and keeps the bindings.
func (s *poolState) strategy(canonical string) (selector.Selector, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sel, ok := s.strategies[canonical]; ok {
		return sel, nil
	}
	sel, err := selector.New(canonical)
	if err != nil {
		return nil, err
	}
	s.strategies[canonical] = sel
	return sel, nil
}

// register makes h one of the handlers the management API acts on.
func (s *poolState) register(h *Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers = append(s.handlers, h)
}

// unregister ends what register began.
func (s *poolState) unregister(h *Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers = slices.DeleteFunc(s.handlers, func(x *Handler) bool { return x == h })
}

// current returns the handlers of the pool, newest first.
func (s *poolState) current() []*Handler {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.handlers)
	slices.Reverse(out)
	return out
}

// effectiveStrategy is the strategy a handler configured with configured
// uses: an operator's choice as long as the config's strategy is the one
// it replaced.
func (s *poolState) effectiveStrategy(configured string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.strategyOverride != "" {
		if s.strategyBase == configured {
			return s.strategyOverride
		}
		s.strategyOverride, s.strategyBase = "", ""
	}
	return configured
}

// withOverrides returns creds with the operator's enable/disable applied,
// copying the credentials it changes.
func (s *poolState) withOverrides(creds []*auth.Credential) []*auth.Credential {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.disabled) == 0 {
		return creds
	}
	for i, c := range creds {
		if d, ok := s.disabled[c.Name]; ok && d != c.Disabled {
			cp := *c
			cp.Disabled = d
			creds[i] = &cp
		}
	}
	return creds
}

// recordUsage adds a finished request to the usage totals.
func (s *poolState) recordUsage(ev executor.UsageEvent) {
	s.usage.Record(ev.Credential, ev.Client, ev.Status, management.Tokens{
		Input:         ev.Tokens.Input,
		Output:        ev.Tokens.Output,
		CacheRead:     ev.Tokens.CacheRead,
		CacheCreation: ev.Tokens.CacheCreation,
	})
}

// loadPoolState returns the shared state of the pool called name, with the
// session TTL set to ttl.
func loadPoolState(name string, ttl time.Duration) (*poolState, error) {
	val, _, err := pools.LoadOrNew(name, func() (caddy.Destructor, error) {
		return &poolState{
			health:     auth.NewHealth(),
			bindings:   session.NewCache(ttl, 0),
			strategies: make(map[string]selector.Selector),
			authDirs:   make(map[string]*authDir),
			authRefs:   make(map[string]int),
			usage:      management.NewUsageStats(),
			lockout:    &management.Lockout{},
			telemetry:  telemetry.NewHub(0, 0),
			disabled:   make(map[string]bool),
		}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("provisioning cliproxy: loading pool %q: %w", name, err)
	}
	st := val.(*poolState)
	st.bindings.SetTTL(ttl)
	return st, nil
}
