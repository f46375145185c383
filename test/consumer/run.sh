#!/usr/bin/env bash
# Proves the three ways other projects consume libmcp:
#  1. as a meson subproject (meson.override_dependency('mcp', ...)), built from this checkout;
#  2. installed (meson install) and found through its pkg-config file;
#  3. installed and found by CMake through its config package (test/consumer/cmake: a server on
#     mcp::server, a ClientPool client on mcp::mcp + mcp::pool and a coroutine client on mcp::asio
#     (asio::use_awaitable), each client calling the server).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
server="$root/build/test/fixtures/fault_server"
[ -x "$server" ] || { echo "consumer: build the project first (missing $server)"; exit 1; }

cp "$root/test/consumer/meson.build" "$root/test/consumer/meson_options.txt" "$root/test/consumer/main.cpp" "$work/"
mkdir -p "$work/subprojects"
ln -s "$root" "$work/subprojects/mcp-cpp"
meson setup "$work/build" "$work" --wrap-mode=nodownload -Dunity=on -Dserver="$server" >/dev/null
# Only what the consumer links (libmcp), not the subproject's other libraries.
ninja -C "$work/build" consumer >/dev/null
meson test -C "$work/build" --print-errorlogs --no-rebuild
echo "consumer: subproject build OK"

meson install -C "$root/build" --destdir "$work/stage" --quiet >/dev/null
prefix=$(meson introspect "$root/build" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
libdir=$(meson introspect "$root/build" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"][0])')
pcdir="$work/stage$prefix/$libdir/pkgconfig"
[ -f "$pcdir/mcp.pc" ] || { echo "consumer: no mcp.pc installed under $pcdir"; exit 1; }
flags=$(PKG_CONFIG_SYSROOT_DIR="$work/stage" PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs mcp)
g++ -std=c++20 "$root/test/consumer/main.cpp" $flags -Wl,-rpath,"$work/stage$prefix/$libdir" -o "$work/installed-consumer"
"$work/installed-consumer" "$server"
echo "consumer: installed pkg-config build OK"

cmakedir="$work/stage$prefix/$libdir/cmake/mcp"
[ -f "$cmakedir/mcpConfig.cmake" ] && [ -f "$cmakedir/mcpConfigVersion.cmake" ] ||
  { echo "consumer: no mcpConfig.cmake / mcpConfigVersion.cmake installed under $cmakedir"; exit 1; }
cmake -S "$root/test/consumer/cmake" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$work/stage$prefix" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/cmake-build" -j2 >/dev/null
# The server's libmcp-server.so needs libmcp.so: a runpath is not inherited by what a library
# loads, so the staged prefix (not in the loader's path) is named for the run.
LD_LIBRARY_PATH="$work/stage$prefix/$libdir" "$work/cmake-build/consumer_client" "$work/cmake-build/consumer_server"
LD_LIBRARY_PATH="$work/stage$prefix/$libdir" "$work/cmake-build/consumer_async_client" "$work/cmake-build/consumer_server"
echo "consumer: installed CMake package build OK"
