package selector

import (
	"sync"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// WeightedSelector is smooth weighted round robin (the algorithm of nginx's
// upstream module): each credential is picked in proportion to its Weight,
// and the picks are interleaved rather than bunched (weights 5,1,1 give
// a a b a c a a, not a a a a a b c). A weight of 0 or less takes a
// credential out of rotation.
type WeightedSelector struct {
	mu      sync.Mutex
	current map[string]map[string]int // rotation key → credential → current weight
}

// NewWeighted returns an empty weighted round robin.
func NewWeighted() *WeightedSelector {
	return &WeightedSelector{current: make(map[string]map[string]int)}
}

// Pick implements Selector. It returns nil when no candidate has a
// positive weight.
func (ws *WeightedSelector) Pick(key string, candidates []*auth.Credential) *auth.Credential {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	cur := ws.current[key]
	if cur == nil {
		if len(ws.current) >= maxCursors {
			for k := range ws.current {
				delete(ws.current, k)
				break
			}
		}
		cur = make(map[string]int, len(candidates))
		ws.current[key] = cur
	}
	var best *auth.Credential
	total, bestWeight := 0, 0
	for _, c := range candidates {
		if c.Weight <= 0 {
			continue
		}
		total += c.Weight
		w := cur[c.Name] + c.Weight
		cur[c.Name] = w
		if best == nil || w > bestWeight {
			best, bestWeight = c, w
		}
	}
	if best == nil {
		return nil
	}
	cur[best.Name] = bestWeight - total
	if len(cur) > 2*len(candidates)+8 {
		// credentials that left the pool keep no state
		for name := range cur {
			if !containsName(candidates, name) {
				delete(cur, name)
			}
		}
	}
	return best
}

func containsName(candidates []*auth.Credential, name string) bool {
	for _, c := range candidates {
		if c.Name == name {
			return true
		}
	}
	return false
}
