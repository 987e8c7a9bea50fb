// Drives one load row against one server with the shared clients: the C
// loadgen (UDP, HTTP keep-alive, FIFO with the reply FIFO opened first) and
// the python-order FIFO client. Every run is bounded in time and count.

import type { RunningPeer } from "./peers.ts";

const BENCH = new URL(".", import.meta.url).pathname;

export type RowKind = "udp" | "http" | "fifo-pre" | "fifo-python";

export interface Row {
  id: string;
  label: string;
  kind: RowKind;
  clients: number;
  /** trivial: uptime; large: all statistics; memory: statistics kept in memory only. */
  request: "trivial" | "large" | "memory";
  /** Only these servers (default: every server that is not `listedRowsOnly`). */
  peers?: string[];
}

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  reply_bytes: number;
}

/** Compiles loadgen.c (gcc is on every machine of this kind). */
export async function buildLoadgen(): Promise<string> {
  const out = `${BENCH}.build/loadgen`;
  await Deno.mkdir(`${BENCH}.build`, { recursive: true });
  const r = await new Deno.Command("gcc", {
    args: ["-O2", "-Wall", "-o", out, `${BENCH}loadgen.c`],
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(`gcc loadgen.c failed:\n${new TextDecoder().decode(r.stderr)}`);
  return out;
}

export async function runLoad(
  loadgen: string,
  peer: RunningPeer,
  row: Row,
  opts: { seconds: number; maxRequests: number; dir: string },
): Promise<LoadResult> {
  const reqFile = `${opts.dir}/${peer.name}-${row.request}.json`;
  await Deno.writeTextFile(
    reqFile,
    JSON.stringify(peer[row.request]),
  );
  const s = String(opts.seconds), max = String(opts.maxRequests);
  let cmd: string, args: string[];
  switch (row.kind) {
    case "udp":
      [cmd, args] = [loadgen, [
        "udp",
        peer.udp.host,
        String(peer.udp.port),
        String(row.clients),
        s,
        max,
        reqFile,
      ]];
      break;
    case "http":
      [cmd, args] = [loadgen, [
        "http",
        "127.0.0.1",
        String(peer.http.port),
        peer.http.path,
        String(row.clients),
        s,
        max,
        reqFile,
      ]];
      break;
    case "fifo-pre":
      [cmd, args] = [loadgen, [
        "fifo",
        peer.fifo.path,
        peer.fifo.replyDir,
        "pre",
        peer.fifo.framing,
        s,
        max,
        reqFile,
      ]];
      break;
    case "fifo-python":
      [cmd, args] = ["python3", [
        `${BENCH}fifo_python_order.py`,
        peer.fifo.path,
        peer.fifo.replyDir,
        peer.fifo.framing,
        s,
        max,
        reqFile,
      ]];
      break;
  }
  const out = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout((opts.seconds + 30) * 1000),
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success || !text) {
    throw new Error(
      `${row.id} against ${peer.name} failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return JSON.parse(text.split("\n").pop()!) as LoadResult;
}
