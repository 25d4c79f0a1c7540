#!/usr/bin/env bash
# test-twice.sh shows that two test suites run on one machine at once
# without a failure: it clones this checkout's HEAD (committed work only)
# twice, runs CI=true ./.ci/run in both clones at the same time, and prints
# each run's exit status, wall time and summary line, with the load
# average before and after. It exits non-zero unless both passed.
#
#	scripts/test-twice.sh        # clones into a temporary folder, removed after
#	scripts/test-twice.sh DIR    # clones into DIR/a and DIR/b, kept with their logs
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [[ $# -gt 0 ]]; then
	base="$1"
	mkdir -p "$base"
else
	base="$(mktemp -d)"
	trap 'rm -rf "$base"' EXIT
fi
base="$(cd "$base" && pwd)"

for x in a b; do
	rm -rf "${base:?}/$x"
	git clone -q "$root" "$base/$x"
done
echo "test-twice.sh: $(git -C "$root" log -1 --format='%h %s' | cut -c1-72)"
echo "test-twice.sh: two suites in $base/a and $base/b; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

pids=()
for x in a b; do
	(
		cd "$base/$x"
		start=$(date +%s)
		rc=0
		CI=true ./.ci/run >"$base/$x.log" 2>&1 || rc=$?
		echo "$rc $(($(date +%s) - start))" >"$base/$x.result"
	) &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p"
done

echo "test-twice.sh: load after: $(cut -d' ' -f1-3 /proc/loadavg)"
failed=0
for x in a b; do
	read -r rc secs <"$base/$x.result"
	printf 'test-twice.sh: suite %s: exit %s in %dm%02ds: %s\n' "$x" "$rc" $((secs / 60)) $((secs % 60)) "$(tail -n 1 "$base/$x.log")"
	if [[ $rc -ne 0 ]]; then
		failed=1
		echo "--- $base/$x.log (the end):"
		tail -n 60 "$base/$x.log"
	fi
done
exit $failed
