// Package e2e holds end-to-end tests that drive the real AI coding CLIs —
// Claude Code and Gemini CLI, at the exact npm versions pinned in
// e2e/clients/package.json — through a gateway built from this repository
// (go build ./cmd/caddy, run as a subprocess with a generated Caddyfile) in
// front of the mock upstream providers of internal/mockupstream.
//
// Install the pinned clients into the git-ignored cache first, then run the
// tests:
//
//	scripts/install-clients.sh
//	go test -race -count=1 ./e2e/
//
// A test whose client is not installed is skipped, or fails when the
// environment variable CI is "true", so a CI job cannot pass by accident
// without running the clients. Each CLI run gets a throw-away HOME and
// TMPDIR, and its HTTP(S) proxy variables point at a local recorder that
// refuses every connection, so nothing leaves the machine and the test log
// shows what a CLI tried to reach outside the gateway.
//
// The package has no non-test code; this file only documents it.
package e2e
