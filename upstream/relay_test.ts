// The relay in process, against a small UDP server of the test that answers
// as an MI server would: what it learns, what it hides and why, what a call
// carries each way, and the limit of calls waiting for one upstream.

import assert from "node:assert/strict";
import { parseConfig } from "../config/load.ts";
import { testMi } from "../mi/testkit.ts";
import { Relay } from "./relay.ts";

/** A UDP MI server: `answer` gets each request and returns the reply text (after `delayMs`). */
function fakeServer(answer: (req: { method: string; params?: unknown; id: unknown }) => string) {
  const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (conn.addr as Deno.NetAddr).port;
  const seen: string[] = [];
  const serving = (async () => {
    try {
      while (true) {
        const [data, from] = await conn.receive();
        const text = new TextDecoder().decode(data);
        seen.push(text);
        const req = JSON.parse(text);
        const delay = req.method === "slow" ? 300 : 0;
        setTimeout(() => {
          conn.send(new TextEncoder().encode(answer(req)), from).catch(() => {});
        }, delay);
      }
    } catch {
      // Closed.
    }
  })();
  return {
    port,
    seen,
    async close() {
      conn.close();
      await serving;
    },
  };
}

const reply = (id: unknown, result: string) =>
  `{"jsonrpc":"2.0","result":${result},"id":${JSON.stringify(id)}}`;

Deno.test("relay: learns an upstream's commands, hides clashes and bad names, relays params, ids and results as they are", async () => {
  const server = fakeServer((r) => {
    if (r.method === "which" && r.params === undefined) {
      return reply(r.id, '["ok","ok","bad name","uptime","x.y","slow","drop_all"]');
    }
    if (r.method === "which") return reply(r.id, '[["a"],["a","b"]]');
    if (r.method === "help") return reply(r.id, '{"Help":"does ok","Exported by":"m"}');
    if (r.method === "x.y") {
      return `{"jsonrpc":"2.0","error":{"code":404,"message":"no such y","data":[1]},"id":1}`;
    }
    return `{\n\t"jsonrpc": "2.0",\n\t"result": {"v": 1.50, "s": "a\\tb c"},\n\t"id": 7\n}`;
  });
  const m = testMi();
  const relay = new Relay(m.registry, m.stats, m.attendant.log);
  try {
    const config = parseConfig(JSON.stringify({
      upstream: [{
        name: "fake",
        via: `udp:127.0.0.1:${server.port}`,
        max_in_flight: 1,
        mutating: ["@default", "ok"],
      }],
    }));
    relay.configure(config.upstream);
    const [state] = await relay.start();
    assert.equal(state.commands, 4, JSON.stringify(state)); // ok, x.y, slow, drop_all; not uptime or "bad name"
    assert.equal(m.registry.get("uptime")!.module, "core");
    assert.ok(m.lines.some((l) => /hidden .*'uptime' of upstream:fake \(core has it\)/.test(l)));
    assert.ok(m.lines.some((l) => /not MI command names: bad name/.test(l)), m.lines.join("\n"));
    assert.equal(m.registry.get("ok")!.mutating, true, "by the config");
    assert.equal(m.registry.get("drop_all")!.mutating, false);

    // Params and id go as sent; the result comes back token for token, on one line.
    assert.equal(
      await m.send(
        '{"jsonrpc":"2.0","method":"ok","params":{"a":[1,"x"]},"id":12345678901234567890}',
      ),
      '{"jsonrpc":"2.0","result":{"v":1.50,"s":"a\\tb c"},"id":12345678901234567890}',
    );
    assert.equal(
      server.seen.at(-1),
      '{"jsonrpc":"2.0","method":"ok","params":{"a":[1,"x"]},"id":12345678901234567890}',
    );
    assert.equal(
      await m.send('{"jsonrpc":"2.0","method":"x.y","id":"q"}'),
      '{"jsonrpc":"2.0","error":{"code":404,"message":"no such y","data":[1]},"id":"q"}',
    );
    // A notification is relayed with an id of sipmi's, and answers nothing.
    assert.equal(await m.send('{"jsonrpc":"2.0","method":"ok","params":[1]}'), null);
    assert.match(server.seen.at(-1)!, /"params":\[1\],"id":\d+\}$/);
    assert.equal(
      await m.send('{"jsonrpc":"2.0","method":"which","params":["ok"],"id":1}'),
      '{"jsonrpc":"2.0","result":[["a"],["a","b"]],"id":1}',
    );
    assert.equal(
      await m.send('{"jsonrpc":"2.0","method":"help","params":["ok"],"id":1}'),
      '{"jsonrpc":"2.0","result":{"Help":"does ok","Exported by":"upstream:fake"},"id":1}',
    );

    // max_in_flight 1: a second call while one waits is refused at once, naming the key.
    const slow = m.send('{"jsonrpc":"2.0","method":"slow","id":1}');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(
      await m.send('{"jsonrpc":"2.0","method":"ok","id":2}'),
      '{"jsonrpc":"2.0","error":{"code":503,"message":"Service Unavailable","data":"upstream fake (udp:127.0.0.1:' +
        server.port + '): 1 calls wait for it already (upstream[0].max_in_flight)"},"id":2}',
    );
    assert.match((await slow)!, /"result"/);

    const st = JSON.parse(
      (await m.send(
        '{"jsonrpc":"2.0","method":"get_statistics","params":[["upstream:"]],"id":1}',
      ))!,
    ).result;
    assert.equal(st["upstream:fake_error_replies"], 1);
    assert.equal(st["upstream:fake_errors"], 0);
    assert.equal(st["upstream:fake_commands"], 4);
    assert.ok(st["upstream:fake_requests"] >= 7);

    // A reload that removes the upstream removes its commands.
    relay.configure([]);
    assert.equal(m.registry.get("ok"), undefined);
    assert.deepEqual(relay.states(), []);
  } finally {
    relay.stop();
    await server.close();
  }
});
