// Package access authenticates the team members who call the gateway by
// their client keys, or by the identity a handler before the gateway
// established (Identities, read from request placeholders), and removes
// every client credential from a request before it is sent upstream.
//
// Keys are kept only as SHA-256 hashes and compared in constant time. The
// package has no dependency on Caddy.
package access
