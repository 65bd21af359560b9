#!/usr/bin/env bash
# One command from a fresh Debian bookworm machine: installs what is missing (apt), builds (CMake,
# Release), then runs the default study, or with --test the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-study}
case "$mode" in study | --test) ;; *) echo "usage: scripts/setup.sh [--test]" >&2; exit 2 ;; esac
if [ "$mode" = --test ]; then bash scripts/install-deps.sh --test; else bash scripts/install-deps.sh; fi
jobs=$(nproc)
# ccache when present (install-deps.sh --test brings it): paths under the clone are hashed relative
# to it, so a later fresh clone elsewhere reuses the objects, all but the tests' (they hold the
# clone's path, MOESIM_SOURCE_DIR, and hit only at the same path).
launchers=()
if command -v ccache >/dev/null; then
  launchers=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${launchers[@]}"
cmake --build build -j"$jobs"
if [ "$mode" = --test ]; then
  ctest --test-dir build --output-on-failure -j"$jobs"
else
  ./build/cli/moesim
fi
