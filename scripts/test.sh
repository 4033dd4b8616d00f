#!/usr/bin/env bash
# Sets everything up and runs every test tier:
#   1. native cargo test (the pure core: classifier, parsers, backoff, engine)
#   2. wasm-bindgen-test in Node, 3. wasm-bindgen-test in headless Chromium
#   4. the packed npm tarball in Node, 5. in workerd, 6. in Chromium via playwright,
#   7. bundled by Vite in Chromium, 8. in Deno, 9. in Bun, 10. the mock API's own tests,
#   11. the demo: its simulation logic in Node, then the page in Chromium
# A tier that cannot run fails the whole run; none is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
./scripts/setup.sh --browser

tier() { printf '\n==== tier %s\n' "$*"; }

tier "1/11 native: cargo test (pure Rust core)"
cargo test --all-targets

tier "package build"
./scripts/build.sh

# The wasm-bindgen tests fetch from the mock API; start it first.
mock_log=$(mktemp)
node tests/mock/server.mjs --port 0 --quiet > "$mock_log" &
mock_pid=$!
trap 'kill $mock_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening "$mock_log" && break; sleep 0.1; done
export RATEWISE_MOCK_URL=$(sed -n 's/.*listening on //p' "$mock_log")
[[ -n $RATEWISE_MOCK_URL ]] || { echo "mock API did not start" >&2; exit 1; }
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner

tier "2/11 wasm-bindgen-test in Node $(node --version)"
cargo test --target wasm32-unknown-unknown --test node

tier "3/11 wasm-bindgen-test in headless $(chromium --version)"
# The runner serves the test page and playwright-core drives Chromium (tests/js/run-wasm-browser.mjs):
# The runner's file server stalls on concurrent requests (the CI run hung here twice): a proxy serialises them.
timeout 300 node tests/js/run-wasm-browser.mjs

kill $mock_pid 2>/dev/null || true

tier "npm pack + install into tests/js (as a user would)"
./scripts/pack.sh

tier "4/11 package in Node"
node --test tests/js/node.test.mjs tests/js/defects.test.mjs tests/js/invocation.test.mjs tests/js/coordinator.test.mjs tests/js/readme.test.mjs tests/js/contract.test.mjs tests/js/hardening.test.mjs tests/js/fuzz-options.test.mjs tests/js/load.test.mjs
node --test tests/js/telemetry.test.mjs tests/js/health.test.mjs
node --test tests/js/telemetry-usage.test.mjs tests/js/telemetry-budgets.test.mjs
node --test tests/js/usage.test.mjs tests/js/budgets.test.mjs
# Which wasm module each entry loads (the coordinator's only on first use).
node --test tests/js/entries.test.mjs
echo "# TypeScript: index.d.ts against tests/js/types.test.ts"
# A plain command, so set -e stops the run on a type error (behind && it did not).
node_modules/.bin/tsc -p tests/js
echo "types: 1 passed, 0 failed"

tier "4/11 package in Node: the Redis coordinator against a real redis-server ($(redis-server --version | cut -d' ' -f3))"
node --test tests/js/redis.test.mjs tests/js/redis-multi.test.mjs
node --test tests/js/budget-redis.test.mjs

tier "5/11 package in workerd"
node tests/js/run-workerd.mjs
node --test tests/js/example-worker.test.mjs tests/js/coordinator-workerd.test.mjs
node --test tests/js/budget-workerd.test.mjs
node --test tests/js/budget-fetch-workerd.test.mjs
node --test tests/js/telemetry-workerd.test.mjs

tier "6/11 package in Chromium (playwright-core)"
node tests/js/run-browser.mjs

tier "7/11 package bundled by Vite, in Chromium"
node tests/js/run-vite.mjs

tier "8/11 package in Deno"
node tests/js/run-runtime.mjs deno
node tests/js/run-redis-runtime.mjs deno

tier "9/11 package in Bun"
node tests/js/run-runtime.mjs bun
node tests/js/run-redis-runtime.mjs bun

tier "10/11 mock LLM API self-test"
node --test tests/mock/server.test.mjs

tier "11/11 demo: simulation logic in Node (www/simulation.js), the page in Chromium"
node --test tests/demo/

printf '\nall tiers passed in %d s\ntiers: 11 passed, 0 failed\n' "$(( $(date +%s) - started ))"
