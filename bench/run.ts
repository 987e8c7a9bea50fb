// `deno task bench [table|soak|micro]`: sipmi side by side with Kamailio's
// jsonrpcs (and OpenSIPS when SIPMI_BENCH_OPENSIPS is set), same clients,
// same machine, same run — reported as ratios because the machine is shared.
//
//   table     (default) every row against every peer, interleaved row by row
//             (the bare Deno.serve responder joins the trivial HTTP rows)
//   floor     sipmi's HTTP rows against Deno.serve alone, in --rounds rounds
//   attacked  UDP uptime latency, quiet and while HTTP is attacked
//   soak      1,000,000 requests mixed over all transports against sipmi; RSS over time
//   micro     `deno bench` of the hot paths (JSON-RPC, recipes, /proc parsing, patterns)

import { parseArgs } from "node:util";
import { buildLoadgen, type LoadResult, type Row, runLoad } from "./load.ts";
import { type HostRows, hostTables, runHostRows } from "./host_rows.ts";
import { PEERS, type RunningPeer } from "./peers.ts";
import { cpuSeconds, memory, processTree } from "./proc.ts";
import { runSoak } from "./soak.ts";
import { runFloor } from "./floor.ts";
import { runAttacked } from "./attacked.ts";

const ROWS: Row[] = [
  { id: "udp-1", label: "UDP, 1 client", kind: "udp", clients: 1, request: "trivial" },
  {
    id: "udp-1-deno",
    label: 'UDP, 1 client, datagram.io "deno"',
    kind: "udp",
    clients: 1,
    request: "trivial",
    peers: ["sipmi-deno"],
  },
  { id: "udp-16", label: "UDP, 16 clients", kind: "udp", clients: 16, request: "trivial" },
  {
    id: "http-1",
    label: "HTTP keep-alive, 1 connection",
    kind: "http",
    clients: 1,
    request: "trivial",
  },
  {
    id: "http-16",
    label: "HTTP keep-alive, 16 connections",
    kind: "http",
    clients: 16,
    request: "trivial",
  },
  {
    id: "fifo-pre",
    label: "FIFO, reply FIFO opened first",
    kind: "fifo-pre",
    clients: 1,
    request: "trivial",
  },
  {
    id: "fifo-pre-deno",
    label: 'FIFO, reply FIFO opened first, fifo.io "deno"',
    kind: "fifo-pre",
    clients: 1,
    request: "trivial",
    peers: ["sipmi-deno"],
  },
  {
    id: "fifo-python",
    label: "FIFO, python opensips order",
    kind: "fifo-python",
    clients: 1,
    request: "trivial",
  },
  { id: "fifo-large", label: "FIFO, large reply", kind: "fifo-pre", clients: 1, request: "large" },
  { id: "http-large", label: "HTTP, large reply", kind: "http", clients: 1, request: "large" },
  {
    id: "http-memory",
    label: "HTTP, in-memory statistics",
    kind: "http",
    clients: 1,
    request: "memory",
  },
  {
    id: "udp-relay",
    label: "UDP, 1 client: Kamailio direct, and through sipmi's relay (UDP to Kamailio)",
    kind: "udp",
    clients: 1,
    request: "trivial",
    peers: ["kamailio", "sipmi-relay"],
  },
];

/** What the relay adds to each request: sipmi-relay against Kamailio direct, same row. */
function relayOverhead(results: Measured[]): string | undefined {
  const direct = results.find((r) => r.row === "udp-relay" && r.peer === "kamailio");
  const relayed = results.find((r) => r.row === "udp-relay" && r.peer === "sipmi-relay");
  if (!direct || !relayed || !(direct.rps > 0 && relayed.rps > 0)) return undefined;
  const us = (ms: number) => `${(ms * 1000).toFixed(0)} µs`;
  return `Relay overhead per request (sipmi → Kamailio over UDP, against Kamailio direct, 1 client): ` +
    `${us(relayed.p50_ms - direct.p50_ms)} at p50, ${us(relayed.p99_ms - direct.p99_ms)} at p99, ` +
    `${us(1000 / relayed.rps - 1000 / direct.rps)} mean (from req/s); ` +
    `sipmi's CPU ${fmt(relayed.cpu_s_per_1k * 1000, 0)} µs per request.`;
}

interface Measured extends LoadResult {
  peer: string;
  row: string;
  cpu_s_per_1k: number;
  rss_mb_before: number;
  rss_mb_after: number;
  pss_mb_after: number;
  processes: number;
}

const BENCH = new URL(".", import.meta.url).pathname;

async function ensureKamailio(): Promise<void> {
  const have = await new Deno.Command("sh", { args: ["-c", "command -v kamailio"], stdout: "null" })
    .output();
  if (have.success) return;
  console.error("bench: installing kamailio from Debian (apt-get)...");
  const r = await new Deno.Command("sh", {
    args: [
      "-c",
      "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kamailio",
    ],
    stdout: "null",
    stderr: "inherit",
  }).output();
  if (!r.success) console.error("bench: could not install kamailio; its column will be missing");
}

async function measure(
  loadgen: string,
  peer: RunningPeer,
  row: Row,
  seconds: number,
  dir: string,
): Promise<Measured> {
  const pids = await processTree(peer.pid);
  const before = await memory(pids);
  // Warm-up (JIT, caches, connection setup) is not measured.
  await runLoad(loadgen, peer, row, {
    seconds: Math.min(1, seconds / 4),
    maxRequests: 1_000_000,
    dir,
  });
  const cpu0 = await cpuSeconds(pids);
  const r = await runLoad(loadgen, peer, row, { seconds, maxRequests: 2_000_000, dir });
  const cpu1 = await cpuSeconds(await processTree(peer.pid));
  const after = await memory(await processTree(peer.pid));
  return {
    ...r,
    peer: peer.name,
    row: row.id,
    cpu_s_per_1k: r.requests > 0 ? (cpu1 - cpu0) / r.requests * 1000 : NaN,
    rss_mb_before: before.rssMb,
    rss_mb_after: after.rssMb,
    pss_mb_after: after.pssMb,
    processes: after.processes,
  };
}

const fmt = (n: number, digits = 1) => Number.isFinite(n) ? n.toFixed(digits) : "–";
const ratio = (a: number, b: number) =>
  b > 0 && Number.isFinite(a) ? `${(a / b).toFixed(2)}×` : "–";

function table(results: Measured[], peers: string[]): string {
  const lines = [
    "| row | server | req/s | p50 ms | p99 ms | errors | reply bytes | CPU s / 1k req | RSS MB before → after (PSS) | sipmi/peer req/s | sipmi/peer p50 |",
    "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
  ];
  for (const row of ROWS) {
    const s = results.find((r) => r.row === row.id && r.peer === "sipmi");
    let first = true;
    for (const p of peers) {
      const r = results.find((x) => x.row === row.id && x.peer === p);
      if (!r) continue;
      const label = first ? row.label : "";
      first = false;
      const isPeer = p !== "sipmi" && s;
      lines.push(
        `| ${label} | ${p} | ${fmt(r.rps, 0)} | ${fmt(r.p50_ms, 3)} | ${fmt(r.p99_ms, 3)} | ` +
          `${r.errors} | ${r.reply_bytes} | ${fmt(r.cpu_s_per_1k, 3)} | ${fmt(r.rss_mb_before)} → ${
            fmt(r.rss_mb_after)
          } (${fmt(r.pss_mb_after)}) | ` +
          `${isPeer ? ratio(s.rps, r.rps) : ""} | ${isPeer ? ratio(s.p50_ms, r.p50_ms) : ""} |`,
      );
    }
  }
  return lines.join("\n");
}

async function machine(): Promise<Record<string, unknown>> {
  const uname = new TextDecoder().decode(
    (await new Deno.Command("uname", { args: ["-srm"], stdout: "piped" }).output()).stdout,
  ).trim();
  return {
    cores: navigator.hardwareConcurrency,
    kernel: uname,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
  };
}

async function runTable(
  seconds: number,
  only: string[] | undefined,
  rowIds: string[] | undefined,
): Promise<void> {
  const rows = rowIds ? ROWS.filter((r) => rowIds.includes(r.id)) : ROWS;
  // "host": the host rows of sipmi (bench/host_rows.ts), after the others.
  const withHost = !rowIds || rowIds.includes("host");
  if (rowIds && rows.length + (withHost ? 1 : 0) !== rowIds.length) {
    throw new Error(`--rows takes ${[...ROWS.map((r) => r.id), "host"].join(", ")}`);
  }
  let host: HostRows | undefined;
  await ensureKamailio();
  const loadgen = await buildLoadgen();
  const dir = await Deno.makeTempDir({ prefix: "sipmi-bench-" });
  const running: RunningPeer[] = [];
  const results: Measured[] = [];
  // Ctrl-C must not leave a forked Kamailio behind.
  const interrupted = async () => {
    for (const p of running) await p.stop().catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", interrupted);
  Deno.addSignalListener("SIGTERM", interrupted);
  try {
    for (const def of PEERS) {
      if (only && !only.includes(def.name)) continue;
      const why = await def.unavailable();
      if (why) {
        console.error(`bench: ${def.name} skipped: ${why}`);
        continue;
      }
      const peerDir = `${dir}/${def.name}`;
      await Deno.mkdir(peerDir);
      running.push(await def.start(peerDir));
    }
    for (const row of rows) {
      // Row by row, one server at a time: peers never compete for the cores.
      for (const peer of running) {
        const def = PEERS.find((d) => d.name === peer.name);
        if (row.peers ? !row.peers.includes(peer.name) : def?.listedRowsOnly) continue;
        if (peer.rows && !peer.rows.includes(row.id)) continue;
        const m = await measure(loadgen, peer, row, seconds, dir);
        console.error(
          `bench: ${row.id.padEnd(12)} ${peer.name.padEnd(9)} ${
            fmt(m.rps, 0).padStart(8)
          } req/s  p50 ${fmt(m.p50_ms, 3)} ms  errors ${m.errors}`,
        );
        results.push(m);
      }
    }
    if (withHost && running.some((p) => p.name === "sipmi")) {
      host = await runHostRows(loadgen, dir, seconds, (l) => console.error(`bench: host: ${l}`));
    }
  } finally {
    Deno.removeSignalListener("SIGINT", interrupted);
    Deno.removeSignalListener("SIGTERM", interrupted);
    for (const p of running) {
      await p.stop().catch((e) => console.error(`bench: stopping ${p.name}: ${e}`));
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  const info = {
    date: new Date().toISOString(),
    machine: await machine(),
    versions: Object.fromEntries(running.map((p) => [p.name, p.version])),
    seconds_per_row: seconds,
  };
  const names = running.map((p) => p.name);
  console.log(`\n## sipmi benchmark, ${info.date.slice(0, 10)}\n`);
  console.log(
    `Machine: ${info.machine.cores} cores, ${info.machine.kernel}; Deno ${info.machine.deno}. ` +
      `Versions: ${
        running.map((p) => `${p.name} ${p.version}`).join("; ")
      }. ${seconds} s per row after a warm-up; ` +
      `the load client shares the cores.\n`,
  );
  console.log(table(results, names));
  const overhead = relayOverhead(results);
  if (overhead) console.log(`\n${overhead}`);
  if (host) {
    const large = results.filter((r) => r.peer !== "sipmi" && r.row.endsWith("-large"));
    console.log(`\n### Host rows (sipmi)\n\n${hostTables(host, large)}`);
  }
  await Deno.mkdir(`${BENCH}results`, { recursive: true });
  const file = `${BENCH}results/bench-${info.date.replace(/[:.]/g, "-")}.json`;
  await Deno.writeTextFile(file, JSON.stringify({ ...info, results, host }, null, 2) + "\n");
  console.log(`\nJSON: ${file}`);
}

async function runMicro(): Promise<void> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["bench", "-A", BENCH],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!r.success) Deno.exit(r.code);
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "4" },
      peers: { type: "string" },
      requests: { type: "string", default: "1000000" },
      rows: { type: "string" },
      rounds: { type: "string", default: "3" },
    },
    allowPositionals: true,
  });
  const mode = positionals[0] ?? "table";
  const seconds = Number(values.seconds);
  if (!(seconds > 0 && seconds <= 60)) throw new Error("--seconds must be in (0, 60]");
  if (mode === "table") await runTable(seconds, values.peers?.split(","), values.rows?.split(","));
  else if (mode === "soak") await runSoak(Number(values.requests));
  else if (mode === "floor") {
    await runFloor(
      ROWS.filter((r) => r.id === "http-1" || r.id === "http-16"),
      seconds,
      Number(values.rounds),
    );
  } else if (mode === "attacked") await runAttacked(seconds);
  else if (mode === "micro") await runMicro();
  else {
    console.error(`bench: unknown mode '${mode}' (table, floor, attacked, soak, micro)`);
    Deno.exit(2);
  }
}
