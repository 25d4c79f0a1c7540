package selector

import "github.com/caddy-cliproxy/cliproxy/auth"

// fillFirst always picks the first candidate, so one credential takes all
// the traffic until it is out and the next one fills in.
type fillFirst struct{}

func (fillFirst) Pick(_ string, candidates []*auth.Credential) *auth.Credential {
	if len(candidates) == 0 {
		return nil
	}
	return candidates[0]
}
