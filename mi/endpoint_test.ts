// The Endpoint's transport API: the peer a handler sees is worked out only
// when read (or when a command goes async), and every outcome a transport
// reports lands in its counter and in the global one alike.

import assert from "node:assert/strict";
import { testMi } from "./testkit.ts";
import { reusingPeerText } from "./endpoint.ts";
import type { RequestContext } from "./registry.ts";

const seen: (string | undefined)[] = [];
const peers = {
  name: "peers",
  commands: [
    {
      name: "quiet",
      help: "reads nothing of the context",
      recipes: [[]],
      handler: () => "ok",
    },
    {
      name: "who",
      help: "reads the peer twice",
      recipes: [[]],
      handler: (_p: unknown, ctx: RequestContext) => {
        seen.push(ctx.peer, ctx.peer);
        return { transport: ctx.transport, peer: ctx.peer ?? null };
      },
    },
    {
      name: "quiet_later",
      help: "reads nothing of the context, after an await",
      recipes: [[]],
      handler: async () => {
        await new Promise((r) => setTimeout(r, 1));
        return "ok";
      },
    },
    {
      name: "who_later",
      help: "reads the peer after an await",
      recipes: [[]],
      handler: async (_p: unknown, ctx: RequestContext) => {
        await new Promise((r) => setTimeout(r, 5));
        return { peer: ctx.peer ?? null };
      },
    },
  ],
};

function call(method: string, id: number | null = 1): string {
  return JSON.stringify({ jsonrpc: "2.0", method, ...(id === null ? {} : { id }) });
}

Deno.test("peer: never worked out when no handler reads it; once when read", async () => {
  const m = testMi({ extra: [peers] });
  let calls = 0;
  const peer = () => `10.0.0.${++calls}:5060`;
  assert.equal(await m.ep.handle(call("quiet"), peer), '{"jsonrpc":"2.0","result":"ok","id":1}');
  assert.equal(await m.ep.handle("{bad", peer), m.ep.parseError());
  assert.equal(calls, 0);
  seen.length = 0;
  assert.equal(
    await m.ep.handle(call("who"), peer),
    '{"jsonrpc":"2.0","result":{"transport":"test","peer":"10.0.0.1:5060"},"id":1}',
  );
  assert.deepEqual(seen, ["10.0.0.1:5060", "10.0.0.1:5060"]);
  assert.equal(calls, 1);
  // Without a peer the handler sees the endpoint's context: no peer.
  assert.equal(
    await m.ep.handle(call("who")),
    '{"jsonrpc":"2.0","result":{"transport":"test","peer":null},"id":1}',
  );
});

Deno.test("peer: an async command gets the peer of its own request, not of a later one", async () => {
  const m = testMi({ extra: [peers] });
  // One buffer, as a datagram listener has: the next request overwrites it.
  let current = "first";
  const peer = reusingPeerText(() => current);
  const first = m.ep.handle(call("who_later"), peer);
  current = "second";
  const second = m.ep.handle(call("who_later", 2), peer);
  current = "third";
  assert.equal(await first, '{"jsonrpc":"2.0","result":{"peer":"first"},"id":1}');
  assert.equal(await second, '{"jsonrpc":"2.0","result":{"peer":"second"},"id":2}');
  // A batch is async too: one context for all its members, taken at once.
  current = "batch";
  const b = m.ep.handle(`[${call("who_later", 3)},${call("who", 4)}]`, peer);
  current = "later";
  assert.equal(
    await b,
    '[{"jsonrpc":"2.0","result":{"peer":"batch"},"id":3},' +
      '{"jsonrpc":"2.0","result":{"transport":"test","peer":"batch"},"id":4}]',
  );
  // A peer that reads no reused buffer (HTTP's, the FIFO's) is left until a handler reads it.
  let calls = 0;
  const stable = () => `stable ${++calls}`;
  const q = m.ep.handle(call("quiet_later", 5), stable);
  assert.equal(await q, '{"jsonrpc":"2.0","result":"ok","id":5}');
  assert.equal(calls, 0);
});

Deno.test("report: each outcome counts in the transport's and the global counters alike", async () => {
  const m = testMi({ extra: [peers] });
  const stats = async () => {
    const all = await m.stats.lookup("mi:");
    return Object.fromEntries(all.map((s) => [`${s.group}:${s.name}`, s.value]));
  };
  const counts = async () => {
    const s = await stats();
    const t = [s["mi:test_requests"], s["mi:test_errors"], s["mi:test_replies"]];
    assert.deepEqual(t, [s["mi:requests"], s["mi:errors"], s["mi:replies"]]);
    return t;
  };
  assert.deepEqual(await counts(), [0, 0, 0]);
  m.ep.report("refused");
  assert.deepEqual(await counts(), [1, 1, 1]);
  m.ep.report("dropped");
  assert.deepEqual(await counts(), [2, 2, 1]);
  const ok = (await m.ep.handle(call("quiet")))!;
  assert.deepEqual(await counts(), [3, 2, 2]);
  // A result that never arrived is an error; an error that never arrived is one already.
  m.ep.report("undelivered", ok);
  assert.deepEqual(await counts(), [3, 3, 2]);
  const failed = (await m.ep.handle(call("nosuch")))!;
  assert.deepEqual(await counts(), [4, 4, 3]);
  m.ep.report("undelivered", failed);
  assert.deepEqual(await counts(), [4, 4, 3]);
  // A batch with a result in it, replaced by an error: one error more.
  const mixed = (await m.ep.handle(`[${call("quiet")},${call("nosuch", 2)}]`))!;
  assert.deepEqual(await counts(), [6, 5, 4]);
  m.ep.report("replaced", mixed);
  assert.deepEqual(await counts(), [6, 6, 4]);
  // Only errors in the batch (a string holding `"result":` included): nothing more.
  const errors = (await m.ep.handle(
    `[${call("nosuch", 3)},{"jsonrpc":"2.0","method":"x\\"result\\":","id":4}]`,
  ))!;
  assert.deepEqual(await counts(), [8, 8, 5]);
  m.ep.report("replaced", errors);
  assert.deepEqual(await counts(), [8, 8, 5]);
  m.ep.oversize(10);
  m.ep.parseError();
  assert.deepEqual(await counts(), [10, 10, 7]);
});

Deno.test("audit: told once of each mutating command the policy lets run, with its peer", async () => {
  const m = testMi({ endpoint: { transport: "udp", listener: "udp:127.0.0.1:8898" } });
  const heard: string[] = [];
  m.core.audit = (req, ctx) => heard.push(`${ctx.transport} ${ctx.peer} ${req.method}`);
  const peer = reusingPeerText(() => "127.0.0.1:40000");
  await m.ep.handle(call("uptime"), peer); // reads only
  await m.ep.handle(JSON.stringify({ jsonrpc: "2.0", method: "log_level", id: 1 }), peer);
  await m.ep.handle(
    JSON.stringify({ jsonrpc: "2.0", method: "log_level", params: [3], id: 2 }),
    peer,
  );
  assert.deepEqual(heard, ["udp 127.0.0.1:40000 log_level"]);
  // Refused by a read-only listener: it does not run, so it is not recorded.
  const ro = m.core.endpoint({ transport: "http", policy: { readOnly: true } });
  assert.match(
    (await ro.handle(JSON.stringify({ jsonrpc: "2.0", method: "log_level", params: [3], id: 3 })))!,
    /"code":403/,
  );
  assert.equal(heard.length, 1);
});
