package selector

import "github.com/caddy-cliproxy/cliproxy/auth"

// Tiered offers Next only the candidates of the highest priority present,
// so a lower tier serves only while every credential above it is out.
type Tiered struct {
	Next Selector
}

// Pick implements Selector.
func (t Tiered) Pick(key string, candidates []*auth.Credential) *auth.Credential {
	return t.Next.Pick(key, TopTier(candidates))
}

// TopTier returns the candidates that share the highest priority, in their
// original order. When every candidate is in one tier it returns candidates
// itself without allocating.
func TopTier(candidates []*auth.Credential) []*auth.Credential {
	if len(candidates) < 2 {
		return candidates
	}
	top, mixed := candidates[0].Priority, false
	for _, c := range candidates[1:] {
		if c.Priority != top {
			mixed = true
			top = max(top, c.Priority)
		}
	}
	if !mixed {
		return candidates
	}
	tier := make([]*auth.Credential, 0, len(candidates))
	for _, c := range candidates {
		if c.Priority == top {
			tier = append(tier, c)
		}
	}
	return tier
}
