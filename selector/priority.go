package selector

import "github.com/caddy-cliproxy/cliproxy/auth"

// Tiered offers Next only the candidates of the highest priority present,
// so a lower tier serves only while every credential above it is out.
type Tiered struct {
	Next Selector
	// Weighted leaves credentials of weight 0 out before choosing the
	// tier, so a tier whose members all have weight 0 gives way to the
	// next instead of leaving the request unserved.
	Weighted bool
}

// Pick implements Selector.
func (t Tiered) Pick(key string, candidates []*auth.Credential) *auth.Credential {
	if t.Weighted {
		candidates = positiveWeights(candidates)
	}
	return t.Next.Pick(key, TopTier(candidates))
}

// PickLevels implements LevelPicker: Next gets the levels when it can
// use them.
func (t Tiered) PickLevels(key string, candidates []*auth.Credential, levels Levels) *auth.Credential {
	if t.Weighted {
		candidates = positiveWeights(candidates)
	}
	return PickWith(t.Next, key, TopTier(candidates), levels)
}

// positiveWeights returns the candidates of positive weight, without
// allocating when that is all of them.
func positiveWeights(candidates []*auth.Credential) []*auth.Credential {
	for i, c := range candidates {
		if c.Weight > 0 {
			continue
		}
		out := make([]*auth.Credential, 0, len(candidates)-1)
		out = append(out, candidates[:i]...)
		for _, c := range candidates[i+1:] {
			if c.Weight > 0 {
				out = append(out, c)
			}
		}
		return out
	}
	return candidates
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
