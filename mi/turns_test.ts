// Batches take turns on the event loop, run in bounded number, and stop
// when their client has gone (mi/turns.ts, mi/endpoint.ts).

import assert from "node:assert/strict";
import { testMi } from "./testkit.ts";
import type { ClientState } from "./endpoint.ts";

const order: string[] = [];
const busy = {
  name: "busy",
  commands: [{
    name: "spin",
    help: "busy for about a millisecond, then records its tag",
    recipes: [["tag"]],
    handler: (p: { str(n: string): string }) => {
      const until = performance.now() + 1;
      while (performance.now() < until) { /* a synchronous command that takes a while */ }
      order.push(p.str("tag"));
      return "ok";
    },
  }],
};

const batch = (tag: string, n: number) =>
  JSON.stringify(
    Array.from({ length: n }, (_, i) => ({
      jsonrpc: "2.0",
      method: "spin",
      params: { tag },
      id: i,
    })),
  );

Deno.test("turns: a long batch lets timers and other batches run between its slices", async () => {
  order.length = 0;
  const m = testMi({ extra: [busy] });
  let timerAt = -1;
  setTimeout(() => timerAt = order.length, 0);
  const [a, b] = await Promise.all([m.ep.handle(batch("a", 30)), m.ep.handle(batch("b", 30))]);
  assert.equal(JSON.parse(a as string).length, 30);
  assert.equal(JSON.parse(b as string).length, 30);
  assert.ok(timerAt > 0 && timerAt < 60, `the timer ran after ${timerAt} members`);
  // Interleaved in slices, not one batch and then the other.
  const firstB = order.indexOf("b"), lastA = order.lastIndexOf("a");
  assert.ok(firstB < lastA, `a ran to its end before b started: ${order.join("")}`);
});

Deno.test("turns: at most mi.max_running_batches run at once; the others wait their turn", async () => {
  order.length = 0;
  const m = testMi({ extra: [busy], limits: { maxRunningBatches: 1 } });
  await Promise.all([m.ep.handle(batch("a", 20)), m.ep.handle(batch("b", 20))]);
  assert.equal(order.join(""), "a".repeat(20) + "b".repeat(20));
  const running = JSON.parse(
    (await m.send('{"jsonrpc":"2.0","method":"get_statistics","params":[["mi:"]],"id":1}'))!,
  ).result;
  assert.equal(running["mi:batches_running"], 0);
  assert.equal(running["mi:batches_waiting"], 0);
});

Deno.test("turns: a batch whose client has gone stops; the rest is counted, not run", async () => {
  order.length = 0;
  const m = testMi({ extra: [busy] });
  let calls = 0;
  // Gone from the 11th look on: the batch checks before each member.
  const client: ClientState = {
    get gone() {
      return ++calls > 10;
    },
  };
  const reply = await m.ep.handle(batch("g", 40), undefined, client);
  assert.equal(reply, null);
  assert.ok(order.length >= 5 && order.length < 40, `${order.length} members ran`);
  const s = JSON.parse(
    (await m.send('{"jsonrpc":"2.0","method":"get_statistics","params":[["mi:"]],"id":1}'))!,
  ).result;
  assert.equal(s["mi:abandoned_requests"], 40 - order.length);
  // Every member is a request; the abandoned ones are errors; the batch has no reply.
  assert.equal(s["mi:test_requests"], 40 + 1);
  assert.equal(s["mi:test_errors"], 40 - order.length);
  assert.equal(s["mi:test_replies"], 0);
  // A client gone before the batch started: nothing runs.
  order.length = 0;
  assert.equal(await m.ep.handle(batch("x", 5), undefined, { gone: true }), null);
  assert.deepEqual(order, []);
});
