#!/usr/bin/env bash
# Prints cargo's target directory for this crate, as cargo itself resolves it
# (CARGO_TARGET_DIR, build.target-dir in a .cargo/config.toml, or ./target).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --no-deps --offline \
  | node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).target_directory))'
