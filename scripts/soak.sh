#!/usr/bin/env bash
# The soak run: builds this repository's caddy, then runs two instances on
# one redis-server under a team's conversations while Redis restarts,
# configs reload, auth files change, credentials are disabled and the
# upstreams fail in every way the harness knows, and writes what the team
# would have seen to docs/reliability.md. Five minutes by default; extra
# arguments go to the harness (go run ./internal/cmd/soak -h lists them), e.g.
#   ./scripts/soak.sh -duration 2m
set -euo pipefail
cd "$(dirname "$0")/.."

command -v redis-server >/dev/null || ./scripts/install-redis.sh
mkdir -p .cache/soak
go build -o .cache/soak/caddy ./cmd/caddy
go build -o .cache/soak/soak ./internal/cmd/soak
exec .cache/soak/soak -caddy .cache/soak/caddy -logs .cache/soak "$@"
