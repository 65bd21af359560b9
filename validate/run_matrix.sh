#!/usr/bin/env bash
# GPU machine, from the repo root: builds the harness (no SimGrid there), runs the [gpu] tests, then
# these jobs, in this order, on GPUS GPUs:
#   bench.kernels      moesim-validate bench-kernels over the CALIBRATION schedules of
#                      validate/matrix/<K>gpu-calibration/ for every K <= GPUS that is there
#                      (validate/make_calibration.sh K; other batches and routing seed than the
#                      matrix: the validation runs are never calibration data), one shard per GPU
#                      in parallel, each writing kernels.<I>.json
#   bench.host         moesim-validate bench-host -g GPUS: launch costs with the GPU busy and idle,
#                      event records and syncs, from 1..GPUS threads at once (host.json / host.txt)
#   bench.OP.p2p-on|off  moesim-validate bench-collectives --timing events for all_reduce, all_gather,
#                      reduce_scatter, all_to_all and sendrecv from 1K to 256M (factor 2), P2P on and
#                      with NCCL_P2P_DISABLE=1 (with --host-timing also bench.OP.p2p-on|off.host,
#                      timed by the host clock as nccl-tests does); also over every power of two
#                      below GPUS down to 2 GPUs (bench.OP.gK.p2p-on|off), the TP and EP groups of
#                      the hybrid plans
#   nccl-tests         when .nccl-tests (NVIDIA's nccl-tests source, git-ignored: carry it) exists:
#                      builds all_reduce_perf and alltoall_perf against moesim-validate's NCCL and runs
#                      each -b 8 -e 256M -f 2 -g GPUS, once for the text log and once with -J (JSON)
#   NAME.p2p-on|off.MODE  every schedule of validate/matrix/<GPUS>gpu/ (*.json or *.json.gz, written
#                      on the dev machine by validate/make_matrix.sh; git-ignored, so carry that
#                      folder): schedules named *_graph.* under --graph and eagerly, the others
#                      eagerly; all P2P-on runs first, then all P2P-off runs
# On 1 GPU there is no P2P to turn off: only the p2p-on jobs. Every schedule is decompressed
# up front. Everything lands in one archive, $OUT/matrix-<GPUS>gpu[-part<I>of<N>].tar.gz (runs/:
# timeline JSON and printed summary per run; bench/: kernels.<I>.json and .txt, nccl-tests-layout text
# and JSON, nccl-tests.*; tests.log; system.json; status.tsv: one line per job with its exit status
# and seconds), beside a log of the same name. The archive is rewritten after every job, so a call
# killed at its time limit still returns what finished. NCCL_NVLS_ENABLE=0 throughout
# (moesim-validate forces it too).
#
#   validate/run_matrix.sh GPUS [--part I/N] [--only REGEX] [--skip-build] [--skip-tests] [--skip-runs]
#                               [--skip-bench] [--host-timing] [--iters N] [--warmup N] [--max-bytes SIZE]
#                               [--tests REGEX] [--list] [--budget SECONDS]
#
# --budget S: the whole call must end within S seconds of its start (a device command's limit): each
# job's timeout is cut to what is left (less 15 s to pack the archive), and no job starts with less
# than 20 s left (those are recorded as status 124 "no time").
# --iters and --warmup (default 5 and 2) are the schedule runs'. --list prints the names of the
# jobs this call would run (after --part and --only), one a line, and exits: no GPU needed.
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
# A job that fails (nccl-tests' build, say) is recorded and the next one runs.
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
part=1 parts=1 only='' test_regex='' build=1 tests=1 runs=1 bench=1 host_timing=0 iters=5 warmup=2 max_bytes=256M
list=0 budget=0
start_epoch=$(date +%s)
while [ $# -gt 0 ]; do
  case $1 in
    --part) IFS=/ read -r part parts <<<"$2"; shift ;;
    --only) only=$2; shift ;;
    --tests) test_regex=$2; shift ;;
    --skip-build) build=0 ;;
    --skip-tests) tests=0 ;;
    --skip-runs) runs=0 ;;
    --skip-bench) bench=0 ;;
    --host-timing) host_timing=1 ;;
    --list) list=1 ;;
    --iters) iters=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --max-bytes) max_bytes=$2; shift ;;
    --budget) budget=$2; shift ;;
    *) usage ;;
  esac
  shift
done
[[ $part =~ ^[0-9]+$ && $parts =~ ^[0-9]+$ && $part -ge 1 && $part -le $parts ]] || usage

schedule_name() { local n; n=$(basename "$1"); n=${n%.gz}; echo "${n%.json}"; }

[ -f validate/run_matrix.sh ] || { echo "run from the repository root" >&2; exit 2; }
# The jobs, in a fixed order: name, then the command (eval'd once the machine is set up).
[ "$gpus" = 1 ] && p2p_modes=on || p2p_modes='on off'
shopt -s nullglob
schedules=(validate/matrix/"${gpus}"gpu/*.json validate/matrix/"${gpus}"gpu/*.json.gz)
calibration=()
for ((k = gpus; k >= 1; k--)); do # this GPU count's shapes first
  calibration+=(validate/matrix/"${k}"gpu-calibration/*.json validate/matrix/"${k}"gpu-calibration/*.json.gz)
done
shopt -u nullglob
jobs=()
add_job() { jobs+=("$1"$'\t'"$2"); }
if [ $bench = 1 ]; then
  [ ${#calibration[@]} -gt 0 ] && add_job bench.kernels run_kernel_bench
  add_job bench.host run_host_bench
  groups=$gpus # and every power of two below it, down to 2: the TP and EP groups of hybrid plans
  for ((g = 2; g < gpus; g *= 2)); do groups="$groups $g"; done
  for p2p in $p2p_modes; do
    for g in $groups; do
      [ "$g" -ge 2 ] || continue
      sfx=''; [ "$g" = "$gpus" ] || sfx=.g$g
      for op in all_reduce all_gather reduce_scatter all_to_all sendrecv; do
        add_job "bench.$op$sfx.p2p-$p2p" "run_bench $op $p2p events $g"
        [ $host_timing = 0 ] || add_job "bench.$op$sfx.p2p-$p2p.host" "run_bench $op $p2p host $g"
      done
    done
  done
  add_job nccl-tests run_nccl_tests
fi
if [ $runs = 1 ]; then
  for p2p in $p2p_modes; do
    for f in "${schedules[@]}"; do
      name=$(schedule_name "$f")
      modes=eager
      [[ $name == *_graph ]] && modes="graph eager"
      for mode in $modes; do
        add_job "$name.p2p-$p2p.$mode" "run_schedule '$name' $p2p $mode"
      done
    done
  done
fi
# Whether this call runs job I (1-based) named NAME: --part, then --only.
selected() { [ $((($1 - 1) % parts + 1)) = "$part" ] && { [ -z "$only" ] || [[ $2 =~ $only ]]; }; }
if [ $list = 1 ]; then
  [ $tests = 1 ] && echo gpu-tests
  i=0
  for job in "${jobs[@]}"; do
    i=$((i + 1))
    selected $i "${job%%$'\t'*}" && echo "${job%%$'\t'*}"
  done
  exit 0
fi

root=$(pwd)
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

# Seconds a job may take: 540, or less under --budget.
job_limit() {
  local left=540
  if [ "$budget" -gt 0 ]; then
    left=$((budget - ($(date +%s) - start_epoch) - 15))
    [ $left -gt 540 ] && left=540
  fi
  echo $left
}

# The archive, rewritten whole (through a temporary name, so that a kill never leaves half a file).
archive() {
  cp "$log" "$res/" 2>/dev/null || true
  tar -czf "$out/$tag.tar.gz.tmp" -C "$work" "$tag" && mv -f "$out/$tag.tar.gz.tmp" "$out/$tag.tar.gz"
}

build_dir="build-gpu"
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
[ -x "$exe" ] || { echo "no $exe: build first"; archive; exit 1; }
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
  archive
fi

# with_p2p on|off COMMAND...: runs COMMAND with P2P as NCCL defaults it, or with NCCL_P2P_DISABLE=1.
# shellcheck disable=SC2317 # called through eval
with_p2p() {
  local p2p=$1
  shift
  if [ "$p2p" = off ]; then NCCL_P2P_DISABLE=1 "$@"; else env -u NCCL_P2P_DISABLE "$@"; fi
}

# shellcheck disable=SC2317 # called through eval
run_kernel_bench() {
  local cal=() f json
  mkdir -p "$work/calibration"
  for f in "${calibration[@]}"; do
    json=$work/calibration/$(basename "$(dirname "$f")")-$(schedule_name "$f").json
    if [[ $f == *.gz ]]; then gzip -dc "$f" >"$json"; else cp "$f" "$json"; fi
    cal+=("$json")
  done
  # One shard per GPU, in parallel (every GPU times its own share of the executors); on a machine
  # with fewer GPUs than GPUS (the kernel bench needs only one), one per GPU it has.
  local k pids=() st=0 shards
  shards=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
  [ "$shards" -ge 1 ] && [ "$shards" -le "$gpus" ] || shards=$gpus
  for ((k = 1; k <= shards; k++)); do
    CUDA_VISIBLE_DEVICES=$((k - 1)) timeout "$(job_limit)" "$exe" bench-kernels --shard "$k/$shards" \
      --json "$res/bench/kernels.$k.json" --iters 7 --warmup 2 "${cal[@]}" >"$res/bench/kernels.$k.txt" 2>&1 &
    pids+=($!)
  done
  # The SM clocks while it runs (a GPU that idles between bursts would time them slow).
  nvidia-smi --query-gpu=index,clocks.sm,clocks.mem,power.draw --format=csv -lms 500 >"$res/bench/kernels.clocks.csv" 2>&1 &
  local smi=$!
  for k in "${pids[@]}"; do wait "$k" || st=1; done
  kill "$smi" 2>/dev/null
  return $st
}

# shellcheck disable=SC2317 # called through eval
run_host_bench() {
  timeout "$(job_limit)" "$exe" bench-host -g "$gpus" --json "$res/bench/host.json" >"$res/bench/host.txt" 2>&1
}

# shellcheck disable=SC2317 # called through eval
run_schedule() { # name p2p mode
  local name=$1 p2p=$2 mode=$3 flag=''
  [ "$mode" = graph ] && flag=--graph
  with_p2p "$p2p" timeout "$(job_limit)" "$exe" run "$work/schedules/$name.json" ${flag:+"$flag"} --iters "$iters" \
    --warmup "$warmup" --out "$res/runs/$name.p2p-$p2p.$mode.json" >"$res/runs/$name.p2p-$p2p.$mode.txt" 2>&1
}

# shellcheck disable=SC2317 # called through eval
run_bench() { # op p2p timing group
  local file=$1 g=${4:-$gpus}
  [ "$g" = "$gpus" ] || file=$file.g$g
  file=$file.p2p-$2
  [ "$3" = host ] && file=$file.host
  with_p2p "$2" timeout "$(job_limit)" "$exe" bench-collectives --op "$1" -b 1K -e "$max_bytes" -f 2 -g "$g" \
    --timing "$3" --json "$res/bench/$file.json" >"$res/bench/$file.txt" 2>&1
}

# nccl-tests' all_reduce_perf and alltoall_perf, built against the NCCL moesim-validate links
# (build-gpu's CMake cache), in .nccl-tests/build. src/Makefile takes NCCL_HOME (adds
# NCCL_HOME/include and NCCL_HOME/lib), CUDA_HOME, MPI and NVCC_GENCODE; the library's own folder
# goes on LIBRARY_PATH and LD_LIBRARY_PATH, since on Debian-like images it is not NCCL_HOME/lib.
# shellcheck disable=SC2317 # called through eval
run_nccl_tests() {
  if [ ! -d .nccl-tests/src ]; then
    echo "nccl-tests: no .nccl-tests here (carry NVIDIA's nccl-tests source as .nccl-tests): skipped"
    return 0
  fi
  local inc lib bin=$root/.nccl-tests/build st=0 op name
  inc=$(sed -n 's/^MOESIM_NCCL_INCLUDE:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null)
  lib=$(sed -n 's/^MOESIM_NCCL_LIB:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null)
  [ -n "$inc" ] || inc=/usr/include
  [ -n "$lib" ] || lib=$(ls /usr/lib/x86_64-linux-gnu/libnccl.so /usr/local/cuda/lib*/libnccl.so 2>/dev/null | head -1)
  if [ ! -f "$inc/nccl.h" ] || [[ $inc != */include ]]; then
    echo "nccl-tests: no nccl.h in '$inc' (MOESIM_NCCL_INCLUDE): skipped"
    return 1
  fi
  local -x LIBRARY_PATH=${lib%/*}${LIBRARY_PATH:+:$LIBRARY_PATH}
  local -x LD_LIBRARY_PATH=${lib%/*}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  timeout 400 make -C .nccl-tests/src -j16 MPI=0 CUDA_HOME=/usr/local/cuda NCCL_HOME="${inc%/include}" \
    NVCC_GENCODE="-gencode=arch=compute_90,code=sm_90" BUILDDIR="$bin" "$bin/all_reduce_perf" "$bin/alltoall_perf" \
    >"$res/bench/nccl-tests.build.log" 2>&1 || { tail -20 "$res/bench/nccl-tests.build.log"; return 1; }
  for op in all_reduce alltoall; do
    name=$res/bench/nccl-tests.$op
    timeout 240 "$bin/${op}_perf" -b 8 -e 256M -f 2 -g "$gpus" >"$name.txt" 2>&1 || st=1
    # -J FILE.json: nccl-tests' JSON report (src/common.cu), in versions that have it.
    if grep -q '"output_file"' .nccl-tests/src/common.cu; then
      rm -f "$name.json" # it writes FILE.json.0 rather than overwrite
      timeout 240 "$bin/${op}_perf" -b 8 -e 256M -f 2 -g "$gpus" -J "$name.json" >"$name.json.log" 2>&1 || st=1
    else
      echo "nccl-tests: this version has no -J (JSON output): text logs only"
    fi
  done
  return "$st"
}

decompressed=()
for f in "${schedules[@]}"; do
  json=$work/schedules/$(schedule_name "$f").json
  if [[ $f == *.gz ]]; then gzip -dc "$f" >"$json"; else cp "$f" "$json"; fi
  decompressed+=("$json")
done

echo "== ${#jobs[@]} jobs; this call runs part $part of $parts${only:+, matching '$only'}"
archive
i=0
for job in "${jobs[@]}"; do
  i=$((i + 1))
  name=${job%%$'\t'*}
  cmd=${job#*$'\t'}
  selected $i "$name" || continue
  if [ "$(job_limit)" -lt 20 ]; then
    printf '%s\t124\t0\n' "$name" >>"$res/status.tsv"
    printf '%-60s not started: no time left (--budget)\n' "$name"
    failed=1
    continue
  fi
  SECONDS=0
  eval "$cmd"
  st=$?
  printf '%s\t%d\t%d\n' "$name" $st $SECONDS >>"$res/status.tsv"
  printf '%-60s status %d, %ds\n' "$name" $st $SECONDS
  [ $st = 0 ] || failed=1
  archive
done

archive
rm -rf "$work"
echo "== wrote $out/$tag.tar.gz ($(du -h "$out/$tag.tar.gz" | cut -f1)); failed=$failed"
exit $failed
