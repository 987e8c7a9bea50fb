// `deno task bench floor`: sipmi's HTTP against the runtime's own floor, in
// rounds (this machine is shared and noisy, so one run says little).
//
// Each round runs the two trivial HTTP rows (1 and 16 keep-alive
// connections) against sipmi, a bare Deno.serve JSON responder and the same
// responder reading what the MI protocol needs (bench/deno_serve.ts), and
// reports req/s and server CPU per request as ratios to the bare responder
// of the same round. Within a round the servers take turns in slices of
// half a second, in alternating order, so that what the rest of the machine
// does falls on all of them alike.

import { buildLoadgen, type LoadResult, type Row, runLoad } from "./load.ts";
import { denoChecksPeer, denoServePeer, type RunningPeer, sipmiPeer } from "./peers.ts";
import { cpuSeconds, processTree } from "./proc.ts";

interface Sample extends LoadResult {
  round: number;
  row: string;
  peer: string;
  cpu_us_per_req: number;
}

const BENCH = new URL(".", import.meta.url).pathname;

const SLICE_S = 0.5;

/** One row of one round: every peer `seconds` in all, in alternating slices. */
async function round(
  loadgen: string,
  peers: RunningPeer[],
  row: Row,
  seconds: number,
  dir: string,
): Promise<Omit<Sample, "round">[]> {
  const sum = new Map(
    peers.map((
      p,
    ) => [p.name, {
      requests: 0,
      errors: 0,
      seconds: 0,
      cpu: 0,
      p50: [] as number[],
      p99: [] as number[],
    }]),
  );
  for (const p of peers) {
    await runLoad(loadgen, p, row, { seconds: SLICE_S, maxRequests: 1e6, dir });
  }
  const slices = Math.max(1, Math.round(seconds / SLICE_S));
  for (let k = 0; k < slices; k++) {
    for (const p of k % 2 === 0 ? peers : [...peers].reverse()) {
      const pids = await processTree(p.pid);
      const cpu0 = await cpuSeconds(pids);
      const r = await runLoad(loadgen, p, row, { seconds: SLICE_S, maxRequests: 5e6, dir });
      const s = sum.get(p.name)!;
      s.cpu += await cpuSeconds(pids) - cpu0;
      s.requests += r.requests;
      s.errors += r.errors;
      s.seconds += r.seconds;
      s.p50.push(r.p50_ms);
      s.p99.push(r.p99_ms);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return peers.map((p) => {
    const s = sum.get(p.name)!;
    return {
      row: row.id,
      peer: p.name,
      requests: s.requests,
      errors: s.errors,
      seconds: s.seconds,
      rps: s.requests / s.seconds,
      p50_ms: median(s.p50),
      p99_ms: median(s.p99),
      reply_bytes: 0,
      cpu_us_per_req: s.requests > 0 ? s.cpu / s.requests * 1e6 : NaN,
    };
  });
}

/** `rows`: the table's trivial HTTP rows (1 and 16 connections). */
export async function runFloor(rows: Row[], seconds: number, rounds: number): Promise<void> {
  const loadgen = await buildLoadgen();
  const dir = await Deno.makeTempDir({ prefix: "sipmi-bench-floor-" });
  const running: RunningPeer[] = [];
  const samples: Sample[] = [];
  try {
    for (const def of [denoServePeer, denoChecksPeer, sipmiPeer]) {
      const peerDir = `${dir}/${def.name}`;
      await Deno.mkdir(peerDir);
      running.push(await def.start(peerDir));
    }
    for (let n = 1; n <= rounds; n++) {
      for (const row of rows) {
        for (const r of await round(loadgen, running, row, seconds, dir)) {
          const s = { round: n, ...r };
          samples.push(s);
          console.error(
            `bench floor: round ${n} ${row.id.padEnd(8)} ${s.peer.padEnd(11)} ${
              s.rps.toFixed(0).padStart(7)
            } req/s  ${s.cpu_us_per_req.toFixed(2)} µs CPU/req`,
          );
        }
      }
    }
  } finally {
    for (const p of running) await p.stop().catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  const lines = [
    "| row | round | Deno.serve req/s | + protocol reads | sipmi | sipmi / Deno.serve req/s | sipmi / + reads | CPU µs/req (Deno.serve, + reads, sipmi) |",
    "|---|---:|---:|---:|---:|---:|---:|---|",
  ];
  const worst: Record<string, number> = {};
  for (const row of rows) {
    for (let round = 1; round <= rounds; round++) {
      const get = (peer: string) =>
        samples.find((s) => s.round === round && s.row === row.id && s.peer === peer)!;
      const bare = get("deno-serve"), reads = get("deno-checks"), sipmi = get("sipmi");
      const ratio = sipmi.rps / bare.rps;
      worst[row.id] = Math.min(worst[row.id] ?? Infinity, ratio);
      lines.push(
        `| ${round === 1 ? row.label : ""} | ${round} | ${bare.rps.toFixed(0)} | ${
          reads.rps.toFixed(0)
        } | ${sipmi.rps.toFixed(0)} | ${ratio.toFixed(2)}× | ${
          (sipmi.rps / reads.rps).toFixed(2)
        }× | ${[bare, reads, sipmi].map((s) => s.cpu_us_per_req.toFixed(1)).join(", ")} |`,
      );
    }
  }
  const date = new Date().toISOString();
  console.log(`\n## sipmi HTTP against Deno.serve, ${date.slice(0, 10)}\n`);
  console.log(
    `${rounds} rounds; in each, ${seconds} s per server and row in slices of ${SLICE_S} s taking turns; ` +
      `Deno ${Deno.version.deno}; ` +
      `the load client shares the cores.\n`,
  );
  console.log(lines.join("\n"));
  console.log(
    `\nLowest sipmi / Deno.serve: ${
      rows.map((r) => `${r.id} ${worst[r.id].toFixed(2)}×`).join(", ")
    }`,
  );
  await Deno.mkdir(`${BENCH}results`, { recursive: true });
  const file = `${BENCH}results/floor-${date.replace(/[:.]/g, "-")}.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({ date, seconds, rounds, samples }, null, 2) + "\n",
  );
  console.log(`\nJSON: ${file}`);
}
