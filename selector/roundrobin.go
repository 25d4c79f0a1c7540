package selector

import (
	"math/rand/v2"
	"sort"
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
//
// When the candidates span two or more groups and every candidate has one
// (for instance the projects of one Google account), it rotates across the
// groups first and within the chosen group second, so one account with many
// projects does not take a share per project. A process starts each key at a
// random group, so several gateways do not all hit the same group first.
// One group, or grouped candidates mixed with ungrouped ones, rotate flat.
type RoundRobinSelector struct {
	mu     sync.Mutex
	last   map[string]string
	groups map[string]*groupCursor
}

// groupCursor is the two-level cursor of one rotation key.
type groupCursor struct {
	group  string            // the group picked last
	inside map[string]string // group → credential picked last in it
}

// NewRoundRobin returns an empty round robin.
func NewRoundRobin() *RoundRobinSelector {
	return &RoundRobinSelector{last: make(map[string]string), groups: make(map[string]*groupCursor)}
}

// Pick implements Selector.
func (rr *RoundRobinSelector) Pick(key string, candidates []*auth.Credential) *auth.Credential {
	if len(candidates) == 0 {
		return nil
	}
	grouped := spansGroups(candidates)
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if grouped {
		return rr.pickGrouped(key, candidates)
	}
	prev, seen := rr.last[key]
	pick := candidates[0]
	if seen {
		pick = after(candidates, prev)
	} else {
		forgetOne(rr.last)
	}
	rr.last[key] = pick.Name
	return pick
}

// after returns the first candidate whose name sorts after name, wrapping
// around; candidates are ordered by name, so this is a binary search.
func after(candidates []*auth.Credential, name string) *auth.Credential {
	i := sort.Search(len(candidates), func(i int) bool { return candidates[i].Name > name })
	if i == len(candidates) {
		i = 0
	}
	return candidates[i]
}

// spansGroups reports whether every candidate has a group and there are at
// least two different ones.
func spansGroups(candidates []*auth.Credential) bool {
	first := candidates[0].Group
	if first == "" {
		return false
	}
	two := false
	for _, c := range candidates[1:] {
		if c.Group == "" {
			return false
		}
		if c.Group != first {
			two = true
		}
	}
	return two
}

func (rr *RoundRobinSelector) pickGrouped(key string, candidates []*auth.Credential) *auth.Credential {
	gc := rr.groups[key]
	if gc == nil {
		if len(rr.groups) >= maxCursors {
			for k := range rr.groups {
				delete(rr.groups, k)
				break
			}
		}
		gc = &groupCursor{inside: make(map[string]string)}
		rr.groups[key] = gc
	}
	names := groupNames(candidates)
	var group string
	if gc.group == "" {
		group = names[rand.IntN(len(names))]
	} else {
		i := sort.SearchStrings(names, gc.group+"\x00")
		if i == len(names) {
			i = 0
		}
		group = names[i]
	}
	members := make([]*auth.Credential, 0, len(candidates))
	for _, c := range candidates {
		if c.Group == group {
			members = append(members, c)
		}
	}
	pick := members[0]
	if prev, ok := gc.inside[group]; ok {
		pick = after(members, prev)
	}
	gc.group = group
	gc.inside[group] = pick.Name
	return pick
}

// groupNames returns the distinct groups of candidates, sorted.
func groupNames(candidates []*auth.Credential) []string {
	names := make([]string, 0, 4)
	for _, c := range candidates {
		i := sort.SearchStrings(names, c.Group)
		if i < len(names) && names[i] == c.Group {
			continue
		}
		names = append(names, "")
		copy(names[i+1:], names[i:])
		names[i] = c.Group
	}
	return names
}

// forgetOne drops an arbitrary entry of a full cursor map: a forgotten key
// restarts at the first candidate, which costs fairness for one turn, not
// memory.
func forgetOne(m map[string]string) {
	if len(m) < maxCursors {
		return
	}
	for k := range m {
		delete(m, k)
		return
	}
}
