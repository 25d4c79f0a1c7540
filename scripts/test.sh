#!/usr/bin/env bash
# The whole test suite: installs the pinned real clients (Claude Code,
# Gemini CLI, Codex CLI) into .cache/clients, redis-server (for the
# cluster tests) and chromium (for the dashboard's browser tests), then
# runs go vet and golangci-lint, every Go test with the race detector and
# every micro-benchmark once. With CI=true, a test whose component is
# missing fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-clients.sh
./scripts/install-redis.sh
./scripts/install-chromium.sh
go vet ./...
# the linters and formatters of .golangci.yml, at a pinned version (built
# once into Go's build cache, then reused)
go run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0 run ./...
go test -race -count=1 "$@" ./...
# the micro-benchmarks run once each, so they keep compiling and working;
# their timings mean nothing here (docs/benchmarks.md)
go test -count=1 -run '^$' -bench . -benchtime 1x ./selector ./session ./cluster
