// Package selector picks the credential that serves a request from the
// candidates the pool offers: round-robin, fill-first, and priority tiers
// on top of either.
//
// Strategies see candidates ordered by credential name, so every pick is
// deterministic. The package has no dependency on Caddy.
package selector
