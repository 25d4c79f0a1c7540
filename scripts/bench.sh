#!/usr/bin/env bash
# The side-by-side benchmark: builds this repository's caddy, then runs
# plain Caddy (reverse_proxy) and Caddy with cliproxy against the same mock
# upstream with the same load and prints the table (docs/benchmarks.md).
# Everything listens on free loopback ports. Results, the chart, the Caddy
# logs and any profiles go to .cache/bench; extra arguments go to the
# harness (go run ./internal/cmd/bench -h lists them), e.g.
#   ./scripts/bench.sh -duration 2s -concurrency 1,64 -profile 50KB/64
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p .cache/bench
go build -o .cache/bench/caddy ./cmd/caddy
go build -o .cache/bench/bench ./internal/cmd/bench
exec .cache/bench/bench -caddy .cache/bench/caddy -out .cache/bench "$@"
