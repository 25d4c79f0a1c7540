package pool

import (
	"sync/atomic"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/selector"
)

// Switch is a member's strategy, which an operator may replace through
// the management API while requests are served: the executor and the
// affinity wrapper hold it and never see the swap.
type Switch struct {
	cur atomic.Pointer[selector.Selector]
}

// NewSwitch returns a Switch set to sel.
func NewSwitch(sel selector.Selector) *Switch {
	s := new(Switch)
	s.Set(sel)
	return s
}

// Set makes sel the strategy of every pick from now on.
func (s *Switch) Set(sel selector.Selector) { s.cur.Store(&sel) }

// Current is the strategy picks are made with now.
func (s *Switch) Current() selector.Selector { return *s.cur.Load() }

// Pick implements selector.Selector with the current strategy.
func (s *Switch) Pick(key string, candidates []*auth.Credential) *auth.Credential {
	return (*s.cur.Load()).Pick(key, candidates)
}

// PickLevels implements selector.LevelPicker with the current strategy.
func (s *Switch) PickLevels(key string, candidates []*auth.Credential, levels selector.Levels) *auth.Credential {
	return selector.PickWith(*s.cur.Load(), key, candidates, levels)
}

// Interface guards
var (
	_ selector.Selector    = (*Switch)(nil)
	_ selector.LevelPicker = (*Switch)(nil)
)
