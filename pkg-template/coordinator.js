// RatewiseCoordinator: the Durable Object that shares ratewise's quota
// breaker across Worker isolates. Re-export it from your Worker and bind it:
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
// The decisions are the Rust core's (coordinatorStep); this object only
// keeps their result in its storage.
import { coordinatorStep } from './ratewise.js';

export class RatewiseCoordinator {
  constructor(ctx) {
    this.ctx = ctx;
    this.state = undefined;
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
