#!/usr/bin/env bash
# The whole test suite: installs the pinned real clients (Claude Code,
# Gemini CLI, Codex CLI) into .cache/clients, then runs every Go test with
# the race detector. With CI=true, a test whose component is missing fails
# instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-clients.sh
go vet ./...
go test -race -count=1 "$@" ./...
