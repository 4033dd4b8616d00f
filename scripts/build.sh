#!/usr/bin/env bash
# Builds the npm package into pkg/: cargo (wasm32, release) -> wasm-bindgen
# (--target web) -> wasm-opt (npm binaryen; -Oz after flatten/rereloop) -> pkg-template/ files, the README,
# the licenses and the changelog.
# Prints the .wasm size raw and gzipped.
set -euo pipefail
cd "$(dirname "$0")/.."

# Panic locations name their source files: without the registry's machine-specific prefix
# ($CARGO_HOME/registry/src/index.crates.io-<hash>/) the .wasm is 233 bytes smaller gzipped, and the
# same wherever it is built, so the size gate below measures the same in CI as here.
remap=""
for src in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do remap+=" --remap-path-prefix=$src="; done
RUSTFLAGS="${RUSTFLAGS:-}$remap" cargo build --quiet --target wasm32-unknown-unknown --release
rm -rf pkg
wasm-bindgen --target web --out-dir pkg --out-name ratewise "$(scripts/target-dir.sh)/wasm32-unknown-unknown/release/ratewise.wasm"

# Debian's wasm-opt (108) silently breaks the output: use npm's binaryen only.
wasm_opt=node_modules/binaryen/bin/wasm-opt
"$wasm_opt" --version | grep -q 'version 132' || { echo "expected binaryen 132 at $wasm_opt" >&2; exit 1; }
raw_before=$(wc -c < pkg/ratewise_bg.wasm)
# --flatten --rereloop and a second -Oz: 1.4 KB less gzipped than -Oz alone, no slower
# (bench/classify.mjs, both in one run). --converge repeats the passes while they still shrink the
# module (-0.6 KB gzipped); the producers and target-features sections are for linkers (-0.2 KB).
# A second --flatten --rereloop after the first -Oz: -0.2 KB, classify() no slower (bench/classify.mjs
# against the build without it, in one run: 14.03 against 13.73 µs a full case, 2.20 against 2.26 a status).
"$wasm_opt" --flatten --rereloop -Oz --flatten --rereloop -Oz -Oz --converge --strip-producers --strip-target-features --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  pkg/ratewise_bg.wasm -o pkg/ratewise_bg.wasm

# The glue wasm-bindgen writes, the JS snippets it copies and the package's own modules are minified
# in place, each file on its own (no bundling: every entry must share one copy of the error classes
# and the wasm instance), without source maps: 21.1 -> 12.9 KB gzipped. --keep-names only where
# users and stack traces see the names (the exports, the error classes): elsewhere it wraps every
# function in a naming call (826 bytes gzipped of the snippets).
minify() {
  node_modules/.bin/esbuild "$1" --minify ${2:-} --format=esm --log-level=error --outfile="$1.min"
  mv "$1.min" "$1"
}
cp pkg-template/* pkg/
for js in pkg/*.js pkg/snippets/*/js/errors.js; do minify "$js" --keep-names; done
for js in pkg/snippets/*/js/*.js; do [[ $js == */errors.js ]] || minify "$js"; done
cp README.md LICENSE-MIT LICENSE-APACHE CHANGELOG.md pkg/
rm -f pkg/.gitignore
# The error classes live in a wasm-bindgen snippet whose folder name is a
# hash; give them a stable path so every entry re-exports the same classes.
# Only the public names: makeError and remakeError are the wasm module's own (marked @internal).
snippet=$(cd pkg && ls snippets/*/js/errors.js)
public=$(grep -oE '^export (class|const|function) [A-Za-z]+' js/errors.js | awk '{print $3}' \
  | grep -vE '^(makeError|remakeError)$' | paste -sd, | sed 's/,/, /g')
printf "export { %s } from './%s';\n" "$public" "$snippet" > pkg/errors.js

raw=$(wc -c < pkg/ratewise_bg.wasm)
gz=$(gzip -9 -c pkg/ratewise_bg.wasm | wc -c)
glue=$(cat pkg/ratewise.js pkg/snippets/*/js/*.js | gzip -9 | wc -c)
budget() { awk -v k="$1" '$1 == k { print $2 }' scripts/size-budget.txt; }
printf 'ratewise_bg.wasm: %d bytes before wasm-opt, %d bytes after, %d bytes gzipped (budget %d); glue %d bytes gzipped (budget %d)\n' \
  "$raw_before" "$raw" "$gz" "$(budget wasm)" "$glue" "$(budget glue)"
(( gz <= $(budget wasm) )) || { echo "ratewise_bg.wasm is over its size budget (scripts/size-budget.txt)" >&2; exit 1; }
(( glue <= $(budget glue) )) || { echo "the JS glue is over its size budget (scripts/size-budget.txt)" >&2; exit 1; }
