#!/usr/bin/env bash
# mcpc's manual page and bash completion (cli/mcpc.1, cli/mcpc.bash-completion):
#  - the page renders without a warning (groff -ww; man --warnings too when man is there);
#  - every option and command of `mcpc --help` is in the page, and every option in the completion;
#  - the completion script sources in a plain bash and completes options, commands, option
#    values (eras, protocol revisions asked of mcpc itself) and the server names of --config.
#   test_mcpc_docs.sh MCPC MAN_PAGE COMPLETION
set -uo pipefail
mcpc=$1 page=$2 completion=$3
fails=0 passes=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
check() {  # check DESCRIPTION COMMAND...: passes when COMMAND succeeds
  local what=$1
  shift
  if "$@"; then passes=$((passes + 1)); else fails=$((fails + 1)); echo "FAIL: $what"; fi
}

# --- the manual page
export LC_ALL=C.UTF-8
groff -man -ww -z -Tutf8 "$page" 2>"$work/groff.err"
check "groff -man -ww renders mcpc.1 with no warning: $(cat "$work/groff.err")" \
  test $? -eq 0 -a ! -s "$work/groff.err"
if command -v man >/dev/null 2>&1; then
  MANWIDTH=80 man --warnings -l "$page" >"$work/page.txt" 2>"$work/man.err"
  check "man --warnings -l mcpc.1 with no warning: $(cat "$work/man.err")" test $? -eq 0 -a ! -s "$work/man.err"
else
  groff -man -Tutf8 "$page" >"$work/page.txt" 2>/dev/null
fi
"$mcpc" --help >"$work/help.txt"
check "mcpc --help succeeds" test $? -eq 0
options=$(grep -o -- '--[a-z][a-z-]*' "$work/help.txt" | sort -u)
check "mcpc --help lists options" test "$(echo "$options" | wc -l)" -ge 30
# The rendered page hyphenates nothing inside an option name (groff's \- is kept whole).
rendered=$(tr -d '\n' <"$work/page.txt" | sed 's/‐ *//g')
for o in $options -h -v; do
  check "the man page has $o" grep -q -- "$o" <<<"$rendered"
done
# Each option, typed in full, completes to itself.
missing=$(bash --norc --noprofile -c '
  source "$1"; shift
  for o in "$@"; do
    COMP_WORDS=(mcpc "$o"); COMP_CWORD=1; COMPREPLY=()
    _mcpc
    printf "%s\n" "${COMPREPLY[@]}" | grep -qx -- "$o" || echo "$o"
  done' _ "$completion" $options -h -v 2>&1)
check "the completion offers every option of --help (missing: $missing)" test -z "$missing"
for c in tools call info resources read prompts prompt complete; do
  check "the man page has the command $c" grep -Eq "^ +$c( |$)" "$work/page.txt"
done
for section in SYNOPSIS DESCRIPTION COMMANDS OPTIONS "EXIT STATUS" ENVIRONMENT FILES EXAMPLES; do
  check "the man page has $section" grep -q "^$section" "$work/page.txt"
done

# --- the bash completion, in a bash without bash-completion's helpers
# complete WORD... : what _mcpc offers for the last word (the words before it typed in full).
complete_words() {
  bash --norc --noprofile -c '
    source "$1" || exit 1
    shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _mcpc
    printf "%s\n" "${COMPREPLY[@]}"' _ "$completion" "$@" 2>"$work/bash.err"
}
expect_completion() {  # expect_completion "WANTED (one per line, sorted)" WORD...
  local want=$1
  shift
  local got
  got=$(complete_words "$@" | sed '/^$/d' | sort)
  if [ "$got" = "$want" ] && [ ! -s "$work/bash.err" ]; then
    passes=$((passes + 1))
  else
    fails=$((fails + 1))
    echo "FAIL: completing '$*': got [$got], wanted [$want]; stderr: $(cat "$work/bash.err")"
  fi
}
check "the completion script sources and registers _mcpc" \
  bash --norc --noprofile -c 'source "$1" && complete -p mcpc | grep -q _mcpc' _ "$completion"
cat >"$work/servers.json" <<'EOF'
{"mcpServers": {"math": {"command": "true"}, "files": {"url": "http://127.0.0.1:9/mcp"}}}
EOF
expect_completion "--config" "$mcpc" --conf
expect_completion "$(printf '%s\n' --oauth-client-credentials --oauth-client-id --oauth-client-metadata-url --oauth-client-secret)" \
  "$mcpc" --oauth-client
expect_completion "$(printf '%s\n' call complete)" "$mcpc" --config "$work/servers.json" c
expect_completion "$(printf '%s\n' files math)" "$mcpc" --config "$work/servers.json" call ""
expect_completion "math" "$mcpc" --config="$work/servers.json" --json info m
expect_completion "$(printf '%s\n' prompt resource)" "$mcpc" --config "$work/servers.json" complete math ""
expect_completion "" "$mcpc" --config "$work/servers.json" call math ""
expect_completion "$(printf '%s\n' prompt resource)" "$mcpc" --stdio "x y" complete ""
expect_completion "$(printf '%s\n' legacy)" "$mcpc" --era l
expect_completion "$(printf '%s\n' modern)" "$mcpc" --era=m
expect_completion "$(printf '%s\n' modern)" "$mcpc" --era = m  # as bash splits --era=m
expect_completion "$(printf '%s\n' auto legacy modern)" "$mcpc" --era =
expect_completion "$(printf '%s\n' files math)" "$mcpc" --config = "$work/servers.json" info ""
expect_completion "2026-07-28" "$mcpc" --url http://127.0.0.1:9 --protocol-version 2026
expect_completion "$work/servers.json" "$mcpc" --config "$work/serv"
expect_completion "" "$mcpc" --config "$work/missing.json" call ""

echo "mcpc docs: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
