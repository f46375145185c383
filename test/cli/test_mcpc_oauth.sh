#!/usr/bin/env bash
# mcpc --oauth end to end, against the authorization servers of the official conformance suite
# (0.2.0-alpha.12, pinned in test/conformance/next). mcpc is the client under test: on the
# 401 it discovers and registers, prints nothing secret, hands the authorization URL to
# --browser (curl following the authorization server's redirect stands in for the user's
# browser), receives the redirect on its loopback listener, exchanges the code and lists the
# tools. Scenarios where the client must refuse (wrong `iss`) pass when mcpc gives up.
#   test_mcpc_oauth.sh MCPC
set -uo pipefail
mcpc=$(realpath "$1")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NODE="$ROOT/test/interop/node_modules/.bin/node"
CLI="$ROOT/test/conformance/next/node_modules/@modelcontextprotocol/conformance/dist/index.js"
[ -x "$NODE" ] && [ -f "$CLI" ] || { echo "test_mcpc_oauth: run npm ci in test/interop and test/conformance/next"; exit 1; }
command -v curl >/dev/null || { echo "test_mcpc_oauth: needs curl"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The suite runs `--command` through a shell with the server URL appended.
cat >"$work/client.sh" <<WRAP
#!/usr/bin/env bash
exec timeout 20 "$mcpc" --url "\${@: -1}" --oauth --browser "curl -sSL -o /dev/null --max-time 10" --oauth-dpop \
  --token-store "$work/tokens.json" --verbose tools >>"$work/stdout" 2>>"$work/stderr"
WRAP
chmod +x "$work/client.sh"

fails=0 passes=0
for scenario in auth/metadata-default auth/token-endpoint-auth-post auth/scope-from-www-authenticate \
                auth/iss-supported auth/iss-wrong-issuer auth/resource-mismatch auth/dpop-nonce; do
  rm -f "$work/tokens.json"
  log="$work/$(echo "$scenario" | tr / _).log"
  (cd "$work" && timeout 60 "$NODE" "$CLI" client --command "$work/client.sh" --scenario "$scenario" \
    --timeout 30000 >"$log" 2>&1)
  rc=$?
  if [ $rc = 0 ] && grep -q 'OVERALL: PASSED' "$log"; then
    passes=$((passes + 1))
  else
    fails=$((fails + 1))
    echo "FAIL: $scenario (suite exit $rc)"; grep -E 'FAILURE|WARNING|OVERALL' "$log" | head -20
  fi
done
# The file store holds the last scenario's entry with mode 0600 (or nothing if it refused).
if [ -f "$work/tokens.json" ]; then
  mode=$(stat -c %a "$work/tokens.json")
  [ "$mode" = 600 ] || { echo "FAIL: token store mode $mode"; fails=$((fails + 1)); }
fi
# Nothing secret on mcpc's output: no bearer tokens, codes or verifiers.
if grep -Eiq 'test-token|access_token|code_verifier|Bearer [A-Za-z0-9]' "$work/stderr" "$work/stdout" 2>/dev/null; then
  echo "FAIL: a secret reached mcpc's output:"; grep -Ei 'test-token|access_token|code_verifier|Bearer ' "$work/stderr" "$work/stdout" | head
  fails=$((fails + 1))
fi
# The store leaves nothing beside it: no tokens.json.lock once mcpc has exited.
[ -e "$work/tokens.json.lock" ] && { echo "FAIL: the token store left tokens.json.lock"; fails=$((fails + 1)); }
grep -q 'obtained an access token' "$work/stderr" || { echo "FAIL: no token was ever obtained"; fails=$((fails + 1)); }
echo "mcpc oauth: $passes scenarios passed, $fails failures"
[ $fails = 0 ]
