#!/usr/bin/env bash
# The kvpurge demo: a private redis-server on a free loopback port, 100,000
# keys, then kvpurge with its progress lines, and a check that DBSIZE is 0.
# Usage: cmd/kvpurge/demo.sh [BUILD]  (default build/release)
# Exits 77 (skipped) when redis-server or the kvpurge binary is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build/release}
[ -d "$build" ] || build=$here/../../$build
bin=$build/cmd/kvpurge
keys=${KVPURGE_DEMO_KEYS:-100000}

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
	echo "kvpurge demo: skipped: redis-server is not installed (scripts/deps.sh run)"
	exit 77
fi
if [ ! -x "$bin" ]; then
	echo "kvpurge demo: skipped: $bin is not built (hiredis missing? scripts/deps.sh run)"
	exit 77
fi

. "$here/redis.sh"
tmp=$(mktemp -d)
trap 'redis_stop; rm -rf "$tmp"' EXIT
redis_start "$tmp"
echo "redis-server on 127.0.0.1:$REDIS_PORT; filling $keys keys"
redis_fill "$keys" demo
echo "DBSIZE before: $(redis_cli dbsize)"
# Progress every 100 ms: the purge takes well under a second here.
"$bin" --addr "127.0.0.1:$REDIS_PORT" --workers 4 --count 100 --progress 100ms 2>&1
after=$(redis_cli dbsize)
echo "DBSIZE after: $after"
[ "$after" = 0 ]
