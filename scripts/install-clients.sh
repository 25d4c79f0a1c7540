#!/usr/bin/env bash
# install-clients.sh installs the real AI coding CLIs that the e2e tests drive
# through the gateway (Claude Code, Gemini CLI, Codex CLI) at the exact
# versions pinned in e2e/clients/package.json and package-lock.json, into the
# git-ignored cache folder .cache/clients at the repository root.
#
#	scripts/install-clients.sh          # install, or do nothing if up to date
#	scripts/install-clients.sh --force  # reinstall even if up to date
#
# The install is skipped when the cache already holds what the lock file
# describes: a stamp file records a SHA-256 over package.json, the lock file
# and the Node.js version (native add-ons are built for one Node ABI), and
# the install counts as current only if the stamp matches and every pinned
# binary is present. Requires node and npm; needs the npm registry only when
# it actually installs.
#
# Afterwards the binaries are in .cache/clients/node_modules/.bin, where
# `go test ./e2e/` looks for them.
set -euo pipefail

usage() {
	sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
}

force=0
for arg in "$@"; do
	case "$arg" in
	--force | -f) force=1 ;;
	--help | -h)
		usage
		exit 0
		;;
	*)
		echo "install-clients.sh: unknown argument: $arg" >&2
		usage >&2
		exit 2
		;;
	esac
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/e2e/clients"
dest="$root/.cache/clients"
bindir="$dest/node_modules/.bin"
stamp="$dest/.install-stamp"
bins=(claude gemini codex)

for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "install-clients.sh: $tool not found in PATH; install Node.js 20 or newer" >&2
		exit 1
	fi
done
for f in package.json package-lock.json; do
	if [[ ! -f "$src/$f" ]]; then
		echo "install-clients.sh: missing $src/$f" >&2
		exit 1
	fi
done

sha256() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum | cut -d' ' -f1
	else
		shasum -a 256 | cut -d' ' -f1
	fi
}

want="$({
	cat "$src/package.json" "$src/package-lock.json"
	echo "node $(node --version)"
} | sha256)"

current=1
if [[ $force -eq 1 || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
	current=0
fi
for b in "${bins[@]}"; do
	if [[ ! -x "$bindir/$b" ]]; then
		current=0
	fi
done

if [[ $current -eq 1 ]]; then
	echo "install-clients.sh: clients already installed and up to date"
else
	echo "install-clients.sh: installing pinned clients into $dest"
	mkdir -p "$dest"
	rm -f "$stamp"
	cp "$src/package.json" "$src/package-lock.json" "$dest/"
	# npm ci removes any existing node_modules first and installs exactly
	# the lock file. Claude Code declares node >=22 but its CLI is a native
	# binary that runs without Node, so an engine mismatch only warns.
	(cd "$dest" && npm ci --no-audit --no-fund --engine-strict=false)
	for b in "${bins[@]}"; do
		if [[ ! -x "$bindir/$b" ]]; then
			echo "install-clients.sh: $bindir/$b missing after install" >&2
			exit 1
		fi
	done
	echo "$want" >"$stamp"
fi

echo "install-clients.sh: binaries are in $bindir"
for b in "${bins[@]}"; do
	printf '  %-7s %s\n' "$b" "$bindir/$b"
done
