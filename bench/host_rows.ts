// The host rows of the benchmark: what host statistics and tuning commands
// cost sipmi's other clients. sipmi only (the peers have no tuning side).
//
//   - the large-reply rows again with `stats.host_max_age_ms: 0`: every
//     `get_statistics all` reads /proc live (in the tuning worker);
//   - on the 1152-CPU root of tests/tuning_big_root.ts (13 MB of
//     /proc/interrupts): the UDP `uptime` latency of a paced probe alone,
//     while another client loops `get_statistics all` over HTTP, and while
//     one loops `tune_show` — with the default max age and with 0.
//
// The probe sends 2,000 requests a second and counts each one's latency
// from when it was due (loadgen udp-paced), so a stalled event loop shows
// in p99 as every request it held up.

import { buildBigRoot } from "../tests/tuning_big_root.ts";
import { type LoadResult, type Row, runLoad } from "./load.ts";
import { type RunningPeer, sipmiPeer } from "./peers.ts";

const PROBE_RATE = 2000;

export interface ProbeResult {
  /** The root and the max age of the daemon measured. */
  setup: string;
  /** "alone", or the request another client loops over HTTP. */
  load: string;
  probe: LoadResult;
  /** The looping client's own result (absent when alone). */
  loop?: LoadResult;
}

export interface LiveLarge {
  row: string;
  result: LoadResult;
}

export interface HostRows {
  live: LiveLarge[];
  probes: ProbeResult[];
}

async function probe(
  loadgen: string,
  peer: RunningPeer,
  seconds: number,
  dir: string,
): Promise<LoadResult> {
  const req = `${dir}/probe.json`;
  await Deno.writeTextFile(req, JSON.stringify(peer.trivial));
  const out = await new Deno.Command(loadgen, {
    args: [
      "udp-paced",
      peer.udp.host,
      String(peer.udp.port),
      String(PROBE_RATE),
      String(seconds),
      String(PROBE_RATE * seconds + 1),
      req,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout((seconds + 30) * 1000),
  }).output();
  if (!out.success) throw new Error(`udp-paced: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
}

/** The probe alone, then beside a client looping each request over HTTP. */
async function probes(
  loadgen: string,
  peer: RunningPeer,
  setup: string,
  seconds: number,
  dir: string,
): Promise<ProbeResult[]> {
  const out: ProbeResult[] = [{
    setup,
    load: "alone",
    probe: await probe(loadgen, peer, seconds, dir),
  }];
  const loops: [string, Record<string, unknown>][] = [
    ["get_statistics all", peer.large],
    ["tune_show", { jsonrpc: "2.0", method: "tune_show", id: 1 }],
  ];
  for (const [name, request] of loops) {
    const row: Row = { id: "host-loop", label: name, kind: "http", clients: 1, request: "large" };
    // The loop starts first and ends after the probe.
    const loop = runLoad(loadgen, { ...peer, large: request }, row, {
      seconds: seconds + 1.5,
      maxRequests: 10_000_000,
      dir,
    });
    await new Promise((r) => setTimeout(r, 500));
    const result = await probe(loadgen, peer, seconds, dir);
    out.push({ setup, load: name, probe: result, loop: await loop });
  }
  return out;
}

export async function runHostRows(
  loadgen: string,
  dir: string,
  seconds: number,
  log: (line: string) => void,
): Promise<HostRows> {
  const rows: HostRows = { live: [], probes: [] };
  const live = `${dir}/sipmi-live`;
  await Deno.mkdir(live);
  let peer = await sipmiPeer.start(live, { stats: { host_max_age_ms: 0 } });
  try {
    for (const [id, kind] of [["fifo-large", "fifo-pre"], ["http-large", "http"]] as const) {
      const row: Row = { id, label: id, kind, clients: 1, request: "large" };
      await runLoad(loadgen, peer, row, {
        seconds: Math.min(1, seconds / 4),
        maxRequests: 1e6,
        dir,
      });
      const result = await runLoad(loadgen, peer, row, { seconds, maxRequests: 2e6, dir });
      log(`${id} host_max_age_ms 0: ${result.rps.toFixed(0)} req/s`);
      rows.live.push({ row: id, result });
    }
  } finally {
    await peer.stop();
  }

  const root = `${dir}/root-1152`;
  await Deno.mkdir(root);
  await buildBigRoot(root);
  for (const maxAge of [undefined, 0]) {
    const d = `${dir}/sipmi-1152-${maxAge ?? "default"}`;
    await Deno.mkdir(d);
    const extra: Record<string, unknown> = { tuning: { root } };
    if (maxAge !== undefined) extra.stats = { host_max_age_ms: maxAge };
    peer = await sipmiPeer.start(d, extra);
    const setup = `1152-CPU root, host_max_age_ms ${maxAge ?? "default (1000)"}`;
    try {
      for (const r of await probes(loadgen, peer, setup, seconds, dir)) {
        log(
          `${setup}, ${r.load}: probe p50 ${r.probe.p50_ms.toFixed(3)} p99 ${
            r.probe.p99_ms.toFixed(3)
          } ms` + (r.loop ? `, loop ${r.loop.rps.toFixed(1)} req/s` : ""),
        );
        rows.probes.push(r);
      }
    } finally {
      await peer.stop();
    }
  }
  await Deno.remove(root, { recursive: true });
  return rows;
}

const f = (n: number, d: number) => Number.isFinite(n) ? n.toFixed(d) : "–";

/**
 * The host rows as markdown. `peerLarge` holds the peers' large-reply rows
 * of the same run, so the live rows show their ratio too.
 */
export function hostTables(
  rows: HostRows,
  peerLarge: { peer: string; row: string; rps: number }[],
): string {
  const peers = [...new Set(peerLarge.map((p) => p.peer))];
  const out = [
    "| large reply, `stats.host_max_age_ms: 0` (every request reads /proc) | req/s | p50 ms | p99 ms |" +
    peers.map((p) => ` sipmi/${p} req/s |`).join(""),
    "|---|---:|---:|---:|" + peers.map(() => "---:|").join(""),
  ];
  for (const l of rows.live) {
    const ratios = peers.map((p) => {
      const r = peerLarge.find((x) => x.peer === p && x.row === l.row);
      return r && r.rps > 0 ? `${(l.result.rps / r.rps).toFixed(2)}×` : "–";
    });
    out.push(
      `| ${l.row === "fifo-large" ? "FIFO" : "HTTP"}, large reply | ${f(l.result.rps, 0)} | ${
        f(l.result.p50_ms, 3)
      } | ${f(l.result.p99_ms, 3)} |${ratios.map((r) => ` ${r} |`).join("")}`,
    );
  }
  out.push(
    "",
    `| UDP \`uptime\` probe (${PROBE_RATE}/s, latency from when due) | while | p50 ms | p99 ms | p99 / alone | loop req/s | loop p50 ms |`,
    "|---|---|---:|---:|---:|---:|---:|",
  );
  for (const p of rows.probes) {
    const alone = rows.probes.find((x) => x.setup === p.setup && x.load === "alone")!;
    out.push(
      `| ${p.load === "alone" ? p.setup : ""} | ${p.load} | ${f(p.probe.p50_ms, 3)} | ${
        f(p.probe.p99_ms, 3)
      } | ${p.load === "alone" ? "" : `${(p.probe.p99_ms / alone.probe.p99_ms).toFixed(2)}×`} | ${
        p.loop ? f(p.loop.rps, 1) : ""
      } | ${p.loop ? f(p.loop.p50_ms, 3) : ""} |`,
    );
  }
  return out.join("\n");
}
