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
// coordinatorLease for request permits); this object only keeps their
// result: the breaker in its storage, the lease books in memory (they are
// about the current rate-limit window: an object that restarts begins with a
// cold start).
import { coordinatorLease, coordinatorStep } from './ratewise.js';

export class RatewiseCoordinator {
  constructor(ctx) {
    this.ctx = ctx;
    this.state = undefined;
    this.ledger = undefined;
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
    let state;
    let answer;
    try {
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
}
