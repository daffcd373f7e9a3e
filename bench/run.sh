#!/usr/bin/env bash
# goc against Go, side by side (docs/BENCHMARKS.md, ../shared/bench/WORKLOADS.md).
#
# Builds the Go anchors (../shared/bench/go/w*_*, beside the repository, and
# this repository's bench/go/w*_*), and runs each one and its C twin
# (BUILD/bench/wN_name, built from bench/wN_name.c) RUNS times, alternating
# them, under /usr/bin/time for peak RSS. The workloads whose targets hold
# for one thread too (W2..W6, W10; the Go anchor's run.sh has W2..W5) run a
# second time with GOMAXPROCS=1 / GOC_MAXPROCS=1.
# Prints one table: per program, threads and figure, the median of each side
# and goc/Go (lower is better for times and memory; correctness figures such
# as totals are checked: equal or DIFFERENT). A program whose C twin does not
# exist yet is skipped with a note.
#
# Usage: bench/run.sh [--md] [program ...]
#   --md        print Markdown (machine line, table, notes) for docs/BENCHMARKS.md
#   program     run only these, e.g. bench/run.sh w1_spawn w4 (wN alone works)
#   RUNS=5      environment: runs per median (default 3)
#   BUILD=dir   environment: the goc build (default build/release)
#   GOBENCH=dir environment: the Go anchors (default ../shared/bench/go)
# The default variant runs both sides with GOMAXPROCS / GOC_MAXPROCS taken
# from the environment (either one), else the number of cores.
# Exits non-zero if a build or a run fails or a check differs.
# W12 echo is a server and a client: ../shared/bench/go/w12_echo.sh runs it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-3}
build=${BUILD:-build/release}
case $build in /*) ;; *) build=$root/$build ;; esac
gobench=${GOBENCH:-$root/../shared/bench/go}
one_thread=" w2_skynet w3_pingpong w4_yield w5_buffered w6_select w10_sieve "
timecmd=/usr/bin/time

md=0
want=()
for arg in "$@"; do
	case $arg in
	--md) md=1 ;;
	-h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
	w12_echo*) echo "run.sh: W12 echo runs with ../shared/bench/go/w12_echo.sh" >&2; exit 2 ;;
	*) want+=("${arg%/}") ;;
	esac
done
if ! [[ $runs =~ ^[1-9][0-9]*$ ]]; then
	echo "run.sh: RUNS=$runs is not a positive number" >&2
	exit 2
fi
if [ ! -x "$timecmd" ]; then
	echo "run.sh: $timecmd is missing (apt-get install time)" >&2
	exit 1
fi
if ! command -v go >/dev/null; then
	echo "run.sh: the Go toolchain is missing (apt-get install golang-go)" >&2
	exit 1
fi

notes=()
note() {
	notes+=("$1")
	echo "run.sh: $1" >&2
}

# Every Go program, the anchors first; the first directory holding a name wins.
declare -A godir=()
all=()
for dir in "$gobench" "$root/bench/go"; do
	[ -d "$dir" ] || continue
	for d in "$dir"/w*_*/; do
		[ -f "$d/main.go" ] || continue
		p=$(basename "$d")
		case $p in w12_echo_*) continue ;; esac
		if [ -n "${godir[$p]:-}" ]; then
			[ "${godir[$p]}" = "$dir" ] || note "$p: using the anchor in ${godir[$p]#"$root/"}, not bench/go"
			continue
		fi
		godir[$p]=$dir
		all+=("$p")
	done
done
if [ ${#all[@]} -eq 0 ]; then
	echo "run.sh: no Go programs found in $gobench or bench/go" >&2
	exit 1
fi
mapfile -t all < <(printf '%s\n' "${all[@]}" | sort -V)

# The programs asked for (wN alone names the program wN_*), in order.
progs=()
if [ ${#want[@]} -eq 0 ]; then
	progs=("${all[@]}")
else
	for w in "${want[@]}"; do
		found=0
		for p in "${all[@]}"; do
			if [ "$p" = "$w" ] || [ "${p%%_*}" = "$w" ]; then
				progs+=("$p")
				found=1
			fi
		done
		if [ $found = 0 ]; then
			echo "run.sh: no Go program $w in $gobench or bench/go" >&2
			exit 2
		fi
	done
fi

# Keep the programs that have a C twin.
selected=()
for p in "${progs[@]}"; do
	if [ ! -f "$root/bench/$p.c" ]; then
		note "$p: skipped, no C twin (bench/$p.c) yet"
	elif [ ! -x "$build/bench/$p" ]; then
		note "$p: skipped, bench/$p.c is not built in ${build#"$root/"} (make build, or BUILD=dir)"
	else
		selected+=("$p")
	fi
done
if [ ${#selected[@]} -eq 0 ]; then
	echo "run.sh: nothing to run" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin"

# Build with each program's own module, a private cache, and no network. A
# directory without go.mod (bench/go may have none) builds its files alone.
export GO111MODULE=on GOWORK=off GOPROXY=off GOFLAGS=-mod=mod GOCACHE="$tmp/gocache"
failed=0
ready=()
for p in "${selected[@]}"; do
	dir=${godir[$p]}
	if [ -f "$dir/go.mod" ]; then
		(cd "$dir" && go build -o "$tmp/bin/$p" "./$p") || true
	else
		(cd "$dir/$p" && GOFLAGS="" go build -o "$tmp/bin/$p" ./*.go) || true
	fi
	if [ -x "$tmp/bin/$p" ]; then
		ready+=("$p")
	else
		note "$p: skipped, the Go build failed"
		failed=1
	fi
done
if [ ${#ready[@]} -eq 0 ]; then
	echo "run.sh: nothing to run" >&2
	exit 1
fi

# Other processes skew the figures: note the load average before and after.
load_start=$(cut -d' ' -f1 /proc/loadavg)
start_time=$(date -u '+%Y-%m-%d %H:%M UTC')

# One run of one side: appends "side program threads figure value unit"
# lines to the results, peak_rss included.
results=$tmp/results
: >"$results"
run_one() {
	local side=$1 p=$2 threads=$3 r=$4 bin
	if [ "$side" = go ]; then bin=$tmp/bin/$p; else bin=$build/bench/$p; fi
	if ! env GOMAXPROCS="$threads" GOC_MAXPROCS="$threads" \
		"$timecmd" -f %M -o "$tmp/rss" "$bin" >"$tmp/out" 2>"$tmp/err"; then
		note "$p ($side, $threads threads) run $r failed: $(tail -n 3 "$tmp/err" | tr '\n' ' ')"
		failed=1
		return
	fi
	awk -v s="$side" -v p="$p" -v t="$threads" 'NF == 3 { print s, p, t, $1, $2, $3 }' "$tmp/out" >>"$results"
	echo "$side $p $threads peak_rss $(tail -n 1 "$tmp/rss") KiB" >>"$results"
}

default_procs=${GOMAXPROCS:-${GOC_MAXPROCS:-$(nproc)}}
for p in "${ready[@]}"; do
	variants=("$default_procs")
	case $one_thread in *" $p "*) [ "$default_procs" = 1 ] || variants+=(1) ;; esac
	for v in "${variants[@]}"; do
		echo "run.sh: $p, $v threads, $runs runs" >&2
		for ((r = 1; r <= runs; r++)); do
			# Alternate which side goes first, so drift hits both alike.
			if ((r % 2)); then
				run_one go "$p" "$v" "$r"
				run_one goc "$p" "$v" "$r"
			else
				run_one goc "$p" "$v" "$r"
				run_one go "$p" "$v" "$r"
			fi
		done
	done
done

# Machine line.
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
cc=unknown
if [ -f "$build/CMakeCache.txt" ]; then
	ccpath=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
	if [ -n "$ccpath" ]; then
		cc=$("$ccpath" --version 2>/dev/null | head -n 1) || true
		[ -n "$cc" ] || cc=$(basename "$ccpath")
	fi
fi
machine="nproc $(nproc), CPU ${cpu:-unknown}, $(go version | sed 's/^go version //'), goc built with $cc, $start_time, $runs runs per median, 1-min load average $load_start before and $(cut -d' ' -f1 /proc/loadavg) after"

printf '%s\n' "${notes[@]+"${notes[@]}"}" >"$tmp/notes"

# Median per (program, threads, figure) and side, in the order first seen;
# then the comparison. Exits 3 if a check differs.
status=0
awk -v md="$md" -v machine="$machine" -v notesfile="$tmp/notes" '
function median(s,    a, n, i, j, t) {
	n = split(s, a, " ")
	if (n == 0) return ""
	for (i = 2; i <= n; i++)            # insertion sort, n is small
		for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	if (n % 2) return a[(n + 1) / 2]
	t = (a[n/2] + a[n/2 + 1]) / 2
	return (t == int(t)) ? sprintf("%d", t) : sprintf("%.1f", t)
}
# How a figure compares: "check" (must be equal), "info" (depends on
# scheduling, shown only), "higher" (higher is better) or "lower".
function kind(fig, u) {
	if (fig ~ /^(pool_failed_recorded|pool_failed_dropped)$/) return "info"
	if (fig ~ /^(skynet_total|sieve_prime_5000|pool_deleted|pool_failed|timers_bound_ms|echo_conns)$/) return "check"
	if (fig ~ /_per_s$/ || u ~ /\/s$/) return "higher"
	if (u ~ /^(ns|us|ms|s|B|KiB|MiB)$/) return "lower"
	return "check"
}
{
	k = $2 SUBSEP $3 SUBSEP $4
	if (!(k in unit)) { order[++nk] = k; unit[k] = $6 }
	if (($1, k) in vals) vals[$1, k] = vals[$1, k] " " $5
	else vals[$1, k] = $5
}
END {
	bad = 0
	if (md) {
		print "Machine: " machine "\n"
		print "| program | threads | figure | unit | goc | Go | goc/Go | goc runs | Go runs |"
		print "|---|---|---|---|---:|---:|---:|---|---|"
	} else {
		print "# " machine
		printf "%-18s %-7s %-40s %-6s %14s %14s %-9s %s | %s\n", "program", "threads", "figure", "unit", "goc", "Go", "goc/Go", "goc runs", "Go runs"
	}
	for (i = 1; i <= nk; i++) {
		k = order[i]
		split(k, f, SUBSEP)
		c = median(vals["goc", k]); g = median(vals["go", k])
		kd = kind(f[3], unit[k])
		if (c == "" || g == "") r = "-"
		else if (kd == "check") { if (c + 0 == g + 0 && c == g) r = "equal"; else { r = "DIFFERENT"; bad = 1 } }
		else if (kd == "info") r = "-"
		else if (g + 0 == 0) r = "-"
		else r = sprintf("%.2f", c / g) (kd == "higher" ? " (higher is better)" : "")
		if (c == "") c = "-"
		if (g == "") g = "-"
		if (md)
			printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", f[1], f[2], f[3], unit[k], c, g, r, vals["goc", k], vals["go", k]
		else
			printf "%-18s %-7s %-40s %-6s %14s %14s %-9s %s | %s\n", f[1], f[2], f[3], unit[k], c, g, r, vals["goc", k], vals["go", k]
	}
	first = 1
	while ((getline line < notesfile) > 0) {
		if (line == "") continue
		if (first) { print (md ? "\nNotes:\n" : "\nNotes:"); first = 0 }
		print (md ? "- " : "  ") line
	}
	exit bad ? 3 : 0
}' "$results" || status=$?

if [ "$status" -ne 0 ]; then
	[ "$status" -eq 3 ] && echo "run.sh: a check figure differs between goc and Go" >&2
	exit 1
fi
exit "$failed"
