package cliproxy

import (
	"fmt"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/selector"
	"github.com/caddy-cliproxy/cliproxy/session"
)

// pools holds the state of each named credential pool across config
// reloads: the new handler is provisioned while the old one still runs, so
// both hold a reference and the state lives on as long as either does.
var pools = caddy.NewUsagePool()

// poolState is what a reload must not lose: cooldowns, session bindings
// and the strategies' cursors.
type poolState struct {
	health   *auth.Health
	bindings *session.Cache

	mu         sync.Mutex
	strategies map[string]selector.Selector // by canonical name
	authDirs   map[string]*authDir          // by directory
}

// Destruct stops the binding sweeper, the auth directory watchers and the
// token refreshers once no handler uses the pool.
func (s *poolState) Destruct() error {
	s.bindings.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.authDirs {
		a.close()
	}
	return nil
}

// openAuthDir returns the pool's watcher of dir, starting it the first
// time: every handler of the pool, across reloads, shares its files and
// token sources, so each token is refreshed once.
func (s *poolState) openAuthDir(dir string, refresher *auth.Refresher, logger *zap.Logger) (*authDir, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.authDirs[dir]; ok {
		return a, nil
	}
	a, err := openAuthDir(dir, refresher, s.health, logger)
	if err != nil {
		return nil, err
	}
	s.authDirs[dir] = a
	return a, nil
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

// loadPoolState returns the shared state of the pool called name, with the
// session TTL set to ttl.
func loadPoolState(name string, ttl time.Duration) (*poolState, error) {
	val, _, err := pools.LoadOrNew(name, func() (caddy.Destructor, error) {
		return &poolState{
			health:     auth.NewHealth(),
			bindings:   session.NewCache(ttl, 0),
			strategies: make(map[string]selector.Selector),
			authDirs:   make(map[string]*authDir),
		}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("provisioning cliproxy: loading pool %q: %w", name, err)
	}
	st := val.(*poolState)
	st.bindings.SetTTL(ttl)
	return st, nil
}
