#!/usr/bin/env bash
# The installed library, as a program outside this tree uses it: installs the
# build into a temporary prefix, then builds and runs one small program
# against it: with pkg-config (the shared library, then the static one), with
# CMake's find_package(goc), or (second argument "clang") with clang and the
# static library, whose objects carry GCC's LTO IR beside their machine code.
# Usage: tests/test_install.sh BUILD_DIR [clang]
set -euo pipefail
build=$1
mode=${2:-cc}
cc=${CC:-cc}
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
if [ "$mode" = clang ] && ! command -v clang >/dev/null; then
	echo "SKIPPED: clang is not installed (scripts/deps.sh test installs it)"
	exit 77
fi
command -v pkg-config >/dev/null || fail "pkg-config is not installed (scripts/deps.sh build)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(find "$tmp/prefix" -name goc.pc | head -n1)
[ -n "$pc" ] || fail "no goc.pc installed"
libdir=$(dirname "$(dirname "$pc")")
[ -f "$libdir/libgoc.a" ] || fail "no libgoc.a in $libdir"
[ -f "$libdir/cmake/goc/gocConfig.cmake" ] || fail "no gocConfig.cmake in $libdir/cmake/goc"
export PKG_CONFIG_PATH="$libdir/pkgconfig"

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

if [ "$mode" = clang ]; then
	# shellcheck disable=SC2046
	clang -Wall -Wextra -Werror $(pkg-config --cflags goc) "$tmp/hello.c" -o "$tmp/clang" \
		"$libdir/libgoc.a" -lpthread -ldl -lm
	check "clang, static" "$tmp/clang"
	exit 0
fi

# shellcheck disable=SC2046
"$cc" -Wall -Wextra -Werror $(pkg-config --cflags goc) "$tmp/hello.c" -o "$tmp/shared" \
	$(pkg-config --libs goc) -lpthread
check "pkg-config, shared" "$tmp/shared" LD_LIBRARY_PATH="$libdir"
# --static adds Libs.private; -Bstatic makes -lgoc the archive
# shellcheck disable=SC2046
"$cc" -Wall -Wextra -Werror $(pkg-config --cflags goc) "$tmp/hello.c" -o "$tmp/static" \
	$(pkg-config --libs-only-L goc) -Wl,-Bstatic -lgoc -Wl,-Bdynamic \
	$(pkg-config --static --libs-only-l goc | sed 's/-lgoc\b//')
ldd "$tmp/static" | grep -q libgoc && fail "pkg-config, static: linked the shared library"
check "pkg-config, static" "$tmp/static"

# A program built with -flto against the static library, whose LTO IR is
# then optimised with the program's: goc's code inlined into it must not
# warn (channel element copies once warned of overflows on paths never
# taken, -Wstringop-overflow).
"$cc" -O2 -flto -Wall -Wextra -Werror $(pkg-config --cflags goc) "$tmp/hello.c" -o "$tmp/lto" \
	$(pkg-config --libs-only-L goc) -Wl,-Bstatic -lgoc -Wl,-Bdynamic \
	$(pkg-config --static --libs-only-l goc | sed 's/-lgoc\b//') ||
	fail "pkg-config, static, -flto: build failed (or warned)"
check "pkg-config, static, -flto" "$tmp/lto"

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
