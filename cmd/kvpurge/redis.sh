# Shared by cmd/kvpurge/demo.sh and tests/test_kvpurge.sh (sourced, not run):
# a private redis-server on a free loopback port in a temporary directory.
#
#   redis_start DIR [redis-server options...]   sets REDIS_PORT, REDIS_PIDFILE
#   redis_cli ARGS...                            redis-cli against it
#   redis_fill N [PREFIX]                        N string keys PREFIX:1..N
#   redis_stop                                   stops it (polls until gone)

# A free port: ask the kernel for one, as a listener on port 0 would.
redis_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

redis_start() {
	local dir=$1
	shift
	REDIS_PIDFILE=$dir/redis.pid
	local tries
	for tries in 1 2 3 4 5; do
		REDIS_PORT=$(redis_free_port)
		redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
			--daemonize yes --pidfile "$REDIS_PIDFILE" --logfile "$dir/redis.log" --dir "$dir" "$@" || return 1
		local i
		for ((i = 0; i < 100; i++)); do # 5 s
			if redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
				return 0
			fi
			sleep 0.05
		done
		redis_stop
	done
	echo "redis-server did not start (see $dir/redis.log)" >&2
	return 1
}

redis_cli() {
	redis-cli -p "$REDIS_PORT" "$@"
}

# Fills with N keys through redis-cli --pipe (raw RESP, one round trip).
redis_fill() {
	local n=$1 prefix=${2:-key}
	awk -v n="$n" -v p="$prefix" 'BEGIN {
		for (i = 1; i <= n; i++) {
			k = p ":" i; v = "value-" i
			printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v
		}
	}' | redis_cli --pipe >/dev/null
}

redis_stop() {
	[ -n "${REDIS_PIDFILE:-}" ] && [ -f "$REDIS_PIDFILE" ] || return 0
	local pid
	pid=$(cat "$REDIS_PIDFILE")
	kill "$pid" 2>/dev/null || true
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	rm -f "$REDIS_PIDFILE"
}
