#!/usr/bin/env bash
# The examples-suite test of logging_spdlog: runs it against demo_server and checks the lines
# its spdlog adapter printed (levels, messages, key=value fields), and that the API key in the
# server's environment appears nowhere.
#   check_logging_spdlog.sh LOGGING_SPDLOG DEMO_SERVER
set -euo pipefail
out=$("$1" "$2")
printf '%s\n' "$out"
expect() {
  grep -Eq -- "$1" <<<"$out" || { echo "FAIL: no line matches: $1" >&2; exit 1; }
}
expect '^\[info\] era detected: modern \(protocol [0-9-]+\) server=demo kind=era_detected era=modern transport=stdio protocol=[0-9-]+ target=.*demo_server$'
expect "^\[info\] connected to .*demo_server over stdio server=demo kind=connected era=modern transport=stdio protocol=[0-9-]+ target=.*demo_server$"
expect '^\[info\] demo_add returned 5$'
expect "^\[info\] disconnected from .*demo_server server=demo kind=disconnected era=modern transport=stdio protocol=[0-9-]+ target=.*demo_server$"
# In that order: era detected, connected, the call, disconnected.
order=$(grep -Eo 'kind=(era_detected|connected|disconnected)|demo_add returned' <<<"$out" | tr '\n' ' ')
[ "$order" = "kind=era_detected kind=connected demo_add returned kind=disconnected " ] || { echo "FAIL: order: $order" >&2; exit 1; }
if grep -q 'sk-live' <<<"$out"; then echo "FAIL: the API key reached the log" >&2; exit 1; fi
echo "logging_spdlog: OK"
