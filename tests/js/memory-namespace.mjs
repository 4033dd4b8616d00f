// A Durable Object namespace of the package's RatewiseCoordinator objects, in memory (one object per
// name, storage in a Map), for the Node tier's coordinator and contract tests. workerd runs the real
// thing in example-worker.test.mjs.

/**
 * `ratewise`: the imported package. The messages each object receives are kept in `calls`; an op named
 * in `failing` rejects, as a coordinator that is down does.
 */
export function memoryNamespace(ratewise, { failing = [] } = {}) {
  const objects = new Map();
  const calls = [];
  return {
    calls,
    objects,
    idFromName: (name) => name,
    get(name) {
      if (!objects.has(name)) {
        const storage = new Map();
        const ctx = {
          storage: { get: async (k) => storage.get(k), put: async (k, v) => void storage.set(k, structuredClone(v)) },
          blockConcurrencyWhile: (fn) => fn(),
        };
        objects.set(name, new ratewise.RatewiseCoordinator(ctx));
      }
      const object = objects.get(name);
      return {
        fetch: async (url, init) => {
          const body = JSON.parse(init.body);
          calls.push({ name, body });
          if (failing.includes(body.op)) throw new Error(`coordinator down for ${body.op}`);
          return object.fetch(new Request(url, init));
        },
      };
    },
  };
}
