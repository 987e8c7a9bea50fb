// The soak: a million requests mixed over every transport against one sipmi
// daemon, in rounds; RSS after each round shows a leak as steady growth.

import { buildLoadgen, type LoadResult } from "./load.ts";
import { sipmiPeer } from "./peers.ts";
import { memory } from "./proc.ts";

interface Share {
  name: string;
  fraction: number;
  args: (n: number, req: string) => string[];
}

export async function runSoak(total: number): Promise<void> {
  const loadgen = await buildLoadgen();
  const dir = await Deno.makeTempDir({ prefix: "sipmi-soak-" });
  const peer = await sipmiPeer.start(dir);
  const ROUNDS = Math.max(10, Math.min(100, Math.round(total / 100_000)));
  const perRound = Math.ceil(total / ROUNDS);
  const req = `${dir}/req.json`;
  await Deno.writeTextFile(req, JSON.stringify(peer.trivial));
  const shares: Share[] = [
    {
      name: "udp",
      fraction: 0.35,
      args: (n, r) => ["udp", "127.0.0.1", String(peer.udp.port), "8", "300", String(n), r],
    },
    {
      name: "unix",
      fraction: 0.25,
      args: (n, r) => ["unix", peer.unix!, "4", "300", String(n), r],
    },
    {
      name: "http",
      fraction: 0.35,
      args: (
        n,
        r,
      ) => ["http", "127.0.0.1", String(peer.http.port), "/mi", "8", "300", String(n), r],
    },
    {
      name: "fifo",
      fraction: 0.05,
      args: (
        n,
        r,
      ) => ["fifo", peer.fifo.path, peer.fifo.replyDir, "pre", "opensips", "300", String(n), r],
    },
  ];
  // The daemon's own view of its V8 heap, to tell a leak (heap grows) from allocator settling (only RSS).
  const heapMb = async () => {
    const r = await fetch(`http://127.0.0.1:${peer.http.port}${peer.http.path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body:
        '{"jsonrpc":"2.0","method":"get_statistics","params":[["core:heap_used_bytes"]],"id":1}',
    });
    return (await r.json()).result["core:heap_used_bytes"] / 1048576;
  };
  const rss: number[] = [(await memory([peer.pid])).rssMb];
  const heap: number[] = [await heapMb()];
  let sent = 0, errors = 0;
  const started = Date.now();
  try {
    for (let round = 1; round <= ROUNDS && sent < total; round++) {
      const results = await Promise.all(shares.map(async (s) => {
        const n = Math.max(1, Math.round(perRound * s.fraction));
        const out = await new Deno.Command(loadgen, {
          args: s.args(n, req),
          stdout: "piped",
          stderr: "piped",
        }).output();
        if (!out.success) {
          throw new Error(`soak ${s.name}: ${new TextDecoder().decode(out.stderr)}`);
        }
        return JSON.parse(new TextDecoder().decode(out.stdout)) as LoadResult;
      }));
      for (const r of results) {
        sent += r.requests + r.errors;
        errors += r.errors;
      }
      rss.push((await memory([peer.pid])).rssMb);
      heap.push(await heapMb());
      console.error(
        `soak: round ${round}: ${sent} requests, ${errors} errors, RSS ${
          rss.at(-1)!.toFixed(1)
        } MB, ` +
          `V8 heap used ${heap.at(-1)!.toFixed(1)} MB`,
      );
    }
  } finally {
    await peer.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  const mid = rss[Math.floor(rss.length / 2)];
  console.log(`\n## sipmi soak, ${new Date().toISOString().slice(0, 10)}\n`);
  console.log(
    `${sent} requests (UDP 35%, unix 25%, HTTP 35%, FIFO 5%) in ${
      ((Date.now() - started) / 1000).toFixed(0)
    } s, ${errors} errors.`,
  );
  console.log(
    `RSS MB: start ${rss[0].toFixed(1)}, after round 1 ${rss[1]?.toFixed(1)}, middle ${
      mid.toFixed(1)
    }, end ${rss.at(-1)!.toFixed(1)}`,
  );
  console.log(`RSS by round: ${rss.map((r) => r.toFixed(1)).join(", ")}`);
  console.log(`V8 heap used by round: ${heap.map((r) => r.toFixed(1)).join(", ")}`);
  if (errors > 0) Deno.exitCode = 1;
}
