#!/usr/bin/env bash
# GPU machine, from the repo root: builds the harness (no SimGrid there), runs the [gpu] tests, then
# measures the validation matrix and the collectives calibration on GPUS GPUs:
#   * every schedule of validate/matrix/<GPUS>gpu/ (*.json or *.json.gz, written on the dev machine
#     by validate/make_matrix.sh; git-ignored, so carry that folder) with P2P on and with
#     NCCL_P2P_DISABLE=1: schedules named *_graph.* under --graph and eagerly, the others eagerly;
#   * moesim-validate bench-collectives for all_reduce, all_gather, reduce_scatter, all_to_all and
#     sendrecv from 1K to 256M (factor 2) over GPUS GPUs, P2P on and off.
# Everything lands in one archive, $OUT/matrix-<GPUS>gpu[-part<I>of<N>].tar.gz (runs/: timeline JSON
# and printed summary per run; bench/: nccl-tests-layout text and JSON; tests.log; system.json;
# status.tsv: one line per job with its exit status and seconds), beside a log of the same name.
# NCCL_NVLS_ENABLE=0 throughout (moesim-validate forces it too).
#
#   validate/run_matrix.sh GPUS [--part I/N] [--only REGEX] [--skip-build] [--skip-tests] [--skip-runs]
#                               [--skip-bench] [--iters N] [--warmup N] [--max-bytes SIZE] [--tests REGEX]
#
#   validate/run_matrix.sh --pack-deps   (dev machine) copies Catch2 v2 (/usr/include/catch2,
#                                        /usr/lib/cmake/Catch2, libCatch2WithMain.a) into
#                                        .deps/catch2-v2, git-ignored
# The GPU image has Catch2 v3 only; the tests are Catch2 v2. Carry .deps with the call (the script
# puts .deps/catch2-v2 on CMAKE_PREFIX_PATH); without it the tests are not built and say so.
#
# --part I/N keeps every N-th job starting at the I-th (1-based), so that a matrix longer than one
# command's time limit runs in N calls on one warm machine (the build is kept between calls; pass
# --skip-build --skip-tests after the first). --only keeps the jobs whose name matches REGEX
# (e.g. 'tp4_b1_' or 'bench'); --tests keeps the [gpu] tests whose name matches (ctest -R).
# Exit status: 0 when every job ended 0, else 1 (see status.tsv).
set -uo pipefail

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2; }
[ $# -ge 1 ] || usage
if [ "$1" = --pack-deps ]; then
  [ -f /usr/include/catch2/catch.hpp ] && [ -d /usr/lib/cmake/Catch2 ] || { echo "no Catch2 v2 here" >&2; exit 1; }
  rm -rf .deps/catch2-v2 && mkdir -p .deps/catch2-v2/include .deps/catch2-v2/lib/cmake
  cp -r /usr/include/catch2 .deps/catch2-v2/include/ && cp -r /usr/lib/cmake/Catch2 .deps/catch2-v2/lib/cmake/
  cp /usr/lib/libCatch2WithMain.a .deps/catch2-v2/lib/ 2>/dev/null || true # the config names it
  grep -qx '/.deps/' .git/info/exclude 2>/dev/null || echo '/.deps/' >>.git/info/exclude
  echo "wrote .deps/catch2-v2 ($(du -sh .deps | cut -f1)); name .deps in the device call's carry"
  exit 0
fi
gpus=$1; shift
[[ $gpus =~ ^[0-9]+$ ]] && [ "$gpus" -ge 1 ] || usage
part=1 parts=1 only='' test_regex='' build=1 tests=1 runs=1 bench=1 iters=10 warmup=3 max_bytes=256M
while [ $# -gt 0 ]; do
  case $1 in
    --part) IFS=/ read -r part parts <<<"$2"; shift ;;
    --only) only=$2; shift ;;
    --tests) test_regex=$2; shift ;;
    --skip-build) build=0 ;;
    --skip-tests) tests=0 ;;
    --skip-runs) runs=0 ;;
    --skip-bench) bench=0 ;;
    --iters) iters=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --max-bytes) max_bytes=$2; shift ;;
    *) usage ;;
  esac
  shift
done
[[ $part =~ ^[0-9]+$ && $parts =~ ^[0-9]+$ && $part -ge 1 && $part -le $parts ]] || usage

root=$(pwd)
[ -f validate/run_matrix.sh ] || { echo "run from the repository root" >&2; exit 2; }
export NCCL_NVLS_ENABLE=0
unset NCCL_ALGO NCCL_PROTO
out=${OUT:-$root/matrix-out}
mkdir -p "$out"
tag=matrix-${gpus}gpu
[ "$parts" -gt 1 ] && tag=$tag-part${part}of${parts}
log=$out/$tag.log
work=$(mktemp -d)
res=$work/$tag
mkdir -p "$res/runs" "$res/bench" "$work/schedules"
exec > >(tee -a "$log") 2>&1
echo "== $tag: $(date -u +%FT%TZ), $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo '+dirty')"
nvidia-smi -L || true
nvidia-smi topo -m >"$res/topology.txt" 2>&1 || true

build_dir=build-gpu
exe=$build_dir/validate/moesim-validate
if [ $build = 1 ]; then
  echo "== build ($build_dir: MOESIM_WITH_SIMGRID=OFF, Release, ninja)"
  # CMake 4: CMAKE_POLICY_VERSION_MINIMUM lets package configs that ask for < 3.5 (Catch2 v2) load;
  # FindBoost is gone (CMP0167), and Boost's own config wants libboost-graph-dev's boost_graph
  # config, which the GPU image lacks. moesim uses Boost.Graph's headers only (no graphviz), so
  # a stand-in config that maps Boost::graph onto Boost::headers does.
  extra=()
  if ! ls /usr/lib/*/cmake/boost_graph-*/boost_graph-config.cmake /usr/local/lib/cmake/boost_graph-*/boost_graph-config.cmake \
    >/dev/null 2>&1; then
    boost_ver=$(ls -d /usr/lib/*/cmake/Boost-* /usr/local/lib/cmake/Boost-* 2>/dev/null | head -1 | sed 's/.*Boost-//')
    if [ -n "$boost_ver" ]; then
      shim=$work/boost_graph_shim
      mkdir -p "$shim"
      cat >"$shim/boost_graph-config.cmake" <<'CFG'
# run_matrix.sh stand-in: Boost.Graph as headers (moesim links no compiled Boost.Graph part).
if(NOT TARGET Boost::graph)
  add_library(Boost::graph INTERFACE IMPORTED)
  set_target_properties(Boost::graph PROPERTIES INTERFACE_LINK_LIBRARIES Boost::headers)
endif()
CFG
      printf 'set(PACKAGE_VERSION %s)\nset(PACKAGE_VERSION_EXACT TRUE)\nset(PACKAGE_VERSION_COMPATIBLE TRUE)\n' \
        "$boost_ver" >"$shim/boost_graph-config-version.cmake"
      extra+=("-Dboost_graph_DIR=$shim")
      echo "no boost_graph CMake config here: using a header-only stand-in for Boost $boost_ver"
    fi
  fi
  [ -d .deps/catch2-v2 ] && extra+=("-DCMAKE_PREFIX_PATH=$root/.deps/catch2-v2")
  configure() {
    cmake -S . -B $build_dir -G Ninja -DMOESIM_WITH_SIMGRID=OFF -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_POLICY_VERSION_MINIMUM=3.5 -DCMAKE_POLICY_DEFAULT_CMP0167=NEW "${extra[@]}" "$@" >"$res/configure.log" 2>&1
  }
  if ! configure -DMOESIM_BUILD_TESTS=ON; then
    if grep -q 'package "Catch2"' "$res/configure.log"; then
      echo "no Catch2 v2 here (see --pack-deps): building without the tests"
      tests=0
      rm -f $build_dir/CMakeCache.txt
      configure -DMOESIM_BUILD_TESTS=OFF || { tail -30 "$res/configure.log"; echo "configure failed"; }
    else
      tail -30 "$res/configure.log"; echo "configure failed"
    fi
  fi
  SECONDS=0
  cmake --build $build_dir -- -k 0 >"$res/build.log" 2>&1 || { tail -40 "$res/build.log"; echo "build failed"; }
  echo "built in ${SECONDS}s"
fi
[ -x "$exe" ] || { echo "no $exe: build first"; tar -czf "$out/$tag.tar.gz" -C "$work" "$tag"; exit 1; }
"$exe" --info >"$res/system.json" 2>&1
printf 'job\tstatus\tseconds\n' >"$res/status.tsv"
failed=0

if [ $tests = 1 ]; then
  echo "== [gpu] tests"
  SECONDS=0
  (cd $build_dir && ctest -L gpu ${test_regex:+-R "$test_regex"} --output-on-failure --timeout 600) >"$res/tests.log" 2>&1
  st=$?
  tail -5 "$res/tests.log"
  printf 'gpu-tests\t%d\t%d\n' $st $SECONDS >>"$res/status.tsv"
  [ $st = 0 ] || failed=1
fi

# The jobs, in a fixed order: name, then the command (eval'd).
jobs=()
add_job() { jobs+=("$1"$'\t'"$2"); }
if [ $runs = 1 ]; then
  shopt -s nullglob
  for f in validate/matrix/${gpus}gpu/*.json validate/matrix/${gpus}gpu/*.json.gz; do
    name=$(basename "$f"); name=${name%.gz}; name=${name%.json}
    modes=eager
    [[ $name == *_graph ]] && modes="graph eager"
    for p2p in on off; do
      for mode in $modes; do
        add_job "$name.p2p-$p2p.$mode" "run_schedule '$f' '$name' $p2p $mode"
      done
    done
  done
  shopt -u nullglob
fi
if [ $bench = 1 ]; then
  for op in all_reduce all_gather reduce_scatter all_to_all sendrecv; do
    for p2p in on off; do
      add_job "bench.$op.p2p-$p2p" "run_bench $op $p2p"
    done
  done
fi

p2p_env() { if [ "$1" = off ]; then echo NCCL_P2P_DISABLE=1; else echo -u NCCL_P2P_DISABLE; fi; }

run_schedule() { # file name p2p mode
  local f=$1 name=$2 p2p=$3 mode=$4 json=$work/schedules/$2.json
  [ -f "$json" ] || { if [[ $f == *.gz ]]; then gzip -dc "$f" >"$json"; else cp "$f" "$json"; fi; }
  local flag=''
  [ "$mode" = graph ] && flag=--graph
  env $(p2p_env "$p2p") timeout 540 "$exe" run "$json" $flag --iters "$iters" --warmup "$warmup" \
    --out "$res/runs/$name.p2p-$p2p.$mode.json" >"$res/runs/$name.p2p-$p2p.$mode.txt" 2>&1
}

run_bench() { # op p2p
  env $(p2p_env "$2") timeout 540 "$exe" bench-collectives --op "$1" -b 1K -e "$max_bytes" -f 2 -g "$gpus" \
    --json "$res/bench/$1.p2p-$2.json" >"$res/bench/$1.p2p-$2.txt" 2>&1
}

echo "== ${#jobs[@]} jobs; this call runs part $part of $parts${only:+, matching '$only'}"
i=0
for job in "${jobs[@]}"; do
  i=$((i + 1))
  name=${job%%$'\t'*}
  cmd=${job#*$'\t'}
  [ $(((i - 1) % parts + 1)) = "$part" ] || continue
  [ -z "$only" ] || [[ $name =~ $only ]] || continue
  SECONDS=0
  eval "$cmd"
  st=$?
  printf '%s\t%d\t%d\n' "$name" $st $SECONDS >>"$res/status.tsv"
  printf '%-60s status %d, %ds\n' "$name" $st $SECONDS
  [ $st = 0 ] || failed=1
done

cp "$log" "$res/" 2>/dev/null || true
tar -czf "$out/$tag.tar.gz" -C "$work" "$tag"
rm -rf "$work"
echo "== wrote $out/$tag.tar.gz ($(du -h "$out/$tag.tar.gz" | cut -f1)); failed=$failed"
exit $failed
