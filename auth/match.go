package auth

// MatchModel reports whether model matches pattern, where '*' matches any
// run of characters (including '/', which model IDs of aggregators contain)
// and every other character matches itself, ASCII case-insensitively.
//
// The model comes from a client, so the match is linear backtracking over
// the last star only: its time is bounded by len(pattern)·len(model) with a
// small constant, whatever the input.
func MatchModel(pattern, model string) bool {
	p, m := 0, 0
	star, resume := -1, 0
	for m < len(model) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, resume = p, m
			p++
		case p < len(pattern) && foldEqual(pattern[p], model[m]):
			p++
			m++
		case star >= 0:
			// let the last star swallow one more character and retry
			resume++
			p, m = star+1, resume
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func foldEqual(a, b byte) bool {
	if a == b {
		return true
	}
	if 'A' <= a && a <= 'Z' {
		a += 'a' - 'A'
	}
	if 'A' <= b && b <= 'Z' {
		b += 'a' - 'A'
	}
	return a == b
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
