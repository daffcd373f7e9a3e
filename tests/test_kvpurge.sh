#!/usr/bin/env bash
# kvpurge against a private redis-server: everything deleted, --match,
# --dry-run, the error limit (a server where UNLINK and DEL are renamed
# away, so every delete fails), --timeout (a server whose clients are
# paused; also after the error limit stopped the run, and at the very end
# of a complete run), a refused connection, and usage errors (exit 2).
# Usage: tests/test_kvpurge.sh PATH/TO/kvpurge
# Exits 77 (CTest: skipped) when redis-server or redis-cli is missing.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:?usage: test_kvpurge.sh PATH/TO/kvpurge}

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
	echo "SKIPPED: redis-server or redis-cli is not installed (scripts/deps.sh test)"
	exit 77
fi
. "$here/../cmd/kvpurge/redis.sh"

tmp=$(mktemp -d)
servers=()
cleanup() {
	for pf in "${servers[@]+"${servers[@]}"}"; do
		REDIS_PIDFILE=$pf redis_stop
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

passed=0 failed=0
check() { # check NAME CONDITION-STATUS
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok   $1"
	else
		failed=$((failed + 1))
		echo "FAIL $1"
		echo "---- stdout:"; cat "$tmp/out"; echo "---- stderr:"; cat "$tmp/err"
	fi
}
run() { # run ARGS...: status in $rc, output in $tmp/out and $tmp/err
	rc=0
	timeout 120 "$bin" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
}
has() { grep -q -- "$2" "$tmp/$1"; }

# ---- usage (no server needed) ----
for args in "--workers 0" "--bogus" "--timeout soon" "--addr" "--count -5" "--max-errors x" "extra" \
	"--progress nan" "--timeout 1e-12" "--timeout 0x10"; do
	# shellcheck disable=SC2086
	run $args
	[ "$rc" -eq 2 ] && has err usage
	check "usage: $args -> exit 2" $?
done
run --help
[ "$rc" -eq 0 ] && has out "--max-errors"
check "--help -> exit 0" $?

# ---- a normal server ----
mkdir -p "$tmp/a"
redis_start "$tmp/a" || exit 1
servers+=("$REDIS_PIDFILE")
A=127.0.0.1:$REDIS_PORT

redis_fill 20000 k
run --addr "$A" --workers 8 --quiet
[ "$rc" -eq 0 ] && has out "deleted 20000," && has out "failed 0," && [ "$(redis_cli dbsize)" = 0 ]
check "all keys deleted (20000 keys, 8 workers)" $?

redis_fill 3000 keep
redis_fill 4000 drop
run --addr "$A" --match 'drop:*' --count 100 --workers 3 --quiet
[ "$rc" -eq 0 ] && has out "deleted 4000," && [ "$(redis_cli dbsize)" = 3000 ] &&
	[ "$(redis_cli --scan --pattern 'drop:*' | wc -l)" = 0 ]
check "--match deletes only matching keys" $?

run --addr "$A" --dry-run --quiet
# SCAN may return a key more than once (Redis allows it while its table
# grows), and a dry run cannot tell: it counts at least every key.
would=$(sed -n 's/.*would delete \([0-9]*\),.*/\1/p' "$tmp/out")
[ "$rc" -eq 0 ] && [ -n "$would" ] && [ "$would" -ge 3000 ] && [ "$(redis_cli dbsize)" = 3000 ]
check "--dry-run deletes nothing" $?

run --addr "$A" --del --workers 1 --count 7 --progress 1ms
[ "$rc" -eq 0 ] && has out "deleted 3000," && [ "$(redis_cli dbsize)" = 0 ]
check "--del, one worker, small pages" $?

run --addr "$A" --quiet
[ "$rc" -eq 0 ] && has out "scanned 0, deleted 0,"
check "empty database: nothing to do, exit 0" $?

# The error limit with some deletes allowed (an ACL lets the default user
# touch only ok:* keys): the report counts exactly what the server did,
# pages in flight when the limit was hit included.
redis_cli flushall >/dev/null
redis_fill 3000 ok
redis_fill 3000 no
redis_cli acl setuser default resetkeys '~ok:*' >/dev/null
run --addr "$A" --max-errors 10 --workers 4 --count 10 --quiet
redis_cli acl setuser default allkeys >/dev/null
d=$(sed -n 's/.*deleted \([0-9]*\),.*/\1/p' "$tmp/out")
real=$((6000 - $(redis_cli dbsize)))
[ "$rc" -eq 1 ] && has err "more than 10 errors" && [ -n "$d" ] && [ "$d" -eq "$real" ] &&
	has out "not attempted"
check "error limit: the report's deleted ($d) is what the server deleted ($real)" $?
redis_cli flushall >/dev/null

# --timeout: every client paused, so SCAN waits until the run's deadline.
redis_fill 100 t
redis_cli client pause 3000 ALL >/dev/null
start=$(date +%s%N)
run --addr "$A" --timeout 300ms --quiet
took=$((($(date +%s%N) - start) / 1000000))
[ "$rc" -eq 1 ] && has err "timed out" && [ "$took" -lt 2500 ]
check "--timeout stops a stuck run (${took} ms)" $?
redis_cli client unpause >/dev/null
redis_cli flushall >/dev/null

# --timeout still holds after the error limit has stopped the run: writes
# are paused, so the allowed UNLINKs wait while the refused keys fail at
# once; the workers waiting on replies must wake at the deadline, not when
# the pause ends (they used to wait it out: the limit's cancel had ended the
# context, so its timeout never fired).
redis_fill 1000 ok
redis_fill 1000 no
redis_cli acl setuser default resetkeys '~ok:*' >/dev/null
redis_cli client pause 8000 WRITE >/dev/null
start=$(date +%s%N)
run --addr "$A" --max-errors 0 --timeout 500ms --workers 8 --count 10 --quiet
took=$((($(date +%s%N) - start) / 1000000))
redis_cli client unpause >/dev/null
redis_cli acl setuser default allkeys >/dev/null
[ "$rc" -eq 1 ] && has err "more than 0 errors" && [ "$took" -lt 5000 ]
check "--timeout holds after the error limit stopped the run (${took} ms)" $?
redis_cli flushall >/dev/null

# A deadline that passes as the last page is done: a complete run is done
# (exit 0), not "timed out". Repeated around the moment the run ends.
redis_fill 2000 r
run --addr "$A" --quiet
one=$(sed -n 's/.*elapsed \([0-9.]*\) s.*/\1/p' "$tmp/out")
ok=0
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	redis_fill 2000 r
	run --addr "$A" --quiet --timeout 2ms --count 100
	if has out "deleted 2000, missing 0, failed 0, elapsed" && ! has out "not attempted" &&
		[ "$(redis_cli dbsize)" -eq 0 ]; then
		# everything deleted: it must say done and exit 0
		has out "kvpurge: done" && [ "$rc" -eq 0 ] || ok=1
	fi
	redis_cli flushall >/dev/null
done
[ "$ok" -eq 0 ]
check "a run that completes just at its deadline is done, exit 0 (one run took ${one} s)" $?

# ---- a server that refuses every delete ----
mkdir -p "$tmp/b"
redis_start "$tmp/b" --rename-command UNLINK "" --rename-command DEL "" || exit 1
servers+=("$REDIS_PIDFILE")
B=127.0.0.1:$REDIS_PORT
redis_fill 1000 k
run --addr "$B" --max-errors 10 --workers 4 --quiet
[ "$rc" -eq 1 ] && has err "more than 10 errors" && has out "stopped" && has err "unknown command" &&
	has out "deleted 0," && [ "$(redis_cli dbsize)" = 1000 ]
check "--max-errors 10 stops the run, exit 1" $?
f=$(sed -n 's/.*failed \([0-9]*\),.*/\1/p' "$tmp/out")
[ -n "$f" ] && [ "$f" -gt 10 ]
check "error limit: the report counts more than 10 failures ($f)" $?

run --addr "$B" --max-errors 5000 --workers 2 --quiet --del
[ "$rc" -eq 1 ] && has out "failed 1000," && has out "done"
check "every delete fails below the limit: exit 1, all counted" $?

# ---- nobody listening ----
REDIS_PIDFILE=${servers[1]} redis_stop
run --addr "$B" --quiet
[ "$rc" -eq 1 ] && has err "connect to $B" && has err "refused"
check "connection refused: exit 1" $?

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
