#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS and prints one line per target:
#   run_fuzzers.sh BUILD_DIR SECONDS TARGET...
# The seeds in tests/fuzz/corpus/<target> are read, never written; new inputs go to
# BUILD_DIR/corpus/<target>, crash reproducers to BUILD_DIR/artifacts/. Exit status 1 if a
# target crashed, leaked, tripped a sanitizer or an invariant.
set -uo pipefail
build=$1 seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$build/artifacts"
status=0
for target in "$@"; do
  mkdir -p "$build/corpus/$target"
  log="$build/artifacts/$target.log"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    "$build/tests/fuzz/$target" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=4096 \
    -artifact_prefix="$build/artifacts/$target-" "$build/corpus/$target" "$here/corpus/$target" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ $rc -ne 0 ]; then
    echo "FUZZ FAILED $target (exit $rc); last lines of $log:"
    tail -40 "$log"
    status=1
  else
    echo "fuzz $target: ${runs:-?} executions in ${seconds}s under ASan+UBSan, no crash"
  fi
done
exit $status
