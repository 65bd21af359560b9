#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang, ASan and UBSan, and runs each for SECONDS
# (default 60) from its committed corpus, fuzz/corpus/NAME. New inputs go to BUILD/corpus/NAME;
# --merge folds the ones that add coverage back into fuzz/corpus/NAME. A finding (crash, hang over
# 10 s, leak, undefined behaviour, an exception other than InputError) is saved as
# BUILD/artifacts/NAME-* and makes the script exit 1. One line per target: runs, seconds, result.
# BUILD is build-fuzz/ (-O2), or with --in DIR a folder scripts/sanitize.sh configured with the
# fuzz targets (CI: one sanitizer build for the tests and the fuzzers). MOESIM_FUZZ_RUNS=N also
# stops each target after N inputs. --minimise runs no fuzzing: it rewrites each fuzz/corpus/NAME as
# the smallest set of its own inputs that keeps its coverage (libFuzzer's -merge=1 into an empty
# folder), and says how many files it kept.
#   scripts/fuzz.sh [--merge | --minimise] [--in DIR] [SECONDS] [NAME...]    e.g. scripts/fuzz.sh 600 study
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
merge=0
minimise=0
configured=
while [[ ${1:-} == --* ]]; do
  case $1 in
    --merge) merge=1; shift ;;
    --minimise) minimise=1; shift ;;
    --in) configured=$2; shift 2 ;;
    *) echo "usage: scripts/fuzz.sh [--merge | --minimise] [--in DIR] [SECONDS] [NAME...]" >&2; exit 2 ;;
  esac
done
seconds=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(study model topology calibration schedule timeline platform_xml nccl_tests)
build=${configured:-${MOESIM_FUZZ_BUILD:-$root/build-fuzz}}
if [[ -z $configured ]]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" \
    -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
    -DMOESIM_WITH_SIMGRID=OFF -DMOESIM_WITH_CUDA=OFF -DMOESIM_BUILD_TESTS=OFF -DMOESIM_FUZZ=ON >/dev/null
fi
limit=()
[[ -n ${MOESIM_FUZZ_RUNS:-} ]] && limit=(-runs="$MOESIM_FUZZ_RUNS")
cmake --build "$build" -j"${MOESIM_FUZZ_JOBS:-$(nproc)}" --target "${targets[@]/#/fuzz_}"

failed=0
mkdir -p "$build/artifacts"
if [[ $minimise == 1 ]]; then
  for name in "${targets[@]}"; do
    seeds=$root/fuzz/corpus/$name
    kept=$build/minimised/$name
    rm -rf "$kept"; mkdir -p "$kept"
    before=$(find "$seeds" -type f | wc -l)
    "$build/fuzz/fuzz_$name" -merge=1 "$kept" "$seeds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
      >"$build/minimise_$name.log" 2>&1
    after=$(find "$kept" -type f | wc -l)
    # libFuzzer names what it keeps by the SHA-1 of its bytes: remove the inputs whose digest it did
    # not keep, so the kept ones keep their names. An empty result means the merge failed: keep all.
    if [[ $after -gt 0 ]]; then
      for f in "$seeds"/*; do
        [[ -e $kept/$(sha1sum "$f" | cut -d' ' -f1) ]] || rm -f "$f"
      done
    fi
    after=$(find "$seeds" -type f | wc -l)
    echo "fuzz_$name: kept $after of $before inputs (the same coverage)"
  done
  exit 0
fi
for name in "${targets[@]}"; do
  seeds=$root/fuzz/corpus/$name
  work=$build/corpus/$name
  mkdir -p "$seeds" "$work"
  log=$build/fuzz_$name.log
  if UBSAN_OPTIONS=print_stacktrace=1 "$build/fuzz/fuzz_$name" "$work" "$seeds" -max_total_time="$seconds" "${limit[@]}" -timeout=10 \
       -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 -artifact_prefix="$build/artifacts/$name-" >"$log" 2>&1; then
    result="0 findings"
  else
    result="FINDING (see $log)"
    failed=1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  took=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  echo "fuzz_$name: ${runs:-?} runs (at most ${seconds} s) (${took:-?}/s), $result"
  if [[ $merge == 1 && $result == "0 findings" ]]; then
    "$build/fuzz/fuzz_$name" -merge=1 "$seeds" "$work" -timeout=10 -rss_limit_mb=2048 -max_len=16384 >>"$log" 2>&1
  fi
done
exit $failed
