package cliproxy

import (
	"sync/atomic"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/selector"
)

// switchSelector is a handler's strategy, which an operator may replace
// through the management API while requests are served: the executor and
// the affinity wrapper hold it and never see the swap.
type switchSelector struct {
	cur atomic.Pointer[selector.Selector]
}

func newSwitchSelector(sel selector.Selector) *switchSelector {
	s := new(switchSelector)
	s.set(sel)
	return s
}

func (s *switchSelector) set(sel selector.Selector) { s.cur.Store(&sel) }

// Pick implements selector.Selector with the current strategy.
func (s *switchSelector) Pick(key string, candidates []*auth.Credential) *auth.Credential {
	return (*s.cur.Load()).Pick(key, candidates)
}

// Interface guard
var _ selector.Selector = (*switchSelector)(nil)
