// Node tier: the published package against its declared types. The runtime exports of the packed
// `ratewise` are exactly the values index.d.ts declares, and the errors it rejects with carry the
// `kind` and `code` their declarations say (tests/contract.rs checks the sources; this checks what
// ships).
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as ratewise from 'ratewise';

const dts = readFileSync(new URL('./index.d.ts', import.meta.resolve('ratewise')), 'utf8');
// A plain object of the exports, to look names up in.
const exported = { ...ratewise };
const declared = [...dts.matchAll(/^export (?:declare )?(?:function|class|const) (\w+)/gm)].map((m) => m[1]);

test('the runtime exports are exactly the values index.d.ts declares (no internal helper such as makeError)', () => {
  assert.deepEqual(Object.keys(ratewise).sort(), [...new Set(declared)].sort());
});

test("every error class's code is the one its declaration names, and each guard knows only its class", () => {
  const classes = declared.filter((n) => n.endsWith('Error') && !n.startsWith('is'));
  for (const name of classes) {
    const e = new exported[name]('m', {});
    assert.ok(e instanceof ratewise.RatewiseError && e instanceof Error, name);
    assert.equal(e.name, name);
    const doc = new RegExp(`\`code\` is '(\\w+)'\\.\\s*\\*/\\s*export class ${name}\\b`).exec(dts);
    if (doc) assert.equal(e.code, doc[1], `${name}.code`);
    assert.equal(exported[`is${name}`](e), true, `is${name}`);
  }
});

test("the queue and subrequest errors carry the kind index.d.ts declares ('queue_full', 'subrequests_spent'), not 'unknown'", async () => {
  const hold = () => new Promise(() => {});
  const fetch = ratewise.createFetch({ fetch: hold, maxConcurrency: 1, maxQueue: 0, throttle: false });
  fetch('https://api.openai.com/v1/models').catch(() => {});
  const full = await fetch('https://api.openai.com/v1/models').catch((e) => e);
  assert.ok(ratewise.isQueueFullError(full), String(full));
  assert.equal(full.kind, 'queue_full');
  const spent = ratewise.createFetch({ fetch: async () => new Response('ok') }).forInvocation({ subrequests: 1 });
  await (await spent('https://api.openai.com/v1/models')).text();
  const over = await spent('https://api.openai.com/v1/models').catch((e) => e);
  assert.ok(ratewise.isSubrequestsSpentError(over), String(over));
  assert.equal(over.kind, 'subrequests_spent');
  assert.match(dts, /kind: Kind \| 'queue_full' \| 'subrequests_spent';/);
});

test("BudgetExhaustedError: code and kind are 'budget_exhausted', it names the budget, and its guard works across realms", () => {
  const e = new ratewise.BudgetExhaustedError('spent', { budget: 'nightly', resetsAtMs: 1_796_688_000_000 });
  assert.ok(e instanceof ratewise.RatewiseError);
  assert.deepEqual(
    [e.name, e.code, e.kind, e.budget, e.resetsAtMs],
    ['BudgetExhaustedError', 'budget_exhausted', 'budget_exhausted', 'nightly', 1_796_688_000_000],
  );
  assert.deepEqual(
    [new ratewise.BudgetExhaustedError('m').budget, new ratewise.BudgetExhaustedError('m').kind],
    [null, 'budget_exhausted'],
  );
  // A look-alike from another realm or package copy, which instanceof cannot see.
  const foreign = { [Symbol.for('ratewise.error')]: true, code: 'budget_exhausted' };
  assert.equal(ratewise.isBudgetExhaustedError(foreign), true);
  assert.equal(ratewise.isBudgetExhaustedError({ code: 'budget_exhausted' }), false);
  assert.equal(ratewise.isQuotaExhaustedError(e), false);
  assert.equal(ratewise.isBudgetExhaustedError(new ratewise.QuotaExhaustedError('m', {})), false);
});
