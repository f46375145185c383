#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian 12 machine (Debian packages, and the
# pinned npm packages the interop tests use, Node 22 among them), then configures and builds.
# Idempotent: a second run only rebuilds what changed.
#   scripts/setup.sh [--no-npm]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(g++ meson ninja-build pkg-config libcpp-httplib-dev nlohmann-json3-dev libboost1.81-dev
          libboost-filesystem1.81-dev libexpected-dev doctest-dev libssl-dev
          libhiredis-dev redis-server  # libmcp-redis and its tests (which start their own redis-server)
          groff-base  # groff: the mcpc-docs test renders mcpc.1
          python3-prometheus-client  # the tests parse /metrics scrapes with its parser
          libspdlog-dev)  # examples/logging_spdlog (optional: built only where spdlog is found)
want_npm=1
[ "${1:-}" = "--no-npm" ] && want_npm=0   # the demo needs neither npm nor the fuzzing toolchain
if [ "$want_npm" = 1 ]; then
  packages+=(clang libclang-rt-14-dev)      # the libFuzzer target (test/fuzz)
  packages+=(curl)                          # the stand-in browser of test/cli/test_mcpc_oauth.sh
  packages+=(ca-certificates)               # npm's TLS to the registry
  packages+=(cmake doxygen)                 # test/consumer's CMake build; docs/Doxyfile
  packages+=(debhelper lintian)             # debian/ci.sh: dpkg-buildpackage, lintian
  command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The package starts a system Redis where an init system runs; the tests need none (each
  # starts its own on a loopback port), so stop and disable it when this install added it.
  if [[ " ${missing[*]} " == *" redis-server "* ]]; then
    { $sudo systemctl disable --now redis-server || $sudo service redis-server stop; } >/dev/null 2>&1 || true
  fi
fi

# Reinstalled too when a pin added later is missing (the clients the server's interop tests use).
if [ "$want_npm" = 1 ] && { [ ! -x test/interop/node_modules/.bin/node ] ||
    ! grep -qs '"version": "2.4.0"' test/interop/node_modules/@modelcontextprotocol/client/package.json; }; then
  echo "setup: installing the pinned interop servers and clients (npm ci --prefix test/interop)"
  npm ci --prefix test/interop --no-audit --no-fund --loglevel=error
fi
if [ "$want_npm" = 1 ] && { [ ! -x bench/peers/node_modules/.bin/node ] || [ ! -d bench/peers/node_modules/@mastra/mcp ]; }; then
  # The benchmark's peer clients (TypeScript SDK, Mastra) and its Node server, on the same
  # pinned Node 22 as test/interop.
  echo "setup: installing the pinned benchmark peers (npm ci --prefix bench/peers)"
  npm ci --prefix bench/peers --no-audit --no-fund --loglevel=error
fi
if [ "$want_npm" = 1 ] && [ ! -d test/conformance/next/node_modules ]; then
  echo "setup: installing the pinned 2026-07-28 conformance suite (npm ci --prefix test/conformance/next)"
  npm ci --prefix test/conformance/next --no-audit --no-fund --loglevel=error
fi

if [ ! -f build/build.ninja ]; then
  meson setup build --wrap-mode=nodownload -Dredis=enabled
fi
ninja -C build
