#!/usr/bin/env bash
# The tour: runs every example (examples/*.c, built in BUILD/examples) in the
# order of Go by Example, then the demos, printing a header per program and
# its output.
#
# Usage: examples/tour.sh [BUILD] [example ...]
#   BUILD       the build directory (default build/release)
#   example     run only these (CTest runs one at a time this way)
#
# An example with examples/expected/NAME.txt must print exactly that on
# stdout. One whose lines come in an order that changes from run to run (as
# in Go) has examples/expected/NAME.sorted.txt instead: its stdout, sorted,
# must equal it. Each is reported as match or MISMATCH (with a diff).
# A demo is cmd/NAME/demo.sh, run with BUILD as its argument; exit status 77
# means it skipped itself (say, a service it needs is missing).
# Exits non-zero if an example mismatches, crashes, hangs or is not built,
# or a demo fails.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build/release}
[ $# -gt 0 ] && shift
if [ ! -d "$build" ] && [ -d "$root/$build" ]; then
	build=$root/$build
fi
if [ ! -d "$build/examples" ]; then
	echo "tour.sh: no examples in $build (build first: make build)" >&2
	exit 1
fi
limit=${TOUR_TIMEOUT:-60}	# seconds per program

# Go by Example's order; examples not listed here come after, by name.
order="hello_world goroutines waitgroups channels channel_buffering
channel_synchronization channel_directions select timeouts
non_blocking_channel_operations closing_channels range_over_channels timers
tickers worker_pools rate_limiting atomic_counters mutexes stateful_goroutines
context panic"

# Example names: the sources, so a missing binary is noticed.
names=()
if [ $# -gt 0 ]; then
	names=("$@")
else
	declare -A have=()
	for src in "$root"/examples/*.c; do
		[ -e "$src" ] || continue
		n=$(basename "$src" .c)
		have[$n]=1
	done
	for n in $order; do
		for cand in "$n" "${n//_/-}"; do
			if [ -n "${have[$cand]:-}" ]; then
				names+=("$cand")
				unset "have[$cand]"
			fi
		done
	done
	if [ ${#have[@]} -gt 0 ]; then
		mapfile -t rest < <(printf '%s\n' "${!have[@]}" | sort)
		names+=("${rest[@]}")
	fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=()

# Runs a command with the time limit; its stdout goes to $tmp/out and is
# printed, its stderr passes through. Returns the command's status.
run_limited() {
	local rc=0
	if command -v timeout >/dev/null; then
		timeout "$limit" "$@" >"$tmp/out" || rc=$?
	else
		"$@" >"$tmp/out" || rc=$?
	fi
	cat "$tmp/out"
	return "$rc"
}

for n in "${names[@]}"; do
	printf '\n=== %s\n' "$n"
	bin=$build/examples/$n
	if [ ! -x "$bin" ]; then
		echo "--- $n: NOT BUILT ($bin is missing)"
		failed+=("$n (not built)")
		continue
	fi
	rc=0
	run_limited "$bin" || rc=$?
	if [ "$rc" -ne 0 ]; then
		if [ "$rc" -eq 124 ]; then
			echo "--- $n: HUNG (killed after ${limit} s)"
		else
			echo "--- $n: FAILED (exit status $rc)"
		fi
		failed+=("$n (exit status $rc)")
		continue
	fi
	exact=$root/examples/expected/$n.txt
	sorted=$root/examples/expected/$n.sorted.txt
	if [ -f "$exact" ]; then
		got=$tmp/out
		want=$exact
		how="exactly"
	elif [ -f "$sorted" ]; then
		LC_ALL=C sort "$tmp/out" >"$tmp/sorted"
		got=$tmp/sorted
		want=$sorted
		how="after sorting"
	else
		echo "--- $n: ok (no expected output to compare)"
		continue
	fi
	if cmp -s "$want" "$got"; then
		echo "--- $n: match (expected/$(basename "$want"), $how)"
	else
		echo "--- $n: MISMATCH with expected/$(basename "$want") ($how):"
		diff -u --label "expected/$(basename "$want")" --label "$n" "$want" "$got" || true
		failed+=("$n (mismatch)")
	fi
done

# The demos, only in a full tour.
if [ $# -eq 0 ]; then
	for dir in "$root"/cmd/*/; do
		[ -d "$dir" ] || continue
		n=$(basename "$dir")
		printf '\n=== demo %s\n' "$n"
		if [ ! -x "$dir/demo.sh" ]; then
			echo "--- $n: skipped (no cmd/$n/demo.sh)"
			continue
		fi
		rc=0
		"$dir/demo.sh" "$build" || rc=$?
		case $rc in
		0) echo "--- $n: ok" ;;
		77) echo "--- $n: skipped (see above)" ;;
		*)
			echo "--- $n: FAILED (exit status $rc)"
			failed+=("demo $n (exit status $rc)")
			;;
		esac
	done
fi

echo
if [ ${#failed[@]} -gt 0 ]; then
	echo "tour: ${#failed[@]} failed: ${failed[*]}"
	exit 1
fi
echo "tour: all ${#names[@]} examples ran as expected"
