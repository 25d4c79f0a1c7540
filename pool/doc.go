// Package pool holds what outlives a config reload of a cliproxy pool and
// what its operators change through the management API: the credential
// health and session bindings, one strategy switch per member with the
// operator's strategy override, the operator's enable/disable overrides,
// the auth directories the members share, the members themselves (each
// registers a function returning the *auth.Pool it serves from now, and is
// told when an operator's change means rebuilding it), and the pool's link
// to its cluster. [State] implements management.Backend.
//
// It has no dependency on Caddy: the module keeps one [State] per pool name
// in a caddy.UsagePool, which calls [State.Destruct] after the last user.
package pool
