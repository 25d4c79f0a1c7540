package selector

import (
	"fmt"
	"strings"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// Selector picks one credential from candidates for a request whose
// rotation key is key (provider family and model, e.g. "claude:opus").
// Candidates are ordered by name and all may serve the request; Pick
// returns nil only when candidates is empty. Implementations are safe for
// concurrent use.
type Selector interface {
	Pick(key string, candidates []*auth.Credential) *auth.Credential
}

// The canonical strategy names.
const (
	RoundRobin         = "round-robin"
	FillFirst          = "fill-first"
	WeightedRoundRobin = "weighted-round-robin"
	Headroom           = "headroom"
)

// NormalizeStrategy maps a strategy name or one of its aliases to the
// canonical name. An unknown name is an error, never a silent fallback.
func NormalizeStrategy(name string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "round-robin", "roundrobin", "rr":
		return RoundRobin, nil
	case "fill-first", "fillfirst", "ff":
		return FillFirst, nil
	case "weighted-round-robin", "weightedroundrobin", "wrr":
		return WeightedRoundRobin, nil
	case "headroom":
		return Headroom, nil
	}
	return "", fmt.Errorf("unknown strategy %q (want round-robin, fill-first, weighted-round-robin or headroom)", name)
}

// New returns the strategy called name (aliases accepted), wrapped so that
// it only ever sees the highest priority tier of the candidates.
func New(name string) (Selector, error) {
	canonical, err := NormalizeStrategy(name)
	if err != nil {
		return nil, err
	}
	switch canonical {
	case FillFirst:
		return Tiered{Next: fillFirst{}}, nil
	case WeightedRoundRobin:
		return Tiered{Next: NewWeighted(), Weighted: true}, nil
	case Headroom:
		return Tiered{Next: NewHeadroom()}, nil
	}
	return Tiered{Next: NewRoundRobin()}, nil
}
