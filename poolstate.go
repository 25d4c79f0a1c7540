package cliproxy

import (
	"fmt"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

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
}

// Destruct stops the binding sweeper once no handler uses the pool.
func (s *poolState) Destruct() error {
	s.bindings.Stop()
	return nil
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
		}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("provisioning cliproxy: loading pool %q: %w", name, err)
	}
	st := val.(*poolState)
	st.bindings.SetTTL(ttl)
	return st, nil
}
