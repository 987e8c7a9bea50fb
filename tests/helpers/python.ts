// Runs the python3 stdlib clients of mi_clients.py: independent of sipmi's
// own client code, framing requests as opensips-cli, python `opensips`,
// curl-like HTTP clients and raw sockets do.

const SCRIPT = new URL("./mi_clients.py", import.meta.url).pathname;

// deno-lint-ignore no-explicit-any
export type Json = any;

/** Runs one job and returns its JSON result; throws with stderr on failure. */
export async function py(job: Record<string, unknown>, timeoutMs = 60000): Promise<Json> {
  const child = new Deno.Command("python3", {
    args: [SCRIPT, JSON.stringify(job)],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Exited meanwhile.
    }
  }, timeoutMs);
  try {
    const r = await child.output();
    const dec = new TextDecoder();
    if (!r.success) throw new Error(`python job ${job.op} failed: ${dec.decode(r.stderr)}`);
    return JSON.parse(dec.decode(r.stdout));
  } finally {
    clearTimeout(timer);
  }
}

/** Starts a job that talks with the test over stdin/stdout (many_fifo). */
export function pySpawn(job: Record<string, unknown>): Deno.ChildProcess {
  return new Deno.Command("python3", {
    args: [SCRIPT, JSON.stringify(job)],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** A JSON-RPC request text. */
export function req(method: string, id: unknown = 1, params?: unknown): string {
  const o: Record<string, unknown> = { jsonrpc: "2.0", method };
  if (params !== undefined) o.params = params;
  o.id = id;
  return JSON.stringify(o);
}
