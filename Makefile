# The README's commands. CMake does the work; this file names the builds.
#   make run        build, then the tour of examples and the demos
#   make test       the whole suite: release, ASan+UBSan, TSan, AArch64 (qemu)
#   make check      release build and tests only (the fast loop)
#   make bench      goc against Go, side by side (docs/BENCHMARKS.md)
JOBS ?= $(shell nproc)
CMAKE_GEN := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
CTEST := ctest --output-on-failure -j $(JOBS)

.PHONY: all build run test check test-release test-asan test-tsan test-aarch64 bench clean deps

all: build

deps:
	@scripts/deps.sh build

build: deps
	cmake -S . -B build/release $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release -DGOC_WERROR=ON
	cmake --build build/release -j $(JOBS)

run: build
	@scripts/deps.sh run || echo "run: the kvpurge demo needs the packages above; the rest runs"
	@examples/tour.sh build/release

check: test-release

test-release: build
	cd build/release && $(CTEST)

test-asan: deps
	@scripts/deps.sh test
	cmake -S . -B build/asan $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOC_SANITIZE=address -DGOC_WERROR=ON -DGOC_BUILD_BENCH=OFF
	cmake --build build/asan -j $(JOBS)
	cd build/asan && $(CTEST)

test-tsan: deps
	@scripts/deps.sh test
	CC=clang cmake -S . -B build/tsan $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOC_SANITIZE=thread -DGOC_WERROR=ON -DGOC_BUILD_BENCH=OFF
	cmake --build build/tsan -j $(JOBS)
	cd build/tsan && $(CTEST)

test-aarch64: deps
	@scripts/deps.sh test
	cmake -S . -B build/aarch64 $(CMAKE_GEN) -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-toolchain.cmake -DCMAKE_BUILD_TYPE=Release -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=ON -DGOC_WERROR=ON -DGOC_BUILD_BENCH=OFF -DGOC_BUILD_EXAMPLES=OFF -DGOC_BUILD_CMD=OFF
	cmake --build build/aarch64 -j $(JOBS)
	cd build/aarch64 && $(CTEST)

test: test-release test-asan test-tsan test-aarch64

bench: build
	@scripts/deps.sh bench
	@bench/run.sh

clean:
	rm -rf build
