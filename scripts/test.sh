#!/usr/bin/env bash
# The whole test suite: installs the pinned real clients (Claude Code,
# Gemini CLI, Codex CLI) into .cache/clients, redis-server (for the
# cluster tests) and chromium (for the dashboard's browser tests), then
# runs, at once, go vet and golangci-lint, every Go test with the race
# detector, and every micro-benchmark once. With CI=true, a test whose
# component is missing fails instead of skipping.
#
#	scripts/test.sh                  # everything
#	scripts/test.sh -run TestAdapt   # arguments go to go test (then no sharding)
#
# It prints a line per package, all the output of every failed test, the
# linters' findings and the benchmarks, and last "N passed, M failed"; it
# exits non-zero when anything failed. The go test -json events, the
# linters' and the benchmarks' output stay in .cache/test.
#
# What makes it fast on a small machine: one caddy built for every test
# that runs the binary ($CLIPROXY_TEST_CADDY); more test binaries at once
# than there are cores (most of them wait on processes and sockets); the
# integration tests, which share one in-process Caddy and so run one after
# the other, split over several processes of the same test binary; the
# linters beside the tests; and -trimpath, so that compiled packages do not
# depend on where the checkout is and a fresh clone reuses the build cache.
# Everything a run writes is inside the checkout or in temporary folders of
# its own, and every server takes a free port, so two suites can run on
# one machine at once (scripts/test-twice.sh shows it).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
out="$root/.cache/test"
module=github.com/caddy-cliproxy/cliproxy
# integration is split over this many processes
parts=${CLIPROXY_TEST_PARTS:-4}

flags="$(go env GOFLAGS)"
case " $flags " in
*" -trimpath "*) ;;
*) export GOFLAGS="${flags:+$flags }-trimpath" ;;
esac

./scripts/install-clients.sh
./scripts/install-redis.sh
./scripts/install-chromium.sh

rm -rf "$out"
mkdir -p "$out"
go build -o "$out/testreport" ./internal/cmd/testreport
go build -o "$out/caddy" ./cmd/caddy
export CLIPROXY_TEST_CADDY="$out/caddy"

# runparts runs the tests of package dir, built into bin, over n processes,
# each with every n-th test, writing go test -json events.
runparts() {
	local dir=$1 bin=$2 n=$3 i
	local tests=()
	mapfile -t tests < <(cd "$dir" && "$bin" -test.list '.*' | grep -E '^(Test|Example|Fuzz)')
	local pids=()
	for ((i = 0; i < n; i++)); do
		local names=() j
		for ((j = i; j < ${#tests[@]}; j += n)); do
			names+=("${tests[j]}")
		done
		local run
		run="^($(
			IFS='|'
			echo "${names[*]}"
		))\$"
		(cd "$dir" && go tool test2json -t -p "$module/$dir [part $((i + 1)) of $n]" \
			"$bin" -test.v=test2json -test.paniconexit0 -test.timeout=10m -test.count=1 -test.run "$run") \
			>"$out/$dir-$((i + 1)).json" 2>&1 &
		pids+=($!)
	done
	local failed=0
	for i in "${pids[@]}"; do
		wait "$i" || failed=1
	done
	return $failed
}

# the linters and formatters of .golangci.yml, at a pinned version (built
# once into Go's build cache, then reused; several runs may share the
# machine); they start first, beside the integration build, which links on
# one core
(
	go vet ./... &&
		go run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0 run --allow-parallel-runners ./...
) >"$out/lint.log" 2>&1 &
lint=$!

status=0
# steps besides the tests that failed, for the closing count
failed=()
parted=
if [[ $# -eq 0 ]]; then
	# the integration tests are the longest chain: their binary is built
	# first, so they start before the other packages take the cores
	if go test -race -c -o "$out/integration.test" ./integration; then
		runparts integration "$out/integration.test" "$parts" &
		parted=$!
	else
		status=1
		failed+=(-failed "building the integration tests (above)")
	fi
fi

# the micro-benchmarks run once each, so they keep compiling and working;
# their timings mean nothing here (docs/benchmarks.md)
go test -count=1 -run '^$' -bench . -benchtime 1x ./selector ./session ./cluster >"$out/bench.log" 2>&1 &
bench=$!

if [[ $# -gt 0 ]]; then
	go test -race -count=1 -json "$@" ./... >"$out/go-test.json" || status=1
else
	# shellcheck disable=SC2046 # package paths have no spaces
	go test -race -count=1 -json -p 4 -parallel 8 $(go list ./... | grep -v "^$module/integration\$") >"$out/go-test.json" || status=1
fi
if [[ -n $parted ]]; then
	wait "$parted" || status=1
fi

if ! wait $lint; then
	status=1
	failed+=(-failed "go vet, golangci-lint (above)")
fi
if ! wait $bench; then
	status=1
	failed+=(-failed "micro-benchmarks (above)")
fi
echo "== go vet, golangci-lint"
cat "$out/lint.log"
echo "== micro-benchmarks (once each)"
cat "$out/bench.log"
echo "== tests"
"$out/testreport" "${failed[@]}" "$out"/*.json || status=1
exit $status
