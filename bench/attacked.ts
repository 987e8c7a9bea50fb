// `deno task bench attacked`: what an attack on one transport costs the
// others. UDP `uptime` latency (one client, the shared load generator) is
// measured on a quiet sipmi, then while 200 slow HTTP connections are held
// open (one header byte a second each; a connection the daemon closes is
// opened again) and another client sends batches of 256 `get_statistics
// all` over HTTP as fast as they are answered.

import { buildLoadgen, type LoadResult, type Row, runLoad } from "./load.ts";
import { sipmiPeer } from "./peers.ts";

const UDP: Row = {
  id: "udp-1",
  label: "UDP uptime, 1 client",
  kind: "udp",
  clients: 1,
  request: "trivial",
};
const SLOW_CONNECTIONS = 200;
const BATCH = 256;

const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One connection that sends a request head a byte a second, reopened when closed. */
async function slowConnection(port: number, stop: { now: boolean }, closed: { n: number }) {
  const head = encoder.encode("POST /mi HTTP/1.1\r\nHost: x\r\nX-Slow: " + "a".repeat(1000));
  while (!stop.now) {
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
    } catch {
      await sleep(100);
      continue;
    }
    try {
      for (let i = 0; i < head.length && !stop.now; i++) {
        await conn.write(head.subarray(i, i + 1));
        await sleep(1000);
      }
    } catch {
      closed.n++; // the daemon closed it (header timeout, connection limit)
    } finally {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }
}

/** Batches of get_statistics over one keep-alive connection, back to back. */
async function batchClient(port: number, stop: { now: boolean }): Promise<number> {
  const body = JSON.stringify(
    Array.from({ length: BATCH }, (_, i) => ({
      jsonrpc: "2.0",
      method: "get_statistics",
      params: [["all"]],
      id: i,
    })),
  );
  let answered = 0;
  while (!stop.now) {
    const r = await fetch(`http://127.0.0.1:${port}/mi`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    const text = await r.text();
    if (r.status === 200 && text.startsWith("[")) answered++;
  }
  return answered;
}

export async function runAttacked(seconds: number): Promise<void> {
  const loadgen = await buildLoadgen();
  const dir = await Deno.makeTempDir({ prefix: "sipmi-bench-attacked-" });
  await Deno.mkdir(`${dir}/sipmi`);
  const sipmi = await sipmiPeer.start(`${dir}/sipmi`);
  let idle: LoadResult, attacked: LoadResult;
  let batches = 0;
  const closed = { n: 0 };
  try {
    const opts = { seconds, maxRequests: 2_000_000, dir };
    await runLoad(loadgen, sipmi, UDP, { ...opts, seconds: 1 }); // warm-up
    idle = await runLoad(loadgen, sipmi, UDP, opts);
    const stop = { now: false };
    const slow = Array.from(
      { length: SLOW_CONNECTIONS },
      () => slowConnection(sipmi.http.port, stop, closed),
    );
    const batching = batchClient(sipmi.http.port, stop);
    await sleep(1000); // every slow connection is open and the batches flow
    try {
      attacked = await runLoad(loadgen, sipmi, UDP, opts);
    } finally {
      stop.now = true;
      batches = await batching;
      await Promise.all(slow);
    }
  } finally {
    await sipmi.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  const row = (what: string, r: LoadResult) =>
    `| ${what} | ${r.rps.toFixed(0)} | ${r.p50_ms.toFixed(3)} | ${
      r.p99_ms.toFixed(3)
    } | ${r.errors} |`;
  console.log(`\n## sipmi while attacked, ${new Date().toISOString().slice(0, 10)}\n`);
  console.log(
    `UDP uptime, 1 client, ${seconds} s each; the attack: ${SLOW_CONNECTIONS} slow HTTP ` +
      `connections (${closed.n} closed by sipmi and reopened) and a client sending batches of ` +
      `${BATCH} get_statistics all (${batches} answered meanwhile).\n`,
  );
  console.log("| UDP uptime | req/s | p50 ms | p99 ms | errors |");
  console.log("|---|---:|---:|---:|---:|");
  console.log(row("quiet", idle));
  console.log(row("while attacked", attacked));
  console.log(`\np99 while attacked / quiet: ${(attacked.p99_ms / idle.p99_ms).toFixed(1)}×`);
}
