// Starts `sipmi serve` as a child process on a private temp dir and free
// loopback ports, waits until it says it is ready, and cleans up everything
// (process, FIFO, sockets, temp dir) however the test ends.

import { RUNTIME_FLAGS } from "../../service/runtime.ts";
import type { IoPath } from "../../transports/io_path.ts";

/**
 * The I/O paths of the FIFO and datagram listeners the transport tests run
 * against (`fifo.io`, `datagram.io`): both, or only the one SIPMI_TEST_IO names.
 */
export const IO_PATHS: IoPath[] = (() => {
  const only = Deno.env.get("SIPMI_TEST_IO");
  return only === "ffi" || only === "deno" ? [only] : ["ffi", "deno"];
})();

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const ROOT = new URL("../..", import.meta.url).pathname;

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freeTcpPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A UDP port that was free a moment ago on 127.0.0.1 (and ::1). */
export function freeUdpPort(): number {
  for (let i = 0; i < 20; i++) {
    const c = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const port = (c.addr as Deno.NetAddr).port;
    c.close();
    try {
      Deno.listenDatagram({ transport: "udp", hostname: "::1", port }).close();
      return port;
    } catch {
      // Taken on ::1: try another.
    }
  }
  throw new Error("no free UDP port");
}

export interface Paths {
  dir: string;
  fifo: string;
  replyDir: string;
  sock: string;
  udpPort: number;
  httpPort: number;
  config: string;
}

export type ConfigObject = Record<string, unknown>;

/** The test config: every transport on temp paths and free loopback ports. */
export function baseConfig(p: Paths): ConfigObject {
  return {
    fifo: { path: p.fifo, reply_dir: p.replyDir, reply_timeout_ms: 500 },
    datagram: { listen: [`udp:127.0.0.1:${p.udpPort}`, `unix:${p.sock}`] },
    http: { listen: `127.0.0.1:${p.httpPort}` },
    service: { shutdown_timeout_ms: 3000 },
  };
}

export interface Daemon extends Paths {
  proc: Deno.ChildProcess;
  /** stderr lines so far. */
  lines: string[];
  url: string;
  /** Sends a signal and waits for the exit (killed after `ms`). */
  stop(signal?: Deno.Signal, ms?: number): Promise<{ code: number; stderr: string }>;
  /** Waits for the daemon to exit by itself (killed after `ms`). */
  exited(ms?: number): Promise<{ code: number; stderr: string }>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function makePaths(): Promise<Paths> {
  const dir = await Deno.makeTempDir({ prefix: "sipmi_test_" });
  const replyDir = `${dir}/replies/`;
  await Deno.mkdir(replyDir);
  return {
    dir,
    fifo: `${dir}/sipmi_fifo`,
    replyDir,
    sock: `${dir}/sipmi.sock`,
    udpPort: freeUdpPort(),
    httpPort: freeTcpPort(),
    config: `${dir}/sipmi.jsonc`,
  };
}

/** Runs `sipmi serve` with `config` (the base config, changed by `edit`). */
export async function startDaemon(
  edit: (c: ConfigObject, p: Paths) => ConfigObject = (c) => c,
  opts: {
    paths?: Paths;
    expectFailure?: boolean;
    /** Extra environment (NOTIFY_SOCKET, WATCHDOG_USEC, JOURNAL_STREAM ...). */
    env?: Record<string, string>;
    /** Another entry script taking `serve --config PATH` (a test wrapper around main.ts). */
    entry?: string;
    /** Run under this open-file limit, soft and hard (`ulimit -n`): resource limits come fast. */
    fdLimit?: number;
    /** Run with the runtime flags of `deno task start` and the release build (memory as in production). */
    production?: boolean;
    /** `fifo.io` and `datagram.io`, set after `edit` (default: the config's). */
    io?: IoPath;
    /** Run with `--deny-ffi`: no libc through FFI at all. */
    denyFfi?: boolean;
  } = {},
): Promise<Daemon> {
  const p = opts.paths ?? await makePaths();
  const config = edit(baseConfig(p), p);
  if (opts.io) {
    config.fifo = { ...config.fifo as ConfigObject, io: opts.io };
    config.datagram = { ...config.datagram as ConfigObject, io: opts.io };
  }
  await Deno.writeTextFile(p.config, JSON.stringify(config, null, 2));
  const flags = opts.production ? [...RUNTIME_FLAGS] : ["-A"];
  if (opts.denyFfi) flags.push("--deny-ffi");
  const args = ["run", ...flags, opts.entry ?? MAIN, "serve", "--config", p.config];
  // `exec` keeps the pid: the shell becomes the daemon.
  const [cmd, argv] = opts.fdLimit === undefined
    ? [Deno.execPath(), args]
    : ["sh", ["-c", `ulimit -n ${opts.fdLimit} && exec "$0" "$@"`, Deno.execPath(), ...args]];
  const proc = new Deno.Command(cmd, {
    args: argv,
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1", ...opts.env },
  }).spawn();
  const lines: string[] = [];
  const ready = Promise.withResolvers<void>();
  const reading = (async () => {
    let rest = "";
    for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const l of parts) {
        lines.push(l);
        if (l.includes("sipmi ready")) ready.resolve();
      }
    }
    if (rest) lines.push(rest);
  })();
  let exited = false;
  const status = proc.status.then((s) => {
    exited = true;
    return s;
  });
  const cleanup = async () => {
    if (!exited) {
      try {
        proc.kill("SIGKILL");
      } catch {
        // Exited meanwhile.
      }
    }
    await status;
    await reading.catch(() => {});
    await Deno.remove(p.dir, { recursive: true }).catch(() => {});
  };
  const d: Daemon = {
    ...p,
    proc,
    lines,
    url: `http://127.0.0.1:${p.httpPort}/mi`,
    async stop(signal: Deno.Signal = "SIGTERM", ms = 10000) {
      try {
        if (!exited) proc.kill(signal);
      } catch {
        // It exited before the status promise said so.
      }
      return await d.exited(ms);
    },
    async exited(ms = 15000) {
      const t = setTimeout(() => {
        try {
          if (!exited) proc.kill("SIGKILL");
        } catch {
          // Exited meanwhile.
        }
      }, ms);
      const s = await status;
      clearTimeout(t);
      await reading.catch(() => {});
      return { code: s.code, stderr: lines.join("\n") };
    },
    [Symbol.asyncDispose]: cleanup,
  };
  if (opts.expectFailure) return d;
  const timeout = setTimeout(() => ready.reject(new Error("not ready within 15 s")), 15000);
  try {
    await Promise.race([
      ready.promise,
      status.then((s) => {
        throw new Error(`sipmi serve exited with ${s.code}`);
      }),
    ]);
  } catch (e) {
    await cleanup();
    throw new Error(`${(e as Error).message}\n${lines.join("\n")}`);
  } finally {
    clearTimeout(timeout);
  }
  return d;
}

/** Runs `sipmi ARGS...` and collects its output. */
export async function sipmi(
  ...args: string[]
): Promise<{ code: number; out: string; err: string; ms: number }> {
  const t0 = performance.now();
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return {
    code: r.code,
    out: dec.decode(r.stdout),
    err: dec.decode(r.stderr),
    ms: performance.now() - t0,
  };
}

/** `startDaemon` with `fifo.io` and `datagram.io` set to `io`: the matrix of the transport tests. */
export function startDaemonOn(
  io: IoPath,
  edit?: Parameters<typeof startDaemon>[0],
  opts: Parameters<typeof startDaemon>[1] = {},
): Promise<Daemon> {
  return startDaemon(edit, { ...opts, io });
}
