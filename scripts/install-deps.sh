#!/usr/bin/env bash
# Installs the Debian packages moesim builds against. Idempotent: installs only what is missing.
# With --test, also what only the tests need: Chromium (the HTML report is loaded in a real headless
# browser), libpng (to read its screenshot), clang with its libFuzzer runtime (scripts/fuzz.sh), and
# ccache (CI builds twice per run; scripts/setup.sh and sanitize.sh use it when present).
# The default set-up pulls no browser.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libsimgrid-dev libyaml-cpp-dev libboost-graph-dev
      libcli11-dev catch2 nlohmann-json3-dev libvalijson-dev zlib1g-dev)
case "${1:-}" in
  "") ;;
  --test) pkgs+=(chromium libpng-dev clang libclang-rt-14-dev ccache) ;;
  *) echo "usage: scripts/install-deps.sh [--test]" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi
