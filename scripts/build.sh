#!/usr/bin/env bash
# Builds the npm package into pkg/: cargo (wasm32, release) -> wasm-bindgen
# (--target web) -> wasm-opt (npm binaryen; -Oz after flatten/rereloop) -> pkg-template/ files, the README,
# the licenses and the changelog.
# Two wasm modules, from one crate with one feature each (Cargo.toml): ratewise_bg.wasm (`fetch`:
# classify and createFetch, which every import loads) and ratewise_coordinator_bg.wasm
# (`coordinator`: the coordinators' steps, loaded only by the Durable Object and redisCoordinator).
# Prints each .wasm's size raw and gzipped, and checks them against scripts/size-budget.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

# Panic locations name their source files: without the registry's machine-specific prefix
# ($CARGO_HOME/registry/src/index.crates.io-<hash>/) the .wasm is 233 bytes smaller gzipped, and the
# same wherever it is built, so the size gate below measures the same in CI as here.
remap=""
for src in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do remap+=" --remap-path-prefix=$src="; done
rm -rf pkg

# Debian's wasm-opt (108) silently breaks the output: use npm's binaryen only.
wasm_opt=node_modules/binaryen/bin/wasm-opt
"$wasm_opt" --version | grep -q 'version 132' || { echo "expected binaryen 132 at $wasm_opt" >&2; exit 1; }
declare -A raw_before
# module FEATURE NAME: builds the crate with FEATURE alone into pkg/NAME.js and pkg/NAME_bg.wasm.
module() {
  RUSTFLAGS="${RUSTFLAGS:-}$remap" cargo build --quiet --target wasm32-unknown-unknown --release \
    --no-default-features --features "$1"
  local built
  built="$(scripts/target-dir.sh)/wasm32-unknown-unknown/release/ratewise.wasm"
  # No &str slicing that can panic (issue 25): one `&s[a..b]` or string-needle search (std's searcher
  # slices) keeps core::str::slice_error_fail, the core::fmt of its message and core::unicode's
  # printable tables, 6 KB gzipped. Slice with src/cut.rs, search with classify::search. The check
  # reads the symbol names of the unstripped build (panic_fmt is always there: names are present).
  grep -q panic_fmt "$built" || { echo "build.sh: $built has no symbol names to check" >&2; exit 1; }
  if grep -q slice_error_fail "$built"; then
    echo "build.sh: $2_bg.wasm reaches core::str::slice_error_fail (&str slicing or a string-needle search; twiggy paths finds the caller)" >&2
    exit 1
  fi
  wasm-bindgen --target web --out-dir pkg --out-name "$2" "$built"
  raw_before[$2]=$(wc -c < "pkg/$2_bg.wasm")
  # --flatten --rereloop and a second -Oz: 1.4 KB less gzipped than -Oz alone, no slower
  # (bench/classify.mjs, both in one run). --converge repeats the passes while they still shrink the
  # module (-0.6 KB gzipped); the producers and target-features sections are for linkers (-0.2 KB).
  # A second --flatten --rereloop after the first -Oz: -0.2 KB, classify() no slower (bench/classify.mjs
  # against the build without it, in one run: 14.03 against 13.73 µs a full case, 2.20 against 2.26 a status).
  # --low-memory-unused lets -Oz fold a constant added to an address into the load's or store's offset
  # (-390 bytes gzipped): rustc's wasm32 layout is stack first (the stack pointer starts at 1 MiB and
  # the stack grows down, data and heap above it), so the low 1 KiB the pass assumes unused is only
  # reached by a stack already 1 MiB deep. scripts/low-memory.mjs stops the build if that changes.
  # -ocimfs 20 (--one-caller-inline-max-function-size): binaryen inlines a function that has one
  # caller only when it is at most 20 bytes (by default, whatever its size). Each inlined body grows
  # the poll of the call's future, whose flattened locals compress badly: -3.8 KB gzipped (131,805
  # against 135,630 before short-imports), though +6.5 KB raw. 10, 15 and 30 measure within 0.15 KB
  # of it, 50 -2.7 KB, 0 -3.3 KB.
  node scripts/low-memory.mjs "pkg/$2_bg.wasm"
  "$wasm_opt" -ocimfs 20 --low-memory-unused --flatten --rereloop -Oz --flatten --rereloop -Oz -Oz --converge --strip-producers --strip-target-features --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "pkg/$2_bg.wasm" -o "pkg/$2_bg.wasm"
  # The imports from the glue get short names, in the .wasm and the glue (-3.2 KB gzipped .wasm and
  # -1.8 KB glue for ratewise_bg.wasm).
  node scripts/short-imports.mjs "pkg/$2_bg.wasm" "pkg/$2.js" >/dev/null
}
# The coordinator's first, so that target/ keeps the main module's unstripped build (for twiggy).
module coordinator ratewise_coordinator
module fetch ratewise

# The glue wasm-bindgen writes, the JS snippets it copies and the package's own modules are minified
# in place, without source maps: 21.1 -> 12.9 KB gzipped. ratewise.js takes in the snippets, each
# entry the package modules only it loads (below). --keep-names only in the entries and the lazily
# loaded modules: elsewhere it wraps every function in a naming call (826 bytes gzipped of the
# snippets), and name_exports names what the glue exports.
minify() {
  node_modules/.bin/esbuild "$1" --minify ${2:-} --format=esm --log-level=error --outfile="$1.min"
  mv "$1.min" "$1"
}
# terse FILE: terser's compress and mangle after esbuild's bundle and minify, for the two glue files:
# -371 bytes gzipped for ratewise.js (13,879 -> 13,508) and -52 for the coordinator glue.
terse() {
  node_modules/.bin/terser "$1" --module --compress passes=2 --mangle --output "$1.min"
  mv "$1.min" "$1"
}
# name_exports FILE: gives each function FILE exports its export name, as --keep-names would, but
# without wrapping every internal function of wasm-bindgen's glue in a naming call (-0.7 KB gzipped).
name_exports() {
  node -e '
    const fs = require("node:fs");
    const file = process.argv[1];
    const text = fs.readFileSync(file, "utf8");
    const clause = text.match(/export\s*\{([^}]*)\};?\s*$/);
    if (!clause) throw new Error(`${file}: no export clause at its end`);
    const named = clause[1].split(",").map((p) => p.trim().split(/\s+as\s+/));
    const pairs = named
      .filter(([local, name]) => name && name !== "default" && local !== name)
      .map(([local, name]) => `[${local},${JSON.stringify(name)}]`);
    // The names of the loop must not be any the pairs use (those would be read in their dead zone).
    const unused = (base) => { let i = 0; while (new RegExp(`\\b${base}${i}\\b`).test(text)) i++; return base + i; };
    const [f, n] = [unused("f"), unused("n")];
    const fix = `for(const[${f},${n}]of[${pairs.join(",")}])typeof ${f}=="function"&&Object.defineProperty(${f},"name",{value:${n}});`;
    fs.writeFileSync(file, text.slice(0, clause.index) + (pairs.length ? fix : "") + text.slice(clause.index));
  ' "$1"
}
cp pkg-template/* pkg/
# Every snippet is bundled into ratewise.js: Node loads 3 files at import (the entry, the glue, the
# coordinator entry) and a browser fetches as many. errors.js comes in too (its public classes
# and guards are re-exported by ratewise.js, so every entry shares the glue's one copy of them), and
# the coordinator's glue bundles its own copy of the part of convert.js it imports (flattenHeaders).
# pkg/telemetry.js stays a dynamic import, loaded only with telemetry on: the snippet's path to it,
# written from pkg/snippets/<crate>/js/, becomes ./telemetry.js, from pkg/ratewise.js.
snippets=$(cd pkg && ls -d snippets/*/js)
# So does pkg/cache-store.js (the cache's stores, keys and copies, loaded on a cache's first use).
for lazy in telemetry:telemetry cache:cache-store; do
  grep -q "import('../../../${lazy#*:}.js')" "pkg/$snippets/${lazy%:*}.js" \
    || { echo "build.sh: js/${lazy%:*}.js no longer imports '../../../${lazy#*:}.js'" >&2; exit 1; }
  sed -i "s#import('../../../${lazy#*:}.js')#import('./${lazy#*:}.js')#" "pkg/$snippets/${lazy%:*}.js"
done
# The error classes and guards users import (makeError and remakeError are the wasm module's own,
# marked @internal), re-exported by the glue and, through errors.js (inlined below), by every entry.
public=$(grep -oE '^export (class|const|function) [A-Za-z]+' js/errors.js | awk '{print $3}' \
  | grep -vE '^(makeError|remakeError)$' | paste -sd, | sed 's/,/, /g')
printf "export { %s } from './%s/errors.js';\n" "$public" "$snippets" >> pkg/ratewise.js
printf "export { %s } from './ratewise.js';\n" "$public" > pkg/errors.js
# What of wasm-bindgen's glue no supported runtime runs goes first (scripts/trim-glue.mjs).
node scripts/trim-glue.mjs pkg/ratewise.js pkg/ratewise_coordinator.js >/dev/null
minify pkg/ratewise.js "--bundle --external:./telemetry.js --external:./cache-store.js"
terse pkg/ratewise.js
name_exports pkg/ratewise.js
# One command a line: set -e stops at none but the last of an && list, so a missing terser went unnoticed.
minify pkg/ratewise_coordinator.js --bundle
terse pkg/ratewise_coordinator.js
name_exports pkg/ratewise_coordinator.js
rm -r pkg/snippets
# Each entry is bundled with the package's modules that only it loads (the coordinators' class,
# redisCoordinator and the loader's state, errors.js's re-export): with the glue's snippets above,
# Node loads 3 files at import instead of 10 (this step alone: cold import() 1.40x -> 1.02x
# p-retry's, medians of 21 interleaved runs timed as bench/startup.mjs does, node.js compiling on
# first call in both; all of this branch: 2.63x -> 1.15x in one run). What two entries share stays a
# file of its own: the glue (one wasm instance, one copy of the error classes), and the coordinator
# entries, which `ratewise` and `ratewise/coordinator` both load (one coordinator module and loader).
shared="--external:./ratewise.js --external:./ratewise_coordinator.js --external:*.wasm"
shared+=" --external:./coordinator-node.js --external:./coordinator-web.js --external:./coordinator-workerd.js"
for entry in node browser workerd coordinator-node coordinator-web coordinator-workerd; do
  minify "pkg/$entry.js" "--bundle --keep-names --external:node:* $shared"
done
rm pkg/errors.js pkg/coordinator-wasm.js pkg/coordinator.js pkg/redis.js
for js in pkg/*.js; do
  [[ $js =~ ^pkg/(ratewise|ratewise_coordinator|node|browser|workerd|coordinator-[a-z]+)\.js$ ]] || minify "$js" --keep-names
done
cp README.md LICENSE-MIT LICENSE-APACHE CHANGELOG.md pkg/
rm -f pkg/.gitignore

budget() { awk -v k="$1" '$1 == k { print $2 }' scripts/size-budget.txt; }
over=0
# check FILE KEY BYTES: prints BYTES against KEY's budget; notes it when over.
check() {
  printf '%s: %d bytes gzipped (budget %d)\n' "$1" "$3" "$(budget "$2")"
  (( $3 <= $(budget "$2") )) || { echo "$1 is over its size budget ($2 in scripts/size-budget.txt)" >&2; over=1; }
}
for name in ratewise ratewise_coordinator; do
  printf '%s_bg.wasm: %d bytes before wasm-opt, %d bytes after\n' "$name" "${raw_before[$name]}" "$(wc -c < "pkg/${name}_bg.wasm")"
done
check ratewise_bg.wasm wasm "$(gzip -9 -c pkg/ratewise_bg.wasm | wc -c)"
check 'the JS glue' glue "$(gzip -9 -c pkg/ratewise.js | wc -c)"
check ratewise_coordinator_bg.wasm coordinator "$(gzip -9 -c pkg/ratewise_coordinator_bg.wasm | wc -c)"
check 'the coordinator glue' coordinator-glue "$(gzip -9 -c pkg/ratewise_coordinator.js | wc -c)"
# Each module exports its own entry points only: the coordinator's steps stay out of the module
# every import loads, and classify() and createFetch() out of the coordinator's.
node -e '
  const { readFileSync } = require("node:fs");
  const names = (f) => WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(f))).map((e) => e.name);
  const bad = [
    ...names("pkg/ratewise_bg.wasm").filter((n) => /^coordinator(apply|step|lease|budget)$/i.test(n)),
    ...names("pkg/ratewise_coordinator_bg.wasm").filter((n) => /^(classify|createfetch)$/i.test(n)),
  ];
  if (bad.length) {
    console.error(`a .wasm exports another module'"'"'s entry points: ${bad.join(", ")}`);
    process.exit(1);
  }
' || over=1
exit "$over"
