// Spend budgets (issue 21 §2), run in every runtime: a call holds its estimate before it is sent, a
// spent budget answers at once without a network call (a local 429, or BudgetExhaustedError with
// throwOnError), a tagged budget stops only its own calls and its tag never leaves the process, and
// onBudget fires once per threshold. The mock's request count is the proof that nothing was sent.

import { check, equal } from './suite.mjs';

const SECRET = 'sk-proj-SECRETSECRETSECRET1234';
const chat = (body = {}, headers = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}`, ...headers },
  body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...body }),
});
// The mock answers every chat completion with 9 input and 5 output tokens: $1.40 at these prices.
const prices = { 'gpt-4o-mini': { input: 100_000, output: 100_000 } };
// A call settles its real cost in a microtask after its body ends; a few timer turns leave room
// for a runtime that resolves a body's read in a later turn of its own (workerd).
const settled = async () => {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 1));
};
const send = async (fetch, url, init) => {
  const res = await fetch(url, init);
  await res.arrayBuffer();
  await settled();
  return res.status;
};

/** The local answer of a spent budget: a 429 that says so, and says not to retry. */
async function checkRefusal(res, budget, message) {
  equal([res.status, res.headers.get('x-should-retry')], [429, 'false'], `${message}: status, x-should-retry`);
  const body = await res.json();
  equal([body.error?.code, body.error?.budget], ['budget_exhausted', budget], `${message}: the JSON body`);
}

export const tests = [
  [
    'budgets: twenty concurrent calls on a budget with room for two: two are sent, eighteen answer a local 429',
    async ({ ratewise, mock }) => {
      await mock.config({ latencyMs: 30 });
      const fetch = ratewise.createFetch({ budgets: [{ name: 'tokens', limitTokens: 100, window: 'day' }] });
      // Each asks for up to 40 output tokens plus its prompt ("hi": 1 token): 41 held per call.
      const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(mock.chat, chat({ max_tokens: 40 }))));
      const statuses = answers.map((r) => r.status);
      equal(
        [statuses.filter((s) => s === 200).length, statuses.filter((s) => s === 429).length],
        [2, 18],
        `statuses ${statuses}`,
      );
      for (const res of answers) {
        if (res.status === 200) await res.arrayBuffer();
        else await checkRefusal(res, 'tokens', 'a refused call');
      }
      equal((await mock.stats()).requests, 2, 'the mock saw two requests: no refused call reached the network');
    },
  ],

  [
    'budgets: a tagged budget stops only the calls carrying its tag, and the tag never reaches the server',
    async ({ ratewise, mock }) => {
      const fetch = ratewise.createFetch({
        budgets: [{ name: 'nightly', limitTokens: 10, window: 'day', tag: 'nightly-batch' }],
      });
      const tagged = () => chat({}, { 'x-ratewise-budget': 'nightly-batch' });
      // Untagged calls are not this budget's: they go whatever it holds.
      for (let i = 0; i < 3; i++) equal(await send(fetch, mock.chat, chat()), 200, `untagged call ${i + 1}`);
      equal(await send(fetch, mock.chat, tagged()), 200, 'the first tagged call fits');
      // 9 + 5 = 14 tokens settled: the budget of 10 is spent for tagged calls, by header or init.budget.
      await checkRefusal(await fetch(mock.chat, tagged()), 'nightly', 'tagged by header');
      await checkRefusal(await fetch(mock.chat, { ...chat(), budget: 'nightly-batch' }), 'nightly', 'by init.budget');
      equal(await send(fetch, mock.chat, chat()), 200, 'an untagged call still goes');
      const { requests, log } = await mock.stats();
      equal(requests, 5, 'the two refused calls sent nothing');
      equal(
        log.map((entry) => entry.ratewiseHeaders),
        [[], [], [], [], []],
        'the mock received no x-ratewise-* header',
      );
    },
  ],

  [
    'budgets: onBudget fires once per threshold, in order, as the spend crosses 50%, 80% and 95%',
    async ({ ratewise, mock }) => {
      const alerts = [];
      const fetch = ratewise.createFetch({
        prices,
        budgets: [{ name: 'daily', limitUsd: 10, window: 'day' }],
        onBudget: (a) => alerts.push(a),
      });
      // $1.40 a call: 4.20, 5.60 (50%), 7.00, 8.40 (80%), 9.80 (95%).
      const thresholdsAfter = [];
      for (let i = 0; i < 7; i++) {
        equal(await send(fetch, mock.chat, chat()), 200, `call ${i + 1}`);
        thresholdsAfter.push(alerts.filter((a) => a.threshold !== null).map((a) => a.threshold));
      }
      equal(
        thresholdsAfter,
        [[], [], [], [0.5], [0.5], [0.5, 0.8], [0.5, 0.8, 0.95]],
        'the thresholds fired after each call',
      );
      for (const a of alerts.filter((a) => a.threshold !== null)) {
        equal([a.budget, a.limitUsd], ['daily', 10], 'which budget');
        check(a.fraction >= a.threshold && a.fraction <= 1, `fraction ${a.fraction} at threshold ${a.threshold}`);
        check(Math.abs(a.spentUsd - a.fraction * 10) < 1e-9, `spentUsd ${a.spentUsd}`);
        check(a.windowEndsAt > Date.now(), 'the window ends later');
      }
      equal((await mock.stats()).requests, 7, 'every call was sent');
    },
  ],

  [
    'budgets: with throwOnError a spent budget rejects with BudgetExhaustedError, sending nothing',
    async ({ ratewise, mock }) => {
      const fetch = ratewise.createFetch({
        throwOnError: true,
        prices,
        budgets: [{ name: 'tiny', limitUsd: 1, window: 60_000 }],
      });
      equal(await send(fetch, mock.chat, chat()), 200, 'the first call goes ($1.40 of $1)');
      let error;
      try {
        await fetch(mock.chat, chat());
      } catch (e) {
        error = e;
      }
      check(ratewise.isBudgetExhaustedError(error), `isBudgetExhaustedError: ${error?.name}: ${error?.message}`);
      check(error instanceof ratewise.BudgetExhaustedError, 'instanceof BudgetExhaustedError');
      check(!ratewise.isBudgetExhaustedError(new Error('budget_exhausted')), 'the guard is not fooled by a message');
      equal([error.kind, error.code, error.budget], ['budget_exhausted', 'budget_exhausted', 'tiny'], 'the error');
      check(error.resetsAtMs > Date.now(), `resetsAtMs ${error.resetsAtMs}`);
      check(!String(error.message).includes(SECRET), 'no secret in the message');
      equal((await mock.stats()).requests, 1, 'the refused call sent nothing');
    },
  ],
];
