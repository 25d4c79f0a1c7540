package cliproxy

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-cliproxy/cliproxy/management"
	"github.com/caddy-cliproxy/cliproxy/pool"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// AdminAPI mounts the management API on Caddy's admin endpoint under
// /cliproxy/, for the local operators the admin endpoint already trusts
// (it needs no key of its own). Requests name their pool with ?pool=;
// without it, the pool "default", else the only pool there is. GET
// /cliproxy/pools lists the pools.
type AdminAPI struct{}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.cliproxy",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// AdminPrefix is where the admin endpoint serves the management API.
const AdminPrefix = "/cliproxy/"

// Routes returns the route of the management API.
func (AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: AdminPrefix, Handler: caddy.AdminHandlerFunc(serveAdmin)}}
}

// serveAdmin writes its own JSON errors, with their codes, and so never
// returns one to the admin endpoint.
func serveAdmin(w http.ResponseWriter, r *http.Request) error {
	rel := strings.TrimPrefix(r.URL.Path, AdminPrefix)
	if rel == "pools" {
		if r.Method != http.MethodGet {
			management.WriteError(w, &management.Error{Status: http.StatusMethodNotAllowed, Code: management.CodeMethodNotAllowed, Message: "method not allowed; use GET"})
			return nil
		}
		names := poolNames()
		management.WriteJSON(w, http.StatusOK, map[string]any{"pools": names})
		return nil
	}
	if management.IsPage(rel) {
		// the dashboard picks its pool itself
		management.ServePage(w, r, rel)
		return nil
	}
	state, err := findPool(r.URL.Query().Get("pool"))
	if err != nil {
		management.WriteError(w, err)
		return nil
	}
	management.Serve(w, r, state, rel)
	return nil
}

// poolNames lists the pools in use, sorted.
func poolNames() []string {
	names := []string{}
	pools.Range(func(key, _ any) bool {
		if name, ok := key.(string); ok {
			names = append(names, name)
		}
		return true
	})
	slices.Sort(names)
	return names
}

// findPool returns the state of the pool called name; for "", the pool
// "default" or else the only one.
func findPool(name string) (*pool.State, error) {
	var only *pool.State
	var found *pool.State
	n := 0
	want := name
	if want == "" {
		want = DefaultPool
	}
	pools.Range(func(key, val any) bool {
		st, ok := val.(*pool.State)
		if !ok {
			return true
		}
		n++
		only = st
		if key == want {
			found = st
			return false
		}
		return true
	})
	switch {
	case found != nil:
		return found, nil
	case name == "" && n == 1:
		return only, nil
	case name == "" && n > 1:
		return nil, &management.Error{
			Status: http.StatusBadRequest, Code: management.CodePoolRequired,
			Message: fmt.Sprintf("several pools are in use (%s); name one with ?pool=", strings.Join(poolNames(), ", ")),
		}
	}
	return nil, &management.Error{Status: http.StatusNotFound, Code: management.CodePoolNotFound, Message: fmt.Sprintf("no pool %q is in use", want)}
}

// Interface guard
var _ caddy.AdminRouter = (*AdminAPI)(nil)
