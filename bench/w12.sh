#!/usr/bin/env bash
# W12 echo, goc against Go (../shared/bench/WORKLOADS.md, docs/BENCHMARKS.md).
#
# Runs ../shared/bench/go/w12_echo.sh (the Go client) against the C server
# (BUILD/bench/w12_echo_server, from bench/w12_echo_server.c) and against the
# Go server with `--buf 4096` (the like-for-like read/write loop), RUNS times
# each, alternating which goes first, at 1,000 connections x 200 round trips
# and 10,000 x 20. Prints per configuration the median of each figure on each
# side and goc/Go (round trips per s: higher is better; latencies: lower).
#
# Usage: bench/w12.sh [--md] [CONNSxMSGS ...]
#   --md        print a Markdown table for docs/BENCHMARKS.md
#   CONNSxMSGS  configurations to run (default: 1000x200 10000x20)
#   RUNS=3      environment: runs per median
#   BUILD=dir   environment: the goc build (default build/release)
#   GOBENCH=dir environment: the Go anchors (default ../shared/bench/go)
# GOMAXPROCS / GOC_MAXPROCS (either; default the number of cores) reach both
# servers and the client. Exits non-zero if a run fails or connections are
# missing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-3}
build=${BUILD:-build/release}
case $build in /*) ;; *) build=$root/$build ;; esac
gobench=${GOBENCH:-$root/../shared/bench/go}
md=0
configs=()
for arg in "$@"; do
	case $arg in
	--md) md=1 ;;
	-h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
	*x*) configs+=("$arg") ;;
	*) echo "w12.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
	esac
done
[ ${#configs[@]} -gt 0 ] || configs=(1000x200 10000x20)
if ! [[ $runs =~ ^[1-9][0-9]*$ ]]; then
	echo "w12.sh: RUNS=$runs is not a positive number" >&2
	exit 2
fi
server=$build/bench/w12_echo_server
script=$gobench/w12_echo.sh
if [ ! -x "$server" ]; then
	echo "w12.sh: $server is not built (make build, or BUILD=dir)" >&2
	exit 1
fi
if [ ! -x "$script" ]; then
	echo "w12.sh: $script is missing (GOBENCH=dir)" >&2
	exit 1
fi
if ! command -v go >/dev/null; then
	echo "w12.sh: the Go toolchain is missing (apt-get install golang-go)" >&2
	exit 1
fi
procs=${GOMAXPROCS:-${GOC_MAXPROCS:-$(nproc)}}
export GOMAXPROCS=$procs GOC_MAXPROCS=$procs

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
results=$tmp/results
: >"$results"
failed=0
load_start=$(cut -d' ' -f1 /proc/loadavg)
start_time=$(date -u '+%Y-%m-%d %H:%M UTC')

# One run: appends "side config figure value unit" lines.
run_one() {
	local side=$1 cfg=$2 conns=${2%x*} msgs=${2#*x}
	local args=(--conns "$conns" --msgs "$msgs")
	if [ "$side" = go ]; then args+=(--buf 4096); else args+=(--server "$server"); fi
	if ! "$script" "${args[@]}" >"$tmp/out" 2>"$tmp/err"; then
		echo "w12.sh: $side $cfg failed: $(tail -n 3 "$tmp/err" | tr '\n' ' ')" >&2
		failed=1
		return
	fi
	awk -v s="$side" -v c="$cfg" 'NF == 3 { print s, c, $1, $2, $3 }' "$tmp/out" >>"$results"
}

for cfg in "${configs[@]}"; do
	echo "w12.sh: $cfg, $runs runs per side, $procs threads" >&2
	for ((r = 1; r <= runs; r++)); do
		if ((r % 2)); then run_one go "$cfg"; run_one goc "$cfg"; else run_one goc "$cfg"; run_one go "$cfg"; fi
	done
done

machine="nproc $(nproc), CPU $(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(go version | sed 's/^go version //'), GOMAXPROCS=GOC_MAXPROCS=$procs, $start_time, $runs runs per median, Go server with --buf 4096, 1-min load average $load_start before and $(cut -d' ' -f1 /proc/loadavg) after"

awk -v md="$md" -v machine="$machine" '
function median(s,    a, n, i, j, t) {
	n = split(s, a, " ")
	if (n == 0) return ""
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	if (n % 2) return a[(n + 1) / 2]
	return sprintf("%.1f", (a[n/2] + a[n/2 + 1]) / 2)
}
{
	k = $2 SUBSEP $3
	if (!(k in unit)) { order[++nk] = k; unit[k] = $5 }
	vals[$1, k] = (($1, k) in vals) ? vals[$1, k] " " $4 : $4
}
END {
	bad = 0
	if (md) {
		print "Machine: " machine "\n"
		print "| conns x msgs | figure | unit | goc | Go | goc/Go | goc runs | Go runs |"
		print "|---|---|---|---:|---:|---:|---|---|"
	} else {
		print "# " machine
		printf "%-12s %-24s %-12s %12s %12s %-28s %s | %s\n", "conns x msgs", "figure", "unit", "goc", "Go", "goc/Go", "goc runs", "Go runs"
	}
	for (i = 1; i <= nk; i++) {
		k = order[i]; split(k, f, SUBSEP)
		c = median(vals["goc", k]); g = median(vals["go", k])
		if (c == "" || g == "") r = "-"
		else if (f[2] == "echo_conns") { r = (c == g) ? "equal" : "DIFFERENT"; if (c != g) bad = 1 }
		else if (g + 0 == 0) r = "-"
		else r = sprintf("%.2f", c / g) (f[2] ~ /per_s$/ ? " (higher is better)" : "")
		if (c == "") c = "-"
		if (g == "") g = "-"
		if (md) printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", f[1], f[2], unit[k], c, g, r, vals["goc", k], vals["go", k]
		else printf "%-12s %-24s %-12s %12s %12s %-28s %s | %s\n", f[1], f[2], unit[k], c, g, r, vals["goc", k], vals["go", k]
	}
	exit bad ? 3 : 0
}' "$results" || failed=1
exit "$failed"
