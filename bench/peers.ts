// The servers the benchmark compares: sipmi from this checkout, Kamailio's
// jsonrpcs from Debian's package, OpenSIPS when SIPMI_BENCH_OPENSIPS names a
// binary, and for the HTTP rows the runtime's own floor: a bare Deno.serve
// JSON responder (bench/deno_serve.ts). Each is started on loopback with a
// config kept in bench/.

import { serverString } from "../mi/core_cmds.ts";

export type FifoFraming = "opensips" | "kamailio";

export interface RunningPeer {
  name: string;
  version: string;
  /** Main pid; the benchmark sums CPU and memory over its process tree. */
  pid: number;
  udp: { host: string; port: number };
  http: { port: number; path: string };
  fifo: { path: string; replyDir: string; framing: FifoFraming };
  /** The unix datagram socket, where the peer has one in this setup. */
  unix?: string;
  /** The rows it takes part in (all when absent): the Deno.serve floor has the trivial HTTP ones. */
  rows?: readonly string[];
  /** The trivial command, a command with a multi-kilobyte reply, and one whose reply comes from memory only. */
  trivial: Record<string, unknown>;
  large: Record<string, unknown>;
  memory: Record<string, unknown>;
  stop(): Promise<void>;
}

export interface PeerDef {
  name: string;
  /** Measured only in the rows that name it in `peers` (a row of its own). */
  listedRowsOnly?: boolean;
  /** Why the peer cannot run here, or undefined. */
  unavailable(): Promise<string | undefined>;
  start(dir: string): Promise<RunningPeer>;
}

const BENCH = new URL(".", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

/** The V8 flags of `deno task start` (deno.json), so the bench runs the daemon as operators do. */
async function startFlags(): Promise<string[]> {
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks as Record<
    string,
    string
  >;
  return tasks.start.split(/\s+/).filter((w) => w.startsWith("--v8-flags="));
}

function freePort(transport: "tcp" | "udp"): number {
  if (transport === "tcp") {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    return port;
  }
  const l = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function which(cmd: string): Promise<string | undefined> {
  const out = await new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "piped" })
    .output();
  return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
}

/** Waits until a probe succeeds or the time runs out. */
async function waitFor(what: string, probe: () => Promise<boolean>, ms = 15000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not become ready within ${ms} ms`);
}

/** True when an HTTP JSON-RPC POST answers with a result. */
async function httpAnswers(port: number, path: string, body: unknown): Promise<boolean> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(1000),
  });
  return r.ok && "result" in await r.json();
}

async function processGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      await Deno.stat(`/proc/${pid}`);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/**
 * Starts a C daemon that forks into the background. Its output goes to a
 * file: the forked children keep stderr open, so a pipe would never end.
 */
async function daemonize(
  bin: string,
  args: string[],
  logFile: string,
): Promise<{ success: boolean; log: string }> {
  const log = await Deno.open(logFile, { write: true, create: true, truncate: true });
  try {
    const child = new Deno.Command(bin, { args, stdin: "null", stdout: "null", stderr: "piped" })
      .spawn();
    // Copy the launcher's output until it exits (its children inherit the pipe, so do not wait for EOF).
    void child.stderr.pipeTo(log.writable).catch(() => {});
    const status = await child.status;
    await new Promise((r) => setTimeout(r, 100));
    return {
      success: status.success,
      log: (await Deno.readTextFile(logFile).catch(() => "")).slice(-2000),
    };
  } catch (e) {
    return { success: false, log: String(e) };
  }
}

/**
 * Starts a C server that forks into the background and writes a pid file
 * (`-P`), waits until it answers over HTTP, and reads its version line.
 * (tests/helpers/kamailio.ts starts Kamailio for the relay tests with it.)
 */
export async function startForking(opts: {
  name: string;
  bin: string;
  args: string[];
  dir: string;
  probe: { port: number; path: string; request: Record<string, unknown> };
  versionArgs: string[];
}): Promise<Pick<RunningPeer, "name" | "version" | "pid" | "stop">> {
  const pidFile = `${opts.dir}/${opts.name}.pid`;
  const out = await daemonize(
    opts.bin,
    [...opts.args, "-P", pidFile],
    `${opts.dir}/${opts.name}.log`,
  );
  if (!out.success) throw new Error(`${opts.name} did not start: ${out.log}`);
  const pid = Number((await Deno.readTextFile(pidFile)).trim());
  const stop = async () => {
    signal(pid, "SIGTERM");
    if (!await processGone(pid, 5000)) signal(pid, "SIGKILL");
  };
  try {
    await waitFor(
      opts.name,
      () => httpAnswers(opts.probe.port, opts.probe.path, opts.probe.request),
    );
  } catch (e) {
    await stop();
    throw e;
  }
  const v = await new Deno.Command(opts.bin, { args: opts.versionArgs, stdout: "piped" }).output();
  const version = new TextDecoder().decode(v.stdout).split("\n")[0].replace(/^version:\s*/, "")
    .trim();
  return { name: opts.name, version, pid, stop };
}

function signal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/**
 * A Deno child whose log goes to a file (so it never blocks on a full
 * pipe); `stop` ends it with SIGTERM and waits for the log.
 */
async function spawnDeno(
  args: string[],
  logFile: string,
): Promise<{ pid: number; stop: () => Promise<void> }> {
  const log = await Deno.open(logFile, { write: true, create: true, truncate: true });
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const logged = child.stderr.pipeTo(log.writable).catch(() => {});
  return {
    pid: child.pid,
    async stop() {
      signal(child.pid, "SIGTERM");
      await child.status;
      await logged;
    },
  };
}

/** Starts `sipmi serve` in `dir` on free ports, with `extra` config keys (the relay's upstream). */
async function startSipmi(
  dir: string,
  name: string,
  extra: Record<string, unknown> = {},
  io: "ffi" | "deno" = "ffi",
): Promise<RunningPeer> {
  const udpPort = await freePort("udp");
  const httpPort = await freePort("tcp");
  const config = {
    log_level: 1,
    fifo: { path: `${dir}/sipmi_fifo`, reply_dir: `${dir}/`, io },
    datagram: { listen: [`udp:127.0.0.1:${udpPort}`, `unix:${dir}/sipmi.sock`], io },
    http: { listen: `127.0.0.1:${httpPort}` },
    ...extra,
  };
  await Deno.writeTextFile(`${dir}/sipmi.jsonc`, JSON.stringify(config, null, 2));
  const child = await spawnDeno(
    [
      "run",
      "-A",
      ...await startFlags(),
      `${ROOT}main.ts`,
      "serve",
      "--config",
      `${dir}/sipmi.jsonc`,
    ],
    `${dir}/sipmi.log`,
  );
  const trivial = { jsonrpc: "2.0", method: "uptime", id: 1 };
  try {
    await waitFor(name, () => httpAnswers(httpPort, "/mi", trivial));
  } catch (e) {
    await child.stop();
    throw e;
  }
  return {
    name,
    version: serverString(),
    pid: child.pid,
    udp: { host: "127.0.0.1", port: udpPort },
    http: { port: httpPort, path: "/mi" },
    fifo: { path: `${dir}/sipmi_fifo`, replyDir: dir, framing: "opensips" },
    unix: `${dir}/sipmi.sock`,
    trivial,
    large: { jsonrpc: "2.0", method: "get_statistics", params: [["all"]], id: 1 },
    // `all` also reads host counters from /proc live; these groups are counters in memory.
    memory: { jsonrpc: "2.0", method: "get_statistics", params: [["mi:", "core:"]], id: 1 },
    stop: child.stop,
  };
}

export const sipmiPeer: PeerDef & {
  /** `extra`: more top-level config sections (`tuning`, `stats`), for the host rows. */
  start(dir: string, extra?: Record<string, unknown>): Promise<RunningPeer>;
} = {
  name: "sipmi",
  unavailable: () => Promise.resolve(undefined),
  start: (dir: string, extra: Record<string, unknown> = {}) => startSipmi(dir, "sipmi", extra),
};

/** sipmi with `fifo.io` and `datagram.io` set to "deno": only in the rows that name it. */
export const sipmiDenoIoPeer: PeerDef = {
  name: "sipmi-deno",
  listedRowsOnly: true,
  unavailable: () => Promise.resolve(undefined),
  start: (dir: string) => startSipmi(dir, "sipmi-deno", {}, "deno"),
};

export const kamailioPeer: PeerDef = {
  name: "kamailio",
  async unavailable() {
    return await which("kamailio")
      ? undefined
      : "kamailio is not installed (apt-get install kamailio)";
  },
  async start(dir) {
    const trivial = { jsonrpc: "2.0", method: "core.uptime", id: 1 };
    const d = await startForking({
      name: "kamailio",
      bin: "kamailio",
      args: ["-f", `${BENCH}kamailio.cfg`, "-u", "root", "-g", "root", "-w", dir],
      dir,
      probe: { port: 5071, path: "/RPC", request: trivial },
      versionArgs: ["-v"],
    });
    return {
      ...d,
      udp: { host: "127.0.0.1", port: 8090 },
      http: { port: 5071, path: "/RPC" },
      fifo: { path: "/tmp/kamailio_rpc.fifo", replyDir: "/tmp", framing: "kamailio" },
      trivial,
      large: { jsonrpc: "2.0", method: "stats.get_statistics", params: ["all"], id: 1 },
      memory: { jsonrpc: "2.0", method: "stats.get_statistics", params: ["all"], id: 1 },
    };
  },
};

/**
 * bench/opensips.cfg with every @MPATH@ replaced by the module directory
 * (the comment at its top names the placeholder too, so replacing only the
 * first one left `mpath="@MPATH@"` and OpenSIPS found no module).
 */
export function opensipsConfig(template: string, mpath: string): string {
  return template.replaceAll("@MPATH@", mpath.replace(/\/?$/, "/"));
}

export const opensipsPeer: PeerDef = {
  name: "opensips",
  unavailable() {
    const bin = Deno.env.get("SIPMI_BENCH_OPENSIPS");
    if (!bin) return Promise.resolve("SIPMI_BENCH_OPENSIPS is not set");
    if (!Deno.env.get("SIPMI_BENCH_OPENSIPS_MPATH")) {
      return Promise.resolve("SIPMI_BENCH_OPENSIPS_MPATH is not set");
    }
    return Promise.resolve(undefined);
  },
  async start(dir) {
    const mpath = Deno.env.get("SIPMI_BENCH_OPENSIPS_MPATH")!;
    const cfg = `${dir}/opensips.cfg`;
    const text = opensipsConfig(await Deno.readTextFile(`${BENCH}opensips.cfg`), mpath);
    await Deno.writeTextFile(cfg, text);
    const trivial = { jsonrpc: "2.0", method: "uptime", id: 1 };
    const d = await startForking({
      name: "opensips",
      bin: Deno.env.get("SIPMI_BENCH_OPENSIPS")!,
      args: ["-f", cfg, "-w", dir],
      dir,
      probe: { port: 8892, path: "/mi", request: trivial },
      versionArgs: ["-V"],
    });
    return {
      ...d,
      udp: { host: "127.0.0.1", port: 8091 },
      http: { port: 8892, path: "/mi" },
      fifo: { path: "/tmp/opensips_bench_fifo", replyDir: "/tmp", framing: "opensips" },
      trivial,
      large: { jsonrpc: "2.0", method: "get_statistics", params: [["all"]], id: 1 },
      memory: { jsonrpc: "2.0", method: "get_statistics", params: [["all"]], id: 1 },
    };
  },
};

/**
 * sipmi relaying to the Kamailio peer over its UDP MI (docs/upstream.md):
 * its "trivial" request is Kamailio's `core.uptime`, sent to sipmi, which
 * relays it. Measured only in the rows that name it (the relayed row, beside
 * Kamailio direct), so it must start after the Kamailio peer.
 */
export const sipmiRelayPeer: PeerDef = {
  name: "sipmi-relay",
  listedRowsOnly: true,
  unavailable: () => kamailioPeer.unavailable(),
  async start(dir) {
    const p = await startSipmi(dir, "sipmi-relay", {
      upstream: [{ name: "kamailio", kind: "kamailio", via: "udp:127.0.0.1:8090" }],
    });
    const relayed = { jsonrpc: "2.0", method: "core.uptime", id: 1 };
    try {
      await waitFor(
        "sipmi-relay's upstream (the kamailio peer's UDP MI)",
        () => httpAnswers(p.http.port, "/mi", relayed),
        5000,
      );
    } catch (e) {
      await p.stop();
      throw e;
    }
    return { ...p, trivial: relayed, large: relayed, memory: relayed };
  },
};

/** A bare Deno.serve JSON responder (`--checks`: plus the reads the protocol needs). */
function bareDeno(name: string, checks: boolean): PeerDef {
  return {
    name,
    unavailable: () => Promise.resolve(undefined),
    async start(dir) {
      const port = await freePort("tcp");
      const args = ["run", "--allow-net", `${BENCH}deno_serve.ts`, String(port)];
      const child = await spawnDeno(checks ? [...args, "--checks"] : args, `${dir}/${name}.log`);
      const trivial = { jsonrpc: "2.0", method: "uptime", id: 1 };
      await waitFor(name, () => httpAnswers(port, "/mi", trivial));
      return {
        name,
        version: `Deno ${Deno.version.deno}`,
        pid: child.pid,
        rows: ["http-1", "http-16"],
        // Only HTTP rows reach this peer.
        udp: { host: "127.0.0.1", port: 0 },
        http: { port, path: "/mi" },
        fifo: { path: "", replyDir: "", framing: "opensips" },
        trivial,
        large: trivial,
        memory: trivial,
        stop: child.stop,
      };
    },
  };
}

/** The runtime's floor for HTTP: what Deno.serve alone does with a JSON request. */
export const denoServePeer = bareDeno("deno-serve", false);
/** The same plus the reads the MI protocol needs of every request (method, path, two headers). */
export const denoChecksPeer = bareDeno("deno-checks", true);

export const PEERS: readonly PeerDef[] = [
  sipmiPeer,
  sipmiDenoIoPeer,
  kamailioPeer,
  opensipsPeer,
  sipmiRelayPeer,
  denoServePeer,
];
