// Package management is the gateway's management API: HTTP handlers that
// list the credentials and their health, enable, disable and reset them,
// upload and delete auth files, list and drop session bindings, switch the
// selection strategy and report usage totals and their per-minute
// [Timeline]. JSON in and out; every error is a JSON object with a stable
// code. The same mounts serve the dashboard ([ServePage]), a page embedded
// in the package that shows all of it in a browser.
//
// The handlers know nothing of Caddy: they work on a [Backend], which the
// cliproxy module implements over its pool state and mounts twice, on
// Caddy's admin endpoint (trusted local operators) and optionally on the
// site behind a [Guard] (a key compared in constant time, loopback only
// unless remote access is allowed, and a lockout after repeated failures).
// No response ever carries an upstream secret: credentials are shown by
// name and fingerprint only.
package management
