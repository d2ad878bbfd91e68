#!/usr/bin/env bash
# test.sh: install dependencies, build, and run every test (unit, integration, browser).
#   scripts/test.sh              normal build in build/
#   scripts/test.sh --sanitize   ASan+UBSan build in build-asan/ (LeakSanitizer on)
#   scripts/test.sh --tsan       ThreadSanitizer build in build-tsan/ (sender threads, NATS threads)
#   scripts/test.sh --no-browser skip the headless Chromium test
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DWSGATE_WERROR=ON)
ctest_args=()
browser=1
for arg in "$@"; do
  case "$arg" in
    --sanitize) build=build-asan; cmake_args=(-DCMAKE_BUILD_TYPE=Debug -DWSGATE_SANITIZE=ON -DWSGATE_WERROR=ON) ;;
    # the 1,000-client chaos test adds no thread coverage and is slow under TSan
    --tsan) build=build-tsan; ctest_args+=(-E integration.cluster_chaos); cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DWSGATE_TSAN=ON -DWSGATE_WERROR=ON) ;;
    --no-browser) browser=0 ;;
    *) echo "usage: $0 [--sanitize|--tsan] [--no-browser]" >&2; exit 2 ;;
  esac
done
[ "$browser" = 0 ] && ctest_args+=(-LE browser)

WSGATE_BROWSER=$browser bash scripts/setup.sh
if [ ! -d tests/node_modules ] || [ tests/package-lock.json -nt tests/node_modules ]; then
  (cd tests && npm ci --no-audit --no-fund)
fi

cmake -S . -B "$build" "${cmake_args[@]}"
cmake --build "$build" -j "$(nproc)"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" --output-on-failure -j 2 "${ctest_args[@]}"
