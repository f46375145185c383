#!/usr/bin/env bash
# The main job: set up, build, and run mcpc against the bundled demo servers
# (two instances of examples/demo_server, a server built on this SDK's libmcp-server).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --no-npm
set -x
build/cli/mcpc --config build/examples/demo.json tools
build/cli/mcpc --config build/examples/demo.json call math add --args '{"a": 2, "b": 3}'
build/cli/mcpc --config build/examples/demo.json call text word_count --args '{"text": "one two three"}' --json
