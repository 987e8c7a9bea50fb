// Host work never holds up the management plane: `sipmi serve` on a root
// whose /proc/interrupts is the 13 MB capture of a 1152-CPU host, read live
// for every request (stats.host_max_age_ms 0). While an HTTP client asks
// for `get_statistics irq:` again and again — each answer a read and parse
// of those 13 MB, in the tuning worker — a UDP client's `uptime` requests
// keep being answered at once. On the event loop, each such read held every
// other client for its whole duration.

import assert from "node:assert/strict";
import { startDaemon } from "./helpers/daemon.ts";
import { fixtureText, rootWith } from "./tuning_support.ts";

const HEAVY = 6;

Deno.test("a slow host read does not delay uptime on another transport", async () => {
  await using root = await rootWith({
    "/proc/interrupts": await fixtureText("pcp_interrupts-1152cpu-x86_64.gz"),
  });
  await using d = await startDaemon((c) => ({
    ...c,
    tuning: { root: root.path },
    stats: { host_max_age_ms: 0 },
  }));

  const udp = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const server = { transport: "udp" as const, hostname: "127.0.0.1", port: d.udpPort };
  const enc = new TextEncoder(), dec = new TextDecoder();
  let id = 0;
  /** One uptime over UDP: its latency in ms (the reply checked by its id). */
  const uptime = async (): Promise<number> => {
    const want = ++id;
    const t0 = performance.now();
    await udp.send(
      enc.encode(JSON.stringify({ jsonrpc: "2.0", method: "uptime", id: want })),
      server,
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("no UDP reply within 10 s")), 10_000);
    });
    try {
      const [data] = await Promise.race([udp.receive(), timeout]);
      const reply = JSON.parse(dec.decode(data));
      assert.equal(reply.id, want);
      assert.ok(reply.result["Up time"]);
      return performance.now() - t0;
    } finally {
      clearTimeout(timer);
    }
  };

  try {
    await uptime();
    // The heavy client: one slow host read after another.
    const durations: number[] = [];
    let done = false;
    const heavy = (async () => {
      try {
        for (let i = 0; i < HEAVY; i++) {
          const t0 = performance.now();
          const r = await fetch(d.url, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
              jsonrpc: "2.0",
              method: "get_statistics",
              params: [["irq:"]],
              id: i,
            }),
          });
          const body = await r.json();
          assert.equal(body.result["irq:LOC"] > 0, true, JSON.stringify(body).slice(0, 300));
          durations.push(performance.now() - t0);
        }
      } finally {
        done = true;
      }
    })();
    const latencies: number[] = [];
    while (!done) latencies.push(await uptime());
    await heavy;

    durations.sort((a, b) => a - b);
    const median = durations[Math.floor(durations.length / 2)];
    // Each read must take long enough for a stall to show at all.
    assert.ok(median >= 40, `a read of the 13 MB file took only ${median.toFixed(1)} ms`);
    const slow = latencies.filter((l) => l > median / 2);
    assert.ok(latencies.length >= HEAVY * 5, `only ${latencies.length} uptime replies`);
    // A blocked event loop holds one uptime per read for about the read's
    // duration; one late reply is tolerated as scheduling noise on a shared machine.
    assert.ok(
      slow.length <= 1,
      `${slow.length} of ${latencies.length} uptime replies took over ${
        (median / 2).toFixed(1)
      } ms (a host read takes ${median.toFixed(1)} ms): ${
        slow.map((l) => l.toFixed(1)).join(", ")
      }`,
    );
  } finally {
    udp.close();
  }
});
