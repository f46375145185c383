# SPDX-License-Identifier: MIT
# Sourced by run.sh and server.sh: which conformance package a suite name means, checked
# against its pin. Needs ROOT, and a die function; sets SUITE (normalised), PKGROOT, PKG, CLI,
# NODE, OUT_SUFFIX ("" or "-next") and installed (the version).
#   conformance_suite stable|next
conformance_suite() {
  NODE="$ROOT/test/interop/node_modules/.bin/node"
  case "$1" in
    stable|default|0.1.16) SUITE=stable; PKGROOT="$ROOT/test/interop"; OUT_SUFFIX="" ;;
    next|alpha) SUITE=next; PKGROOT="$ROOT/test/conformance/next"; OUT_SUFFIX="-next" ;;
    *) die "unknown suite '$1' (stable|next)" ;;
  esac
  PKG="$PKGROOT/node_modules/@modelcontextprotocol/conformance"
  CLI="$PKG/dist/index.js"
  local rel=${PKGROOT#"$ROOT"/}
  [ -x "$NODE" ] || die "no $NODE; run: npm ci --prefix test/interop"
  [ -f "$CLI" ] || die "no $CLI; run: npm ci --prefix $rel"
  # The installed suite must be the version package.json pins.
  local pinned
  pinned=$("$NODE" -e 'const p=require(process.argv[1]);process.stdout.write(p.dependencies["@modelcontextprotocol/conformance"]||"")' "$PKGROOT/package.json")
  installed=$("$NODE" -e 'process.stdout.write(require(process.argv[1]).version)' "$PKG/package.json")
  [ -n "$pinned" ] || die "@modelcontextprotocol/conformance is not pinned in $PKGROOT/package.json"
  [ "$pinned" = "$installed" ] || die "installed conformance $installed != pinned $pinned; run: npm ci --prefix $rel"
}

# Both runners run one scenario at a time, and never beside each other (sse-retry measures
# timing; the server runs share a port range and the machine): one lock for all of them.
conformance_lock() {
  exec 9>"${TMPDIR:-/tmp}/mcp-cpp-conformance.lock"
  if command -v flock >/dev/null; then
    flock -w 600 9 || die "another conformance run holds the lock for more than 10 minutes"
  fi
}

# Takes --suite out of the arguments: sets SUITE (default stable) and args (the rest).
# -h/--help prints lines $HELP_LINES (sed range) of the calling script.
conformance_args() {
  SUITE=stable
  args=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --suite) [ $# -ge 2 ] || die "--suite needs stable|next"; SUITE=$2; shift 2 ;;
      --suite=*) SUITE=${1#--suite=}; shift ;;
      -h|--help) sed -n "${HELP_LINES}p" "$0"; exit 0 ;;
      *) args+=("$1"); shift ;;
    esac
  done
}
