#!/usr/bin/env bash
# fuzz.sh [SECONDS] [TARGET...]: build the libFuzzer targets with clang and run each for SECONDS (default 60).
#
# Targets: fuzz_jwt fuzz_subject fuzz_frame fuzz_payload fuzz_utf8 fuzz_deflate (all by default; "jwt" works for
# "fuzz_jwt"). Each runs over fuzz/out/<target>, a working copy of its seed
# corpus fuzz/corpus/<name> that grows from run to run (fuzz/out is
# gitignored). A crash leaves its reproducer in fuzz/out/<target>.crashes/
# and makes the script exit non-zero; replay it with
#   build-fuzz/fuzz/<target> fuzz/out/<target>.crashes/crash-...
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
if [ $# -gt 0 ]; then shift; fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(fuzz_jwt fuzz_subject fuzz_frame fuzz_payload fuzz_utf8 fuzz_deflate); fi
for i in "${!targets[@]}"; do
  targets[$i]=fuzz_${targets[$i]#fuzz_}
done

build=$root/build-fuzz
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DWSGATE_FUZZ=ON -DWSGATE_SANITIZE=ON -DWSGATE_TESTS=OFF -DWSGATE_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"

status=0
for t in "${targets[@]}"; do
  corpus=$root/fuzz/out/$t
  crashes=$root/fuzz/out/$t.crashes
  mkdir -p "$corpus" "$crashes"
  cp -n "$root/fuzz/corpus/${t#fuzz_}"/* "$corpus"/ 2>/dev/null || true
  log=$root/fuzz/out/$t.log
  echo "== $t: ${seconds}s over $corpus"
  if "$build/fuzz/$t" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$crashes/" \
      "$corpus" >"$log" 2>&1; then
    result=ok
  else
    result="CRASH (see $log)"
    status=1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "   $result: ${execs:-?} executions, corpus $(find "$corpus" -type f | wc -l) files"
  if [ "$result" != ok ]; then
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -5 | sed 's/^/   /' || true
    ls -t "$crashes" | head -3 | sed "s|^|   reproducer: $crashes/|"
  fi
done
exit $status
