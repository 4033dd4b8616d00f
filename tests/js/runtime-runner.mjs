// What the Deno and Bun tiers share: where the binaries are, how a script runs in one, and how
// its results are printed. The script prints one JSON line last, `{ entry, passed, failed,
// results: [{ name, ok, error }] }`; this prints TAP-like lines and sets the exit code.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const bin = (name) => join(here, '..', '..', 'node_modules', '.bin', name);
const run = promisify(execFile);

/** The command line of each runtime. Deno reads tests/js/package.json and resolves `ratewise` from node_modules. */
export const runtimes = {
  deno: { command: bin('deno'), args: ['run', '--allow-net', '--allow-read', '--allow-env'] },
  bun: { command: bin('bun'), args: ['run'] },
};

/** The runtime named by argv[2], or a usage line and exit 2. */
export function runtimeFromArgs(script) {
  const name = process.argv[2];
  if (!runtimes[name]) {
    console.error(`usage: node tests/js/${script} ${Object.keys(runtimes).join('|')}`);
    process.exit(2);
  }
  return name;
}

/** The first line of `<runtime> --version`. */
export async function version(name) {
  return (await run(runtimes[name].command, ['--version'])).stdout.split('\n')[0].trim();
}

/** Runs `tests/js/<script> <arg>` in the runtime with `flags` added, and returns its last JSON line. */
export async function runScript(name, script, arg, flags = []) {
  const { command, args } = runtimes[name];
  const { stdout } = await run(command, [...args, ...flags, join(here, script), arg], {
    cwd: here,
    timeout: 120_000,
    env: { ...process.env, NO_COLOR: '1' },
  });
  return JSON.parse(stdout.trim().split('\n').pop());
}

/** Prints `header`, one line per result and `<summary>: N passed, M failed`, then exits: 0 only if all passed. */
export function report(header, summary, result) {
  console.log(header);
  for (const r of result.results) {
    console.log(r.ok ? `ok - ${r.name}` : `not ok - ${r.name}\n  ${r.error.split('\n').join('\n  ')}`);
  }
  console.log(`${summary}: ${result.passed} passed, ${result.failed} failed`);
  process.exit(result.failed === 0 && result.passed > 0 ? 0 : 1);
}
