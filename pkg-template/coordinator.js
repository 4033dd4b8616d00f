// RatewiseCoordinator: the Durable Object that shares ratewise's quota
// breaker and request limits across Worker isolates (one object per limit
// key). Re-export it from your Worker and bind it:
//
//   export { RatewiseCoordinator } from 'ratewise';
//   # wrangler.toml
//   [[durable_objects.bindings]]
//   name = "RATEWISE"
//   class_name = "RatewiseCoordinator"
//   [[migrations]]
//   tag = "v1"
//   new_sqlite_classes = ["RatewiseCoordinator"]
//
// The decisions are the Rust core's (coordinatorStep for the breaker,
// coordinatorLease for request permits, coordinatorBudget for spend
// budgets, in the coordinator's own wasm module, loaded on first use:
// coordinator-wasm.js); this object only keeps their result: the breaker in its storage,
// the lease books in memory (they are about the current rate-limit window:
// an object that restarts begins with a cold start), and each spend budget's
// books in its storage under `budget:<name>` (budgets span days and months:
// an object that restarts keeps what was spent).
import { coordinatorWasm } from './coordinator-wasm.js';

// Budgets whose books are cached in memory (storage holds them all).
const MAX_CACHED_BUDGETS = 64;

export class RatewiseCoordinator {
  constructor(ctx) {
    this.ctx = ctx;
    this.state = undefined;
    this.ledger = undefined;
    this.budgets = new Map();
    ctx.blockConcurrencyWhile(async () => {
      this.state = await ctx.storage.get('board');
    });
  }

  async fetch(request) {
    let message;
    try {
      message = await request.json();
    } catch {
      return new Response('ratewise coordinator: expected a JSON message', { status: 400 });
    }
    const { coordinatorLease, coordinatorStep } = await coordinatorWasm();
    let state;
    let answer;
    try {
      if (message?.op === 'budget') return await this.budget(message);
      if (message?.op === 'lease') {
        [this.ledger, answer] = coordinatorLease(this.ledger, message, Date.now());
        return Response.json(answer);
      }
      [state, answer] = coordinatorStep(this.state, message, Date.now());
    } catch (e) {
      return new Response(String(e?.message ?? e), { status: 400 });
    }
    if (message.op !== 'lookup') {
      this.state = state;
      await this.ctx.storage.put('board', state);
    }
    return Response.json(answer);
  }

  // One reserve, settle, release or status on a spend budget's books: read
  // from storage once, written back before the answer goes (so a spend the
  // isolate was told of survives a restart). Storage calls close the input
  // gate, so no other message interleaves between the read and the step.
  async budget(message) {
    const { coordinatorBudget } = await coordinatorWasm();
    const name = message.budget?.name;
    if (typeof name !== 'string' || name === '') throw new TypeError('ratewise coordinator: `budget.name`');
    const slot = `budget:${name}`;
    let books = this.budgets.get(slot);
    if (books === undefined) {
      const stored = await this.ctx.storage.get(slot);
      books = this.budgets.get(slot) ?? stored;
    }
    const [next, answer] = coordinatorBudget(books, message, Date.now());
    if (message.action !== 'status') {
      if (this.budgets.size >= MAX_CACHED_BUDGETS && !this.budgets.has(slot)) this.budgets.clear();
      this.budgets.set(slot, next);
      await this.ctx.storage.put(slot, next);
    }
    return Response.json(answer);
  }
}
