// Runs the shared suite in whatever runtime executes this file (Deno, Bun),
// importing the installed package by name so the runtime picks its own
// export condition. Prints one JSON line with the results.
import * as ratewise from 'ratewise';
import { runSuite } from './suite.mjs';

const mockUrl = (globalThis.Deno?.args ?? globalThis.process?.argv.slice(2) ?? [])[0];
const result = await runSuite({ ratewise, mockUrl });
const entry = import.meta.resolve('ratewise').split('/').pop();
console.log(JSON.stringify({ ...result, entry }));
