package pool

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/auth/authfile"
	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
	"github.com/caddy-cliproxy/cliproxy/management"
	"github.com/caddy-cliproxy/cliproxy/selector"
	"github.com/caddy-cliproxy/cliproxy/session"
	"github.com/caddy-cliproxy/cliproxy/telemetry"
)

// State is what a reload must not lose and what operators change: the
// cooldowns (Health), the session bindings (Sessions), the strategies'
// cursors, usage totals, the usage telemetry (Telemetry), the management
// lockouts, the operator's
// overrides, the auth directories the pool's handlers share, and the
// pool's link to its cluster. The handlers serving from the pool are its
// members; an operator's change reaches them through Member.Changed.
//
// The embedding program keeps one State per pool name across config
// reloads (Caddy's UsagePool in the cliproxy module) and calls Destruct
// when the last handler let go.
type State struct {
	// Health is the pool's credential health, shared by every pool the
	// members build.
	Health *auth.Health
	// Sessions are the pool's local session bindings.
	Sessions *session.Cache
	// Lockout is the management API's failed-key lockout.
	Lockout *management.Lockout
	// Telemetry is the pool's usage queue and channels that collectors
	// read; with a cluster linked, its queue is the cluster's shared list.
	Telemetry *telemetry.Hub

	usage *management.UsageStats
	// shared is the pool's cluster, if any: management drops bindings
	// through it so they reach every instance
	shared atomic.Pointer[link]

	mu         sync.Mutex
	strategies map[string]selector.Selector // by canonical name
	authDirs   map[string]*authfile.Dir     // by absolute directory
	authRefs   map[string]int               // members using each
	members    []*Member                    // registered, not left; oldest first
	disabled   map[string]bool              // operator overrides, by credential name
	// strategyOverride is the strategy an operator chose through the
	// management API in place of strategyBase, the configured one; a
	// config whose strategy differs from strategyBase ends the override.
	strategyOverride, strategyBase string
}

// Member is one handler serving from the pool.
type Member struct {
	// Pool returns the credentials the member serves from now.
	Pool func() *auth.Pool
	// Strategy is the strategy the member was configured with, canonical.
	Strategy string
	// Selector is the member's strategy switch (from State.Selector),
	// which SetStrategy turns.
	Selector *Switch
	// Changed rebuilds the member's pool after an operator changed what
	// it is built from (an enable or disable); reason says what changed.
	Changed func(reason string)
	// Guard is the guard of the member's management site mount; nil when
	// it mounts none.
	Guard *management.Guard
	// Affinity is how the member's session affinity is set, as the
	// management API shows it.
	Affinity management.Affinity
}

// New returns the state of a pool whose session bindings live for ttl.
func New(ttl time.Duration) *State {
	return &State{
		Health:     auth.NewHealth(),
		Sessions:   session.NewCache(ttl, 0),
		Lockout:    &management.Lockout{},
		Telemetry:  telemetry.NewHub(0, 0),
		usage:      management.NewUsageStats(),
		strategies: make(map[string]selector.Selector),
		authDirs:   make(map[string]*authfile.Dir),
		authRefs:   make(map[string]int),
		disabled:   make(map[string]bool),
	}
}

// Destruct stops the binding sweeper, the auth directory watchers and the
// token refreshers once no handler uses the pool.
func (s *State) Destruct() error {
	s.Sessions.Stop()
	s.mu.Lock()
	dirs := s.authDirs
	s.authDirs = make(map[string]*authfile.Dir)
	s.mu.Unlock()
	for _, a := range dirs {
		a.Close()
	}
	return nil
}

// OpenAuthDir returns the pool's watcher of dir, starting it the first
// time: every handler of the pool, across reloads, shares its files and
// token sources, so each token is refreshed once. Each call must be
// matched by ReleaseAuthDir with the key returned; the watcher stops with
// its last user, so a reload that drops or moves auth_dir leaves no
// refresher behind. A new watcher refreshes through the pool's cluster.
func (s *State) OpenAuthDir(dir string, refresher *oauth.Refresher, logger *zap.Logger) (a *authfile.Dir, key string, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, "", fmt.Errorf("resolving auth_dir: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.authDirs[abs]; ok {
		s.authRefs[abs]++
		return a, abs, nil
	}
	a, err = authfile.OpenDir(abs, refresher, s.Health, logger)
	if err != nil {
		return nil, "", err
	}
	if l := s.shared.Load(); l != nil {
		a.Share(l.cl)
	}
	s.authDirs[abs] = a
	s.authRefs[abs] = 1
	return a, abs, nil
}

// ReleaseAuthDir ends one use of the watcher of dir (the key OpenAuthDir
// returned).
func (s *State) ReleaseAuthDir(dir string) {
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
		a.Close()
	}
}

// strategy returns the pool's strategy called canonical, building it the
// first time: a reload with the same strategy keeps its cursors, one with
// another strategy gets a fresh one and keeps the bindings.
func (s *State) strategy(canonical string) (selector.Selector, error) {
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

// Selector returns a strategy switch for a member configured with
// strategy (canonical): it starts on the operator's choice as long as the
// configuration still has the strategy that choice replaced.
func (s *State) Selector(configured string) (*Switch, error) {
	sel, err := s.strategy(s.effectiveStrategy(configured))
	if err != nil {
		return nil, err
	}
	return NewSwitch(sel), nil
}

// Register makes m one of the members the management API acts on.
func (s *State) Register(m *Member) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members = append(s.members, m)
}

// Unregister ends what Register began.
func (s *State) Unregister(m *Member) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members = slices.DeleteFunc(s.members, func(x *Member) bool { return x == m })
}

// current returns the members of the pool, newest first.
func (s *State) current() []*Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.members)
	slices.Reverse(out)
	return out
}

// ManagementGuard is the guard of the newest member that mounts the
// management API on its site, or nil.
func (s *State) ManagementGuard() *management.Guard {
	for _, m := range s.current() {
		if m.Guard != nil {
			return m.Guard
		}
	}
	return nil
}

// Link makes cl the pool's cluster: management drops session bindings
// through bindings (the cluster's, shared with the other instances), the
// health reaches the other instances through cl, the auth directories
// refresh their tokens through it, and its usage list is the telemetry's
// queue. A later Link (a reload to another Redis) takes its place.
func (s *State) Link(cl Cluster, bindings management.SessionBindings) {
	s.Health.SetSync(cl)
	s.shared.Store(&link{cl: cl, bindings: bindings})
	s.Telemetry.SetShared(cl)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.authDirs {
		a.Share(cl)
	}
}

// Unlink ends what Link(cl) began, when its connection closes, unless
// another cluster took its place.
func (s *State) Unlink(cl Cluster) {
	if l := s.shared.Load(); l != nil && l.cl == cl {
		s.shared.CompareAndSwap(l, nil)
	}
	s.Telemetry.ClearShared(cl)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.authDirs {
		a.Unshare(cl)
	}
}

// effectiveStrategy is the strategy a handler configured with configured
// uses: an operator's choice as long as the config's strategy is the one
// it replaced.
func (s *State) effectiveStrategy(configured string) string {
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

// WithOverrides returns creds with the operator's enable/disable applied,
// copying the credentials it changes.
func (s *State) WithOverrides(creds []*auth.Credential) []*auth.Credential {
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
