#!/usr/bin/env bash
# The whole test suite built with AddressSanitizer and UndefinedBehaviorSanitizer (clang, CUDA off,
# assertions on, -O1) in its own build folder, build-asan/, and run: the first report of either
# sanitizer fails the test that made it. The same build holds the libFuzzer targets of fuzz/, so
# --fuzz SECONDS then runs each of them that long from its committed corpus (scripts/fuzz.sh --in).
# --quick runs the [heavy]-tagged test cases on every fourth item of their lists (CI, to stay inside
# its time: the JSON Schema shards, `moesim published` and the transfer tables; whole, under the
# sanitizers, shard 4 alone took 476 s, published 401 s, the tables 188 s; the main build runs them
# whole): MOESIM_HEAVY_STRIDE=4, tests/heavy_stride.hpp. Every other case runs whole.
#   scripts/sanitize.sh [--quick] [--fuzz SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
fuzz=
while (($#)); do
  case $1 in
    --quick) quick=1; shift ;;
    --fuzz) fuzz=$2; shift 2 ;;
    *) echo "usage: scripts/sanitize.sh [--quick] [--fuzz SECONDS]" >&2; exit 2 ;;
  esac
done
build=${MOESIM_ASAN_BUILD:-$root/build-asan}
jobs=$(nproc)
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Paths under the clone are hashed relative to it, and the working folder (in the line tables'
  # compilation folder) not at all, so a fresh clone elsewhere reuses the cache; not for the test
  # objects, which hold the clone's path (MOESIM_SOURCE_DIR): they hit only at the same path.
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root} CCACHE_NOHASHDIR=1
fi
# fuzzer-no-link: coverage hooks only, so that the fuzz targets can link libFuzzer; the tests keep
# their own main. The build type "Sanitize" has no flags of its own: an empty one would become
# Release (CMakeLists.txt), whose -O3 -DNDEBUG would override -O1 and turn the assertions off.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" \
  -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DMOESIM_WITH_CUDA=OFF -DMOESIM_FUZZ=ON >/dev/null
cmake --build "$build" -j"$jobs"
# Reports go to files, not stderr: SimGrid's actors run on stacks of their own, and ASan warns once
# per process about them on stderr, which the command-line tests read line by line. A report still
# ends its process with an error (the test fails); each report is printed below.
logs=$build/sanitizer-logs
rm -rf "$logs"
mkdir -p "$logs"
# malloc_context_size: the allocation and free stacks a report prints keep 10 frames, not 30. Every
# allocation records its stack, and the tests allocate a lot: the JSON Schema test's first shard
# takes 45 CPU-s instead of 66. What is detected does not change, nor the stack of the bad access.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:malloc_context_size=10:log_path=$logs/asan
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan
if [[ $quick == 1 ]]; then
  export MOESIM_HEAVY_STRIDE=4
fi
status=0
ctest --test-dir "$build" --output-on-failure -j"$jobs" || status=1
reports=$(grep -lE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$logs"/* 2>/dev/null || true)
if [[ -n $reports ]]; then
  for f in $reports; do echo "== $f"; cat "$f"; done
  status=1
fi
((status == 0)) || exit 1
unset ASAN_OPTIONS UBSAN_OPTIONS
[[ -z $fuzz ]] || bash "$root/scripts/fuzz.sh" --in "$build" "$fuzz"
