// Package auth models the upstream credentials of a cliproxy pool: what a
// credential is (provider, secret, base URL, model allow/deny lists,
// priority), and the per-model health state that tells the selector whether a
// credential may serve a model right now.
//
// The package has no dependency on Caddy; other Go programs can use it as a
// library. A [Pool] is safe for concurrent use. OAuth tokens and their
// refresh live in auth/oauth; the credential files of an auth directory in
// auth/authfile.
package auth
