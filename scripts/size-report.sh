#!/usr/bin/env bash
# Measures the shipped ratewise_bg.wasm (the `fetch` feature alone, as scripts/build.sh builds it) for each rustc opt-level and wasm-opt setting,
# raw and gzipped, and prints one table. (The release profile uses the
# smallest; this script is how that choice was made and can be re-checked.)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
# One target dir per opt-level, kept under cargo's own (CARGO_TARGET_DIR is
# honoured), so a rerun rebuilds only what changed.
builds="$(scripts/target-dir.sh)/size-report"
printf '| rustc opt-level | wasm-opt | raw bytes | gzip -9 bytes |\n|---|---|---|---|\n'
for level in z s 3; do
  CARGO_PROFILE_RELEASE_OPT_LEVEL=$level cargo build --quiet --target wasm32-unknown-unknown --release \
    --no-default-features --features fetch --target-dir "$builds/opt-$level"
  wasm-bindgen --target web --out-dir "$out/$level" "$builds/opt-$level/wasm32-unknown-unknown/release/ratewise.wasm"
  for flags in none -Oz -O3; do
    f="$out/$level/ratewise_bg.wasm"
    if [[ $flags != none ]]; then
      node_modules/binaryen/bin/wasm-opt "$flags" --enable-bulk-memory --enable-nontrapping-float-to-int \
        --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue "$f" -o "$out/$level/opt.wasm"
      f="$out/$level/opt.wasm"
    fi
    printf '| %s | %s | %d | %d |\n' "$level" "$flags" "$(wc -c < "$f")" "$(gzip -9 -c "$f" | wc -c)"
  done
done
rm -rf "$out"
