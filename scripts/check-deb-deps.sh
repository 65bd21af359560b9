#!/bin/bash
# Checks that the Debian packages CPack makes are honest: every shared library that a packaged ELF
# file needs (readelf -d, NEEDED) is either in the package itself or covered by a package that its
# Depends names. A library counts as covered when
#   - a Debian package installed here owns it (dpkg -S) and Depends names that package, or
#   - the build's table of libraries outside Debian (BUILD/deb-provides.txt, soname=package, written by
#     cmake/install.cmake: the CUDA and NCCL runtimes) maps it to a package that Depends names.
# The simulator package (moesim) must also name none of the table's packages: it needs no CUDA.
#
#   scripts/check-deb-deps.sh BUILD              cpack -G DEB from BUILD into a temporary folder, then check
#   scripts/check-deb-deps.sh --debs PROVIDES DEB...   check these packages against that table
#   scripts/check-deb-deps.sh --self-test BINARY a package holding BINARY and depending on libc6 only
#                                                must be refused, naming a library BINARY needs
# Exit 0: honest (self-test: refused as it must be); 1: a library is not covered; 2: bad usage.
set -euo pipefail

usage() {
  echo "usage: $0 BUILD | --debs PROVIDES DEB... | --self-test BINARY" >&2
  exit 2
}

# Package names that a Depends field names: "a (>= 1), b | c" -> a b c, one a line.
depends_names() {
  tr ',|' '\n\n' <<<"$1" | sed -e 's/(.*)//' -e 's/:.*//' -e 's/[[:space:]]//g' | sed '/^$/d'
}

# The packages installed here that own a file named like the soname (any folder).
owners() {
  dpkg -S "*/$1" 2>/dev/null | sed 's/: .*//' | tr ',' '\n' | sed -e 's/:.*//' -e 's/[[:space:]]//g' | sed '/^$/d' | sort -u
}

# The names a Depends may use for the owners of a soname: each owner and the virtual packages it
# Provides. Debian's shlibs files name virtual ones: bookworm's libboost-regex1.74.0 owns
# libboost_regex.so.1.74.0, but its shlibs (and so dpkg-shlibdeps) names libboost-regex1.74.0-icu72,
# which it Provides.
owner_names() {
  local o
  for o in $(owners "$1"); do
    echo "$o"
    depends_names "$(dpkg-query -W -f='${Provides}' "$o" 2>/dev/null || true)"
  done | sort -u
}

check_debs() {
  local provides=$1
  shift
  local bad=0 deb
  for deb in "$@"; do
    local pkg deps tmp
    pkg=$(dpkg-deb -f "$deb" Package)
    deps=$(depends_names "$(dpkg-deb -f "$deb" Depends 2>/dev/null || true)")
    tmp=$(mktemp -d)
    dpkg-deb -x "$deb" "$tmp"
    if [ "$pkg" = moesim ]; then
      local p
      for p in $(sed -n 's/^[^=]*=//p' "$provides" | sort -u); do
        if grep -qx "$p" <<<"$deps"; then
          echo "$pkg: depends on $p, but the simulator package must need no CUDA" >&2
          bad=1
        fi
      done
    fi
    local own f lib
    own=$(find "$tmp" \( -type f -o -type l \) -printf '%f\n' | sort -u)
    while IFS= read -r f; do
      readelf -h "$f" >/dev/null 2>&1 || continue
      for lib in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        if grep -qxF "$lib" <<<"$own"; then
          continue
        fi
        local via
        via=$(sed -n "s/^$(sed 's/[.]/[.]/g' <<<"$lib")=//p" "$provides")
        if [ -n "$via" ] && grep -qx "$via" <<<"$deps"; then
          continue
        fi
        local o covered=0
        for o in $(owner_names "$lib"); do
          if grep -qx "$o" <<<"$deps"; then
            covered=1
            break
          fi
        done
        if [ "$covered" = 0 ]; then
          echo "$pkg: ${f#"$tmp"} needs $lib, which neither the package nor its Depends covers" \
            "(owned here by, or provided by an owner: $(owner_names "$lib" | tr '\n' ' ')${via:+table: $via}; Depends: $(tr '\n' ' ' <<<"$deps"))" >&2
          bad=1
        fi
      done
    done < <(find "$tmp" -type f | sort)
    rm -rf "$tmp"
    [ "$bad" = 0 ] && echo "$pkg: every needed library is covered ($(basename "$deb"); Depends: $(dpkg-deb -f "$deb" Depends))"
  done
  return "$bad"
}

case "${1:-}" in
  --debs)
    [ $# -ge 3 ] || usage
    provides=$2
    shift 2
    check_debs "$provides" "$@"
    ;;
  --self-test)
    [ $# -eq 2 ] || usage
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/pkg/DEBIAN" "$work/pkg/usr/bin"
    cp "$2" "$work/pkg/usr/bin/"
    printf 'Package: selftest\nVersion: 1\nArchitecture: all\nMaintainer: t <t@localhost>\nDepends: libc6\nDescription: t\n' \
      >"$work/pkg/DEBIAN/control"
    dpkg-deb --build "$work/pkg" "$work/selftest.deb" >/dev/null
    : >"$work/provides.txt"
    if check_debs "$work/provides.txt" "$work/selftest.deb" 2>"$work/err"; then
      echo "self-test: a package depending on libc6 alone was passed, though $(basename "$2") needs more" >&2
      exit 1
    fi
    grep -q "needs lib" "$work/err" || { cat "$work/err" >&2; exit 1; }
    echo "self-test: refused as it must be: $(head -1 "$work/err")"
    ;;
  -*)
    usage
    ;;
  *)
    [ $# -eq 1 ] && [ -f "$1/CPackConfig.cmake" ] || usage
    build=$(cd "$1" && pwd)
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1) ||
      { cat "$work/cpack.log" >&2; exit 1; }
    shopt -s nullglob
    debs=("$work"/out/*.deb)
    [ ${#debs[@]} -gt 0 ] || { echo "cpack made no .deb" >&2; cat "$work/cpack.log" >&2; exit 1; }
    check_debs "$build/deb-provides.txt" "${debs[@]}"
    ;;
esac
