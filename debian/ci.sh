#!/usr/bin/env bash
# CI check of the Debian packages: builds them with dpkg-buildpackage in a throwaway copy of the
# tree, runs lintian over them, extracts the .debs into an empty root (dpkg -x) and builds the
# quick starts against ONLY the extracted files: examples/quickstart.cpp through pkg-config
# (mcp.pc, PKG_CONFIG_SYSROOT_DIR) and examples/server_quickstart.cpp through CMake
# (find_package(mcp), CMAKE_PREFIX_PATH); then runs the one against the other, and the packaged
# mcpc against the server.
#   debian/ci.sh             cheap build for CI: DEB_BUILD_OPTIONS="nocheck noopt noddebs
#                            parallel=2", no debug info, unity build (MCP_DEB_UNITY, default 4)
#   debian/ci.sh --release   the build as a user's dpkg-buildpackage makes it (-O2 -g, no unity)
# Needs the Build-Depends of debian/control, lintian and g++ (scripts/setup.sh installs them).
# The copy is built at a fixed path ($MCP_DEB_WORK, default /tmp/mcp-deb: removed first and at
# the end), so that ccache, when present, hits from one run to the next: the build flags carry
# the path (-ffile-prefix-map). Do not run two at once with the same MCP_DEB_WORK.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
release=0
[ "${1:-}" = "--release" ] && release=1
work=${MCP_DEB_WORK:-/tmp/mcp-deb}
started=$SECONDS
phase() { echo "=== deb [$((SECONDS - started)) s] $*"; }

# debian/changelog names the upstream version; meson.build is where the version is written.
version=$(sed -n "s/^ *version: '\([^']*\)',.*/\1/p" "$root/meson.build" | head -1)
deb_version=$(dpkg-parsechangelog -l "$root/debian/changelog" -SVersion)
if [ "${deb_version%-*}" != "$version" ]; then
  echo "deb: debian/changelog is at $deb_version, meson.build at $version: add a changelog entry"
  echo "     (dch -v $version-1 'New upstream release.')"; exit 1
fi

rm -rf "$work"
mkdir -p "$work"
[ "${MCP_DEB_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
src="$work/mcp-cpp-$version"
mkdir "$src"
# The tracked files (and new ones not ignored) as they are in the work tree; no build dirs.
(cd "$root" && git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi; done |
  tar --null -T - -cf -) | tar -C "$src" -xf -

if [ "$release" = 0 ]; then
  export DEB_BUILD_OPTIONS="nocheck noopt noddebs parallel=2"
  export DEB_CXXFLAGS_APPEND="-g0"   # no debug info: less to write, link and strip
  export MCP_DEB_UNITY="${MCP_DEB_UNITY-4}"
fi
# debhelper points HOME elsewhere while it builds: name ccache's own cache so it is found.
if command -v ccache >/dev/null 2>&1; then
  CCACHE_DIR=$(ccache -k cache_dir) && export CCACHE_DIR
  export CCACHE_NOHASHDIR=1
fi
phase "dpkg-buildpackage -us -uc -b (DEB_BUILD_OPTIONS=\"${DEB_BUILD_OPTIONS:-}\" MCP_DEB_UNITY=${MCP_DEB_UNITY:-}); log: $work/build.log"
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
  tail -60 "$work/build.log"; echo "deb: dpkg-buildpackage failed"; exit 1
fi
changes=$(ls "$work"/mcp-cpp_*.changes)
ls "$work"/*.deb | sed "s|^$work/|  |"

phase "lintian"
# debian/README.source explains each tag that remains: initial-upload-closes-no-bugs (no Debian
# bug to close: these packages are not uploaded to Debian) is suppressed, and so is, in the cheap
# build only, hardening-no-fortify-functions (-O0 turns _FORTIFY_SOURCE off).
suppress="--suppress-tags initial-upload-closes-no-bugs"
[ "$release" = 0 ] && suppress="$suppress,hardening-no-fortify-functions"
# shellcheck disable=SC2086
lintian --fail-on error,warning --display-info $suppress "$changes"

phase "extracting the .debs into an empty root"
sys="$work/root"
mkdir "$sys"
for deb in "$work"/*.deb; do dpkg -x "$deb" "$sys"; done
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir="$sys/usr/lib/$multiarch"
for f in usr/bin/mcpc usr/share/man/man1/mcpc.1.gz usr/share/bash-completion/completions/mcpc \
         usr/include/mcp/client.hpp usr/include/mcp/version.hpp usr/include/mcp/redis_token_store.hpp \
         "usr/lib/$multiarch/cmake/mcp/mcpConfig.cmake" "usr/lib/$multiarch/cmake/mcp/mcpConfigVersion.cmake"; do
  [ -e "$sys/$f" ] || { echo "deb: $f is in no package"; exit 1; }
done
for lib in mcp mcp-pool mcp-server mcp-redis; do
  [ -e "$libdir/lib$lib.so.0" ] && [ -e "$libdir/lib$lib.so" ] || { echo "deb: lib$lib.so(.0) missing"; exit 1; }
done

phase "quick start against the extracted packages: pkg-config (client) and CMake (server), in parallel"
check="$work/check"
mkdir -p "$check/cmake"
cp "$root/examples/quickstart.cpp" "$root/examples/server_quickstart.cpp" "$check/"
# pkg-config: the system's .pc directories (nlohmann_json, openssl ...) and the extracted ones,
# every path in them prefixed with the root.
export PKG_CONFIG_SYSROOT_DIR="$sys"
export PKG_CONFIG_LIBDIR="$libdir/pkgconfig:/usr/lib/$multiarch/pkgconfig:/usr/lib/pkgconfig:/usr/share/pkgconfig"
for pc in mcp mcp-pool mcp-server mcp-redis; do
  pkg-config --exists --print-errors "$pc"
  [ "$(pkg-config --variable=libdir "$pc")" = "$libdir" ] || { echo "deb: $pc.pc is not the extracted one"; exit 1; }
done
# shellcheck disable=SC2046
# The extracted root is not in the loader's path: each program carries it as a DT_RPATH
# (--disable-new-dtags), which, unlike a DT_RUNPATH, also serves the libraries' own dependencies
# (libmcp-server.so.0 needs libmcp.so.0), and the servers that the quick start and mcpc spawn
# see none of our environment (LD_LIBRARY_PATH included).
rpath=(-Wl,--disable-new-dtags -Wl,-rpath,"$libdir")
g++ -std=c++20 "$check/quickstart.cpp" $(pkg-config --cflags --libs mcp) "${rpath[@]}" \
  -o "$check/quickstart" 2>"$check/quickstart.log" &
client_pid=$!
cat >"$check/cmake/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.16)
project(deb_check LANGUAGES CXX)
find_package(mcp $version CONFIG REQUIRED)
if(NOT mcp_DIR STREQUAL "$libdir/cmake/mcp")
  message(FATAL_ERROR "found mcp at \${mcp_DIR}, not in the extracted packages")
endif()
add_executable(server_quickstart "$check/server_quickstart.cpp")
target_link_libraries(server_quickstart PRIVATE mcp::server mcp::pool)
target_link_options(server_quickstart PRIVATE -Wl,--disable-new-dtags)
EOF
cmake -S "$check/cmake" -B "$check/cmake-build" -DCMAKE_PREFIX_PATH="$sys/usr" >"$check/cmake.log" 2>&1 &&
  cmake --build "$check/cmake-build" >>"$check/cmake.log" 2>&1 || { cat "$check/cmake.log"; exit 1; }
wait "$client_pid" || { cat "$check/quickstart.log"; exit 1; }
# What the programs link is the extracted libraries (their runpath), not a system copy.
ldd "$check/quickstart" "$check/cmake-build/server_quickstart" | grep -E 'libmcp' |
  grep -v "=> $libdir/" && { echo "deb: a quick start links a libmcp outside the extracted root"; exit 1; }
server="$check/cmake-build/server_quickstart"

phase "running the quick start and the packaged mcpc"
out=$("$check/quickstart" "$server")
[ "$out" = "5.0" ] || { echo "deb: quickstart printed '$out', not 5.0"; exit 1; }
echo "quickstart $server: $out"
mcpc() { LD_LIBRARY_PATH="$libdir" "$sys/usr/bin/mcpc" "$@"; }
help=$(mcpc --help)
[[ "$help" == *--stdio* ]] || { echo "deb: mcpc --help says nothing of --stdio"; exit 1; }
out=$(mcpc --stdio "$server" call add --args '{"a":2,"b":3}')
[ "$out" = "5.0" ] || { echo "deb: mcpc call add printed '$out', not 5.0"; exit 1; }
echo "mcpc --stdio $server call add: $out"

phase "done"
times
