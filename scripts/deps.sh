#!/usr/bin/env bash
# Installs (as root, with apt-get) or names (otherwise) what a target needs.
# Usage: scripts/deps.sh build|test|bench|run
# build: cmake, a C compiler, ninja or make. test: also clang (TSan build),
# the AArch64 cross compiler and qemu-user, valgrind headers. bench: Go and
# GNU time. run: redis-server and hiredis for the kvpurge demo.
set -euo pipefail
want=("$@")
pkgs=()
need() { # need COMMAND-or-FILE PACKAGE
	case $1 in
	/*) [ -e "$1" ] || pkgs+=("$2") ;;
	*) command -v "$1" >/dev/null 2>&1 || pkgs+=("$2") ;;
	esac
}
for w in "${want[@]}"; do
	case $w in
	build)
		need cmake cmake
		need cc gcc
		need ninja ninja-build
		need pkg-config pkg-config
		;;
	test)
		need clang clang
		need aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
		need /usr/aarch64-linux-gnu/include/stdio.h libc6-dev-arm64-cross
		need qemu-aarch64 qemu-user
		need /usr/include/valgrind/valgrind.h valgrind
		# clang's sanitizer runtimes
		need /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.tsan-x86_64.a libclang-rt-14-dev
		# the kvpurge tests run against a real Redis
		need redis-server redis-server
		need /usr/include/hiredis/hiredis.h libhiredis-dev
		;;
	bench)
		need go golang-go
		need /usr/bin/time time
		;;
	run)
		need redis-server redis-server
		need redis-cli redis-tools
		need /usr/include/hiredis/hiredis.h libhiredis-dev
		;;
	esac
done
[ ${#pkgs[@]} -eq 0 ] && exit 0
mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "deps: installing ${pkgs[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null || true
	apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
else
	echo "deps: missing packages: ${pkgs[*]}" >&2
	echo "deps: install them with: sudo apt-get install ${pkgs[*]}" >&2
	exit 1
fi
