#!/usr/bin/env bash
# The installed library, as a program outside this tree uses it: installs the
# build into a temporary prefix, then builds and runs one small program
# against it four ways: pkg-config with the shared library, pkg-config with
# the static one, CMake's find_package(goc), and clang with the static
# library (whose objects carry GCC's LTO IR beside their machine code).
# Usage: tests/test_install.sh BUILD_DIR
set -euo pipefail
build=$1
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(find "$tmp/prefix" -name goc.pc | head -n1)
[ -n "$pc" ] || fail "no goc.pc installed"
libdir=$(dirname "$(dirname "$pc")")
[ -f "$libdir/libgoc.a" ] || fail "no libgoc.a in $libdir"
[ -f "$libdir/cmake/goc/gocConfig.cmake" ] || fail "no gocConfig.cmake in $libdir/cmake/goc"

cat >"$tmp/hello.c" <<'EOF'
#include <goc.h>
#include <stdio.h>

static void answer(void *arg) {
    int v = 42;
    goc_send(arg, v);
}

static int hello_main(void *arg) {
    (void)arg;
    goc_chan *c = goc_chan_of(int, 0);
    go(answer, c);
    int v = 0;
    goc_recv(c, &v);
    goc_chan_free(c);
    printf("answer %d\n", v);
    return v == 42 ? 0 : 1;
}

int main(void) {
    return goc_run(hello_main, NULL);
}
EOF

check() { # check NAME BINARY [ENV...]
	local name=$1 bin=$2
	shift 2
	local out
	out=$(env "$@" "$bin") || fail "$name: exit status $?"
	[ "$out" = "answer 42" ] || fail "$name: printed '$out'"
	echo "ok   $name"
}

export PKG_CONFIG_PATH="$libdir/pkgconfig"
command -v pkg-config >/dev/null || fail "pkg-config is not installed (scripts/deps.sh build)"
# shellcheck disable=SC2046
"$cc" -Wall -Wextra -Werror $(pkg-config --cflags goc) "$tmp/hello.c" -o "$tmp/shared" $(pkg-config --libs goc) -lpthread
check "pkg-config, shared" "$tmp/shared" LD_LIBRARY_PATH="$libdir"
"$cc" -Wall -Wextra -Werror -I"$tmp/prefix/include" "$tmp/hello.c" -o "$tmp/static" "$libdir/libgoc.a" -lpthread -ldl -lm
check "pkg-config, static" "$tmp/static"

mkdir "$tmp/consumer"
cp "$tmp/hello.c" "$tmp/consumer/"
cat >"$tmp/consumer/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.20)
project(consumer C)
find_package(goc REQUIRED)
add_executable(hello hello.c)
target_link_libraries(hello PRIVATE goc::goc)
EOF
cmake -S "$tmp/consumer" -B "$tmp/consumer/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null ||
	fail "find_package(goc): configure failed"
cmake --build "$tmp/consumer/build" >/dev/null || fail "find_package(goc): build failed"
check "cmake find_package(goc)" "$tmp/consumer/build/hello"

if ! command -v clang >/dev/null; then
	echo "SKIPPED: clang, static: clang is not installed (scripts/deps.sh test installs it)"
	exit 77
fi
clang -Wall -Wextra -Werror -I"$tmp/prefix/include" "$tmp/hello.c" -o "$tmp/clang" "$libdir/libgoc.a" -lpthread -ldl -lm
check "clang, static" "$tmp/clang"
