#!/usr/bin/env bash
# Compiles (g++ -fsyntax-only) every ```cpp block of docs/guide/*.md, so the guides' code stays
# true to the headers. A block with `int main` is a whole program and is checked alone; the
# other blocks of a guide are fragments, read in order as the body of one function (a later
# fragment may use what an earlier one declared), in one file that includes every public header. Needs a configured build (for the generated mcp/version.hpp).
#   docs/guide/check_snippets.sh [BUILD_DIR]     (default: build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
[ -f "$build/include/mcp/version.hpp" ] || { echo "check_snippets: no $build/include/mcp/version.hpp (configure first)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(-std=c++20 -fsyntax-only -Wall -Wextra -Werror -Wno-unused -I"$root/include" -I"$build/include")

python3 - "$root/docs/guide" "$work" <<'PY'
import pathlib, re, sys
guide, work = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
headers = sorted(p.name for p in (guide.parent.parent / "include" / "mcp").glob("*.hpp")
                 if p.name not in ("asio.hpp", "server_httplib.hpp"))  # Boost/httplib: own blocks
fragments, n, nfrag = [], 0, 0
for g, md in enumerate(sorted(guide.glob("*.md"))):
    body = ""
    for i, block in enumerate(re.findall(r"```cpp\n(.*?)```", md.read_text(), re.S)):
        n += 1
        where = f"{md.name} block {i + 1}"
        if "int main" in block:
            (work / f"whole_{n}.cpp").write_text(f"// {where}\n{block}")
        else:
            nfrag += 1
            body += f"// {where}\n{block}"
    if body:
        fragments.append(f"[[maybe_unused]] static void guide_{g}() {{\n{body}}}\n")
pre = "".join(f"#include <mcp/{h}>\n" for h in headers) + "#include <iostream>\n#include <thread>\n"
(work / "fragments.cpp").write_text(pre + "\n".join(fragments))
print(f"check_snippets: {n} blocks, {nfrag} of them fragments", file=sys.stderr)
PY
for f in "$work"/*.cpp; do
  # Each block is preceded by a comment naming its guide and number: see the lines above the error.
  g++ "${flags[@]}" "$f" || { echo "check_snippets: a block of docs/guide does not compile (above)"; exit 1; }
done
echo "check_snippets: every block compiles"
