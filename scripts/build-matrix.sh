#!/usr/bin/env bash
# build-matrix.sh: build (no tests run) with several compilers and build types, warnings as errors.
#   scripts/build-matrix.sh                 gcc Release and clang Release (what CI runs)
#   scripts/build-matrix.sh --all           gcc and clang at Debug, Release, RelWithDebInfo, MinSizeRel
#   scripts/build-matrix.sh gcc:Debug ...   the given <compiler>:<build type> pairs
# Each build goes into build-<cc>-<type>/ (type in lower case) with -DWSGATE_WERROR=ON; the
# unit tests are compiled too, nothing is run. Exits non-zero on the first failed build.
set -euo pipefail
cd "$(dirname "$0")/.."

types=(Debug Release RelWithDebInfo MinSizeRel)
combos=()
for arg in "$@"; do
  case "$arg" in
    --all) for cc in gcc clang; do for t in "${types[@]}"; do combos+=("$cc:$t"); done; done ;;
    *:*) combos+=("$arg") ;;
    *) echo "usage: $0 [--all | <gcc|clang>:<Debug|Release|RelWithDebInfo|MinSizeRel>...]" >&2; exit 2 ;;
  esac
done
if [ ${#combos[@]} -eq 0 ]; then combos=(gcc:Release clang:Release); fi

for combo in "${combos[@]}"; do
  cc=${combo%%:*}
  type=${combo#*:}
  build=build-$cc-${type,,}
  echo "== $cc $type -> $build/"
  cmake -S . -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE="$type" \
    -DWSGATE_WERROR=ON >/dev/null
  cmake --build "$build" -j "$(nproc)"
done
echo "== build matrix ok: ${combos[*]}"
