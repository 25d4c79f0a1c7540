#!/usr/bin/env bash
# Installs redis-server, which the cluster tests run on a loopback port, and
# redis-cli (Debian's redis-tools), which the usage telemetry tests use as a
# collector, with apt-get when either is missing. Needs root (CI runs as
# root).
set -euo pipefail
if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-redis.sh: redis-server or redis-cli is missing and apt-get is not available; install redis-server and redis-tools (>= 6.2) by hand" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
as_root=()
if [[ "$(id -u)" != 0 ]]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "install-redis.sh: redis-server or redis-cli is missing; installing them needs root or sudo" >&2
		exit 1
	fi
	as_root=(sudo -E)
fi
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq redis-server redis-tools >/dev/null
# the package starts a system service; the tests run their own servers
if command -v service >/dev/null 2>&1; then
	"${as_root[@]}" service redis-server stop >/dev/null 2>&1 || true
fi
redis-server --version
redis-cli --version
