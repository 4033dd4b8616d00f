#!/usr/bin/env bash
# Sets everything up, builds the package and serves the demo page together with
# the mock LLM API on http://127.0.0.1:${PORT:-8787}/ until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
port=${PORT:-8787}
echo "demo: open http://127.0.0.1:$port/ (mock LLM API on the same origin: /v1/chat/completions, /__mock/stats)"
exec node tests/mock/server.mjs --port "$port" --static www --mount /pkg/=pkg
