package executor

import (
	"fmt"
	"strings"
	"sync"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/selector"
)

// view is one pool with what the executor works out from it once: each
// credential's upstream, and the credentials of each protocol family.
// Requests read the current view once and keep it to the end.
type view struct {
	pool *auth.Pool
	// levels are the pool's usage levels, for placement
	levels    selector.Levels
	endpoints map[*auth.Credential]endpoint
	byFamily  map[Family][]*auth.Credential
	// oauthClients is the pool's default of which clients its OAuth
	// accounts serve
	oauthClients auth.OAuthClients
	// prefixes are the credentials' model prefixes: a model named under
	// one is for those credentials alone
	prefixes map[string]bool

	// eligible lists by request kind, so a request does not walk the pool
	// to find them; a view's credentials never change
	mu    sync.RWMutex
	lists map[eligibleKey][]*auth.Credential
}

// eligibleKey is what decides which credentials may serve a request.
type eligibleKey struct {
	family                     Family
	endpoint, model, principal string
	client                     auth.Client
}

// maxEligibleLists bounds the remembered lists: clients choose the model
// names. Past it, requests of new kinds work their list out each time.
const maxEligibleLists = 1024

func newView(p *auth.Pool, oauthClients auth.OAuthClients) (*view, error) {
	if p == nil {
		return nil, fmt.Errorf("no pool")
	}
	v := &view{
		pool:         p,
		levels:       p.QuotaLevel,
		oauthClients: oauthClients,
		endpoints:    make(map[*auth.Credential]endpoint),
		byFamily:     make(map[Family][]*auth.Credential),
		lists:        make(map[eligibleKey][]*auth.Credential),
		prefixes:     make(map[string]bool),
	}
	for _, c := range p.Credentials() {
		if c.Prefix != "" {
			v.prefixes[c.Prefix] = true
		}
		ep, err := newEndpoint(c)
		if err != nil {
			return nil, err
		}
		v.endpoints[c] = ep
		for _, f := range []Family{FamilyAnthropic, FamilyOpenAI, FamilyGemini} {
			if servesFamily(c.Provider, f) {
				v.byFamily[f] = append(v.byFamily[f], c)
			}
		}
	}
	return v, nil
}

// eligible returns the credentials that may serve route's model to
// principal, whatever their health. The slice is shared: callers must not
// modify it.
func (v *view) eligible(route Route, model, principal string) []*auth.Credential {
	k := eligibleKey{route.Family, route.Endpoint, model, principal, route.Client}
	v.mu.RLock()
	list, ok := v.lists[k]
	v.mu.RUnlock()
	if ok {
		return list
	}
	list = v.findEligible(route, model, principal)
	v.mu.Lock()
	if len(v.lists) < maxEligibleLists {
		v.lists[k] = list
	}
	v.mu.Unlock()
	return list
}

func (v *view) findEligible(route Route, model, principal string) []*auth.Credential {
	all := v.byFamily[route.Family]
	out := make([]*auth.Credential, 0, len(all))
	for _, c := range all {
		if route.servedBy(c.Provider) && route.pathServes(c) && v.serves(c, model, principal) && c.ServesClient(route.Client, v.oauthClients) {
			out = append(out, c)
		}
	}
	return out
}

// servesRoute reports whether c's provider serves route, for the client
// the route comes from.
func (v *view) servesRoute(c *auth.Credential, route Route) bool {
	return servesFamily(c.Provider, route.Family) && route.servedBy(c.Provider) && c.ServesClient(route.Client, v.oauthClients)
}

// refusesClient reports whether a request for route, model and principal
// that no credential may serve would have had one if it came from another
// client: only subscription accounts of other clients' families serve it.
func (v *view) refusesClient(route Route, model, principal string) bool {
	for _, c := range v.byFamily[route.Family] {
		if route.servedBy(c.Provider) && route.pathServes(c) && v.serves(c, model, principal) && !c.ServesClient(route.Client, v.oauthClients) {
			return true
		}
	}
	return false
}

func servesFamily(p auth.Provider, f Family) bool {
	for _, fp := range f.Providers() {
		if fp == p {
			return true
		}
	}
	return false
}

// upstreamModel is the name c's upstream knows the model a request names
// by, and whether c serves that name at all. A credential with a prefix
// serves "<prefix>/<model>" alone, sent upstream as <model>; one without
// serves every other name as it is, but not a name under another
// credential's prefix: such a name is meant for those credentials.
func (v *view) upstreamModel(c *auth.Credential, model string) (string, bool) {
	if c.Prefix != "" {
		return c.UpstreamModel(model)
	}
	if p, _, ok := strings.Cut(model, "/"); ok && v.prefixes[p] {
		return "", false
	}
	return model, true
}

// serves reports whether c may serve model to principal, whatever its
// health; the provider family is checked by the caller.
func (v *view) serves(c *auth.Credential, model, principal string) bool {
	if c.Disabled || !c.AllowsClient(principal) {
		return false
	}
	up, ok := v.upstreamModel(c, model)
	return ok && c.AllowsModel(up)
}
