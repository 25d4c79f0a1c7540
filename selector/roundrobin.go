package selector

import (
	"sync"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// maxCursors bounds how many rotation keys a round robin remembers; clients
// choose model names, so the key space is theirs, not the operator's.
const maxCursors = 4096

// RoundRobinSelector rotates through the candidates of each rotation key.
//
// Its cursor is the name of the credential picked last, not an index: the
// next pick is the first candidate whose name sorts after it. So the
// rotation stays fair when credentials join or leave or cool down, and the
// cursor cannot overflow however long the process runs.
type RoundRobinSelector struct {
	mu   sync.Mutex
	last map[string]string
}

// NewRoundRobin returns an empty round robin.
func NewRoundRobin() *RoundRobinSelector {
	return &RoundRobinSelector{last: make(map[string]string)}
}

// Pick implements Selector.
func (rr *RoundRobinSelector) Pick(key string, candidates []*auth.Credential) *auth.Credential {
	if len(candidates) == 0 {
		return nil
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	prev, seen := rr.last[key]
	pick := candidates[0]
	if seen {
		for _, c := range candidates {
			if c.Name > prev {
				pick = c
				break
			}
		}
	} else if len(rr.last) >= maxCursors {
		// forget an arbitrary cursor: a forgotten key restarts at the
		// first candidate, which costs fairness for one turn, not memory
		for k := range rr.last {
			delete(rr.last, k)
			break
		}
	}
	rr.last[key] = pick.Name
	return pick
}
