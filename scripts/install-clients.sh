#!/usr/bin/env bash
# install-clients.sh installs the real AI coding CLIs that the e2e tests drive
# through the gateway (Claude Code, Gemini CLI, Codex CLI) at the exact
# versions pinned in e2e/clients/package.json and package-lock.json, and
# makes them available in the git-ignored cache folder .cache/clients at the
# repository root.
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
# The clients (about 900 MB) are installed once per machine into a store,
# one folder per stamp, and .cache/clients links to it, so every checkout
# and worktree shares them and a fresh clone needs no npm run. The store is
# $CLIPROXY_CLIENTS_STORE, by default ~/.cache/cliproxy-clients; with
# CLIPROXY_CLIENTS_STORE=none the clients go into .cache/clients itself.
#
# Afterwards the binaries are in .cache/clients/node_modules/.bin, where
# `go test ./e2e/` looks for them.
set -euo pipefail

usage() {
	sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
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

# current reports whether dir holds the pinned clients.
current() {
	local dir="$1" b
	[[ -f "$dir/.install-stamp" && "$(cat "$dir/.install-stamp")" == "$want" ]] || return 1
	for b in "${bins[@]}"; do
		[[ -x "$dir/node_modules/.bin/$b" ]] || return 1
	done
}

# install runs npm ci into dir (made empty) and stamps it.
install() {
	local dir="$1" b
	echo "install-clients.sh: installing pinned clients into $dir"
	rm -rf "$dir"
	mkdir -p "$dir"
	cp "$src/package.json" "$src/package-lock.json" "$dir/"
	# npm ci installs exactly the lock file. Claude Code declares node
	# >=22 but its CLI is a native binary that runs without Node, so an
	# engine mismatch only warns.
	(cd "$dir" && npm ci --no-audit --no-fund --engine-strict=false)
	for b in "${bins[@]}"; do
		if [[ ! -x "$dir/node_modules/.bin/$b" ]]; then
			echo "install-clients.sh: $dir/node_modules/.bin/$b missing after install" >&2
			exit 1
		fi
	done
	echo "$want" >"$dir/.install-stamp"
}

store="${CLIPROXY_CLIENTS_STORE:-${XDG_CACHE_HOME:-$HOME/.cache}/cliproxy-clients}"
if [[ $force -eq 0 ]] && current "$dest"; then
	echo "install-clients.sh: clients already installed and up to date"
elif [[ "$store" == none ]]; then
	if [[ -L "$dest" ]]; then
		rm -f "$dest"
	fi
	install "$dest"
else
	shared="$store/$want"
	if [[ $force -eq 1 ]] || ! current "$shared"; then
		# Installed beside the store's folder and renamed into place, so a
		# suite running meanwhile in another checkout never sees half an
		# install; two first installs at once both work, one rename wins.
		mkdir -p "$store"
		tmp="$(mktemp -d "$store/.install-XXXXXX")"
		trap 'rm -rf "$tmp"' EXIT
		install "$tmp"
		if [[ $force -eq 1 && -d "$shared" ]]; then
			old="$(mktemp -d "$store/.old-XXXXXX")"
			mv -T "$shared" "$old/clients" 2>/dev/null || true
			rm -rf "$old"
		fi
		if ! mv -T "$tmp" "$shared" 2>/dev/null; then
			current "$shared" || {
				echo "install-clients.sh: cannot move the install into $shared" >&2
				exit 1
			}
		fi
	else
		echo "install-clients.sh: using the clients installed in $shared"
	fi
	mkdir -p "$(dirname "$dest")"
	rm -rf "$dest"
	ln -s "$shared" "$dest"
fi

echo "install-clients.sh: binaries are in $bindir"
for b in "${bins[@]}"; do
	printf '  %-7s %s\n' "$b" "$bindir/$b"
done
