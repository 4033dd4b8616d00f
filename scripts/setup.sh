#!/usr/bin/env bash
# Installs everything the build, the tests and the demo need, idempotently:
# the wasm32 target, wasm-bindgen-cli pinned to Cargo.lock, the npm dev tools,
# and (with --browser) Debian's Chromium and ChromeDriver.
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
[[ "${1:-}" == "--browser" ]] && want_browser=1

step() { printf '\n== setup: %s\n' "$*"; }

# rust-toolchain.toml pins a release by number; a machine whose stable toolchain is that release but
# not installed under that number gets the name linked (rustup cannot fetch toolchains here).
pinned=$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)
if ! rustup toolchain list | grep -q "^$pinned-"; then
  if [[ "$(rustc +stable --version)" == "rustc $pinned "* ]]; then
    # rustup toolchain link refuses release-like names: link the folder as rustup would name it.
    host=$(rustc +stable -vV | sed -n 's/^host: //p')
    step "link toolchain $pinned-$host to the machine's stable toolchain"
    ln -s "$(rustc +stable --print sysroot)" "${RUSTUP_HOME:-$HOME/.rustup}/toolchains/$pinned-$host"
  fi
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# The CLI must match the wasm-bindgen crate exactly, or the generated glue breaks.
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
if [[ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $bindgen_version" ]]; then
  step "cargo install wasm-bindgen-cli $bindgen_version (about two minutes)"
  # No --locked: one of its locked dependencies is missing from the registry.
  cargo install wasm-bindgen-cli --version "$bindgen_version"
fi

# npm ci installs exactly the lock file (which lists every platform's optional
# packages) and never rewrites it; run it only when node_modules is missing or
# older than the lock. (npm ci writes node_modules/.package-lock.json last.)
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json \
      || package.json -nt node_modules/.package-lock.json ]]; then
  step "npm ci (binaryen's wasm-opt, workerd, playwright-core, esbuild, biome, and the clients we test against)"
  npm ci --no-audit --no-fund
fi

if (( want_browser )) && ! command -v chromium >/dev/null; then
  step "apt-get install chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# The Redis coordinator's tier runs a real redis-server (Debian's), started by the tests themselves.
if ! command -v redis-server >/dev/null; then
  step "apt-get install redis-server"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
