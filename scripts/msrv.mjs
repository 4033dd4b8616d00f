// Checks, offline, that Cargo.toml's rust-version is not below what the
// dependencies need: for the host and for wasm32, every crate the library
// builds with (normal and build dependencies, transitively) must declare a
// rust-version <= ours. Dev-dependencies only build the tests, so their
// highest rust-version is printed, not enforced. (Std APIs newer than
// rust-version are clippy's incompatible_msrv lint, on in .ci/run.) No older
// toolchain can be downloaded here, so this is the MSRV check we can run.
//
//   node scripts/msrv.mjs
import { execFileSync } from 'node:child_process';

const cmp = (a, b) => a.localeCompare(b, 'en', { numeric: true });
let failed = false;
for (const platform of ['x86_64-unknown-linux-gnu', 'wasm32-unknown-unknown']) {
  const json = execFileSync('cargo', ['metadata', '--format-version', '1', '--locked', '--filter-platform', platform], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const meta = JSON.parse(json);
  const pkgs = new Map(meta.packages.map((p) => [p.id, p]));
  const nodes = new Map(meta.resolve.nodes.map((n) => [n.id, n]));
  const root = pkgs.get(meta.resolve.root);
  const ours = root.rust_version;
  const walk = (kinds) => {
    const seen = new Set();
    const stack = nodes
      .get(root.id)
      .deps.filter((d) => d.dep_kinds.some((k) => kinds.includes(k.kind)))
      .map((d) => d.pkg);
    while (stack.length) {
      const id = stack.pop();
      if (seen.has(id)) continue;
      seen.add(id);
      for (const d of nodes.get(id).deps) {
        if (d.dep_kinds.some((k) => k.kind !== 'dev')) stack.push(d.pkg);
      }
    }
    return [...seen].map((id) => pkgs.get(id)).filter((p) => p.rust_version);
  };
  const highest = (list) => list.sort((a, b) => cmp(b.rust_version, a.rust_version))[0];
  const lib = walk([null, 'build']);
  const tooNew = lib.filter((p) => cmp(p.rust_version, ours) > 0);
  const top = highest(lib);
  console.log(
    `${platform}: rust-version ${ours}; library dependencies need at most ${top.rust_version} (${top.name} ${top.version})`,
  );
  for (const p of tooNew) console.log(`  ${p.name} ${p.version} needs Rust ${p.rust_version}`);
  if (tooNew.length) failed = true;
  const dev = highest(walk(['dev']));
  if (dev && cmp(dev.rust_version, ours) > 0) {
    console.log(`  (the tests need Rust ${dev.rust_version}: dev-dependency ${dev.name} ${dev.version})`);
  }
}
if (failed) {
  console.error('msrv: raise rust-version in Cargo.toml, or pin the dependencies above lower');
  process.exit(1);
}
