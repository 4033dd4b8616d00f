// `--help` (or `-h`) for every benchmark: prints the comment its file opens with (what it measures and
// its options), and exits before anything is measured.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Prints the opening comment of the file at `url` and exits, when that file was run with --help. */
export function help(url) {
  const file = fileURLToPath(url);
  if (process.argv[1] !== file || !process.argv.slice(2).some((a) => a === '--help' || a === '-h')) return;
  console.log(
    readFileSync(file, 'utf8')
      .split('\nimport ')[0]
      .replace(/^\/\/ ?/gm, ''),
  );
  process.exit(0);
}
