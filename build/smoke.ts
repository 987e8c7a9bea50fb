// The CI smoke run of the release entry point: what `deno task compile`
// builds, run with the same flags (service/runtime.ts), since CI cannot
// fetch denort to build the real binary. Starts `sipmi serve` the way
// systemd would (NOTIFY_SOCKET, waits for READY=1), asks `uptime` on every
// transport with `sipmi mi`, stops it with SIGTERM and expects exit 0.
//
//   deno run -A build/smoke.ts

import { ENTRY, RUNTIME_FLAGS } from "../service/runtime.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const dec = new TextDecoder();

function freePort(udp: boolean): number {
  if (udp) {
    const c = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const port = (c.addr as Deno.NetAddr).port;
    c.close();
    return port;
  }
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function sipmi(args: string[], env: Record<string, string> = {}): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...RUNTIME_FLAGS, ENTRY, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Waits for one datagram containing `want`, at most `ms`. */
async function awaitNotify(conn: Deno.DatagramConn, want: string, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const left = deadline - Date.now();
    const got = await Promise.race([
      conn.receive().then(([d]) => dec.decode(d)),
      new Promise<undefined>((r) => setTimeout(() => r(undefined), left)),
    ]);
    if (got === undefined) break;
    if (got.split("\n").includes(want)) return got;
  }
  throw new Error(`no ${want} within ${ms} ms`);
}

async function smoke(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sipmi_smoke_" });
  const udpPort = freePort(true), httpPort = freePort(false);
  const config = `${dir}/sipmi.jsonc`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      fifo: { path: `${dir}/fifo`, reply_dir: `${dir}/` },
      datagram: { listen: [`udp:127.0.0.1:${udpPort}`, `unix:${dir}/sock`] },
      http: { listen: `127.0.0.1:${httpPort}` },
    }),
  );
  const notify = Deno.listenDatagram({ transport: "unixpacket", path: `${dir}/notify` });
  const daemon = sipmi(["serve", "--config", config], { NOTIFY_SOCKET: `${dir}/notify` }).spawn();
  let exited = false;
  const status = daemon.status.then((s) => (exited = true, s));
  const stderr = daemon.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let errText = "";
  const reading = (async () => {
    for (let r = await stderr.read(); !r.done; r = await stderr.read()) errText += r.value;
  })();
  try {
    console.log(`smoke: deno run ${RUNTIME_FLAGS.join(" ")} ${ENTRY} serve`);
    await awaitNotify(notify, "READY=1", 30000);
    console.log("smoke: READY=1");
    const targets = [
      ["--fifo", `${dir}/fifo`, "--reply-dir", `${dir}/`],
      ["--udp", `127.0.0.1:${udpPort}`],
      ["--unix", `${dir}/sock`],
      ["--http", `http://127.0.0.1:${httpPort}/mi`],
    ];
    for (const t of targets) {
      const r = await sipmi(["mi", "--config", config, ...t, "uptime"]).output();
      const out = dec.decode(r.stdout);
      if (r.code !== 0 || !("Up time" in JSON.parse(out || "{}"))) {
        throw new Error(`uptime over ${t[0]} failed (${r.code}): ${out}${dec.decode(r.stderr)}`);
      }
      console.log(`smoke: uptime over ${t[0].slice(2)}: ${JSON.parse(out)["Up time"]}`);
    }
    daemon.kill("SIGTERM");
    await awaitNotify(notify, "STOPPING=1", 10000);
    const s = await status;
    if (s.code !== 0) throw new Error(`exit status ${s.code} after SIGTERM`);
    console.log("smoke: STOPPING=1, exit 0");
  } catch (e) {
    await reading.catch(() => {});
    throw new Error(`${(e as Error).message}\n--- sipmi serve stderr ---\n${errText}`);
  } finally {
    if (!exited) daemon.kill("SIGKILL");
    await status;
    await reading.catch(() => {});
    notify.close();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  try {
    await smoke();
  } catch (e) {
    console.error(`smoke: FAILED: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
