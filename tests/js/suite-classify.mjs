// Shared-suite tests for the second hardening pass (issue 19), classify group:
// run in Node, workerd, Chromium, Deno and Bun through suite.mjs.
// Helpers (check, equal, mockClient) are hoisted function exports of suite.mjs.

export const tests = [];
