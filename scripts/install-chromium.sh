#!/usr/bin/env bash
# Installs Debian's chromium, which the dashboard's browser tests drive
# headless through the DevTools protocol, with apt-get when it is missing.
# Needs root or sudo (CI runs as root).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-chromium.sh: chromium is missing and apt-get is not available; install Chromium by hand (CLIPROXY_CHROMIUM names its binary)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
as_root=()
if [[ "$(id -u)" != 0 ]]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "install-chromium.sh: chromium is missing; installing it needs root or sudo" >&2
		exit 1
	fi
	as_root=(sudo -E)
fi
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
chromium --version
