// The coordinator's wasm module (ratewise_coordinator_bg.wasm): the Durable
// Object's and Redis's books, apart from the module every import loads. It is
// loaded and instantiated on first use only, by RatewiseCoordinator and
// redisCoordinator. How depends on the runtime: each entry
// (coordinator-node.js, coordinator-web.js, coordinator-workerd.js) provides
// its loader before anything can ask for the module.

let load;
let glue;
let loading;

/** Sets how this runtime loads the module (the first entry imported wins). */
export function provideCoordinatorWasm(loader) {
  load ??= loader;
}

/**
 * The coordinator module's exports (coordinatorApply, coordinatorBudget,
 * coordinatorLease, coordinatorStep), instantiated on the first call. A
 * loader that answers at once (workerd's) makes no promise, so no
 * invocation ever awaits one another invocation made.
 */
export function coordinatorWasm() {
  if (glue) return glue;
  if (!load)
    throw new Error('ratewise: import RatewiseCoordinator and redisCoordinator from ratewise or ratewise/coordinator');
  if (loading) return loading;
  const loaded = load();
  if (typeof loaded?.then !== 'function') {
    glue = loaded;
    return glue;
  }
  loading = loaded.then(
    (g) => {
      glue = g;
      return g;
    },
    (e) => {
      loading = undefined; // a later call tries again
      throw e;
    },
  );
  return loading;
}
