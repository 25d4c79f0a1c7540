// Package selector picks the credential that serves a request from the
// candidates the pool offers.
//
// The strategies, named as [NormalizeStrategy] accepts them: round-robin
// (a cursor per rotation key; group-aware when candidates span several
// groups: across groups first, then within one), fill-first, and smooth
// weighted round-robin ([WeightedSelector], weight 0 takes a credential
// out). [New] wraps each in [Tiered], so a lower priority tier serves only
// while every credential above it is out.
//
// [Affinity] wraps any of them for session affinity: a session keeps its
// bound credential while that credential is available, takes a detour
// while it is briefly blocked and returns afterwards, and is placed anew by
// the wrapped strategy when its credential is gone or blocked for long.
//
// Strategies see candidates ordered by credential name, so every pick is
// deterministic. The package has no dependency on Caddy.
package selector
