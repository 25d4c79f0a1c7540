package auth

import "strings"

// MatchModel reports whether model matches pattern, where '*' matches any
// run of characters (including '/', which model IDs of aggregators contain)
// and every other character matches itself, case-insensitively.
func MatchModel(pattern, model string) bool {
	for {
		star := strings.IndexByte(pattern, '*')
		if star < 0 {
			return strings.EqualFold(pattern, model)
		}
		prefix := pattern[:star]
		if len(model) < len(prefix) || !strings.EqualFold(model[:len(prefix)], prefix) {
			return false
		}
		model = model[len(prefix):]
		pattern = pattern[star+1:]
		for len(pattern) > 0 && pattern[0] == '*' {
			pattern = pattern[1:]
		}
		if pattern == "" {
			return true
		}
		// try every position for the rest of the pattern; patterns are
		// short and operator-written, so backtracking stays cheap
		for i := 0; i <= len(model); i++ {
			if MatchModel(pattern, model[i:]) {
				return true
			}
		}
		return false
	}
}

// matchAny reports whether model matches one of patterns.
func matchAny(patterns []string, model string) bool {
	for _, p := range patterns {
		if MatchModel(p, model) {
			return true
		}
	}
	return false
}
