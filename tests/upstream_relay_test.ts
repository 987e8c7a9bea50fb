// The upstream relay against a second `sipmi serve` as the upstream, over
// each of its transports: results byte for byte, ids and params, errors,
// batches, `which` and `help`, read-only listeners and the audit trail, a
// reload; the upstream stalled, killed and restarted. Clients of the front
// daemon are the python3 stdlib clients (tests/helpers/mi_clients.py).

import assert from "node:assert/strict";
import {
  type ConfigObject,
  type Daemon,
  makePaths,
  type Paths,
  startDaemon,
} from "./helpers/daemon.ts";
import { py, req } from "./helpers/python.ts";

/** The upstream sipmi: its reply dir private, as a FIFO upstream must have it. */
async function upstreamPaths(): Promise<Paths> {
  const p = await makePaths();
  await Deno.chmod(p.replyDir, 0o700);
  return p;
}

/** The upstream entries for a sipmi reached over each transport, one prefix each. */
function viaEvery(u: Paths, extra: Record<string, unknown> = {}): ConfigObject[] {
  return [
    { name: "up_fifo", via: `fifo:${u.fifo}`, prefix: "f", reply_dir: u.replyDir, ...extra },
    { name: "up_udp", via: `udp:127.0.0.1:${u.udpPort}`, prefix: "u", ...extra },
    { name: "up_unix", via: `unix:${u.sock}`, prefix: "x", ...extra },
    { name: "up_http", via: `http://127.0.0.1:${u.httpPort}/mi`, prefix: "h", ...extra },
  ];
}

const PREFIXES = ["f", "u", "x", "h"];

const udp = async (d: Daemon | Paths, text: string, timeout = 10): Promise<string | null> =>
  (await py({ op: "udp", host: "127.0.0.1", port: d.udpPort, data: text, timeout })).reply;

const parsed = (text: string | null) => JSON.parse(text ?? "null");

/** The same request with the method renamed. */
const renamed = (text: string, method: string) =>
  text.replace(/"method":"[^"]*"/, `"method":${JSON.stringify(method)}`);

Deno.test("relay to a sipmi over FIFO, UDP, unix and HTTP: replies byte for byte, ids, params, errors, batches, which and help", async () => {
  const up = await upstreamPaths();
  await using u = await startDaemon((c) => c, { paths: up });
  await using d = await startDaemon((c, p) => ({
    ...c,
    datagram: {
      listen: [
        `udp:127.0.0.1:${p.udpPort}`,
        { address: `unix:${p.sock}`, commands: { read_only: true } },
      ],
    },
    upstream: viaEvery(up, { timeout_ms: 3000 }),
  }));
  const requests = [
    '{"jsonrpc":"2.0","method":"arg","id":12345678901234567890}',
    '{"jsonrpc":"2.0","method":"which","params":["log_level"],"id":1.50}',
    '{"jsonrpc":"2.0","method":"help","params":{"mi_cmd":"uptime"},"id":"s"}',
    '{"jsonrpc":"2.0","method":"list_statistics","params":[["mi:requests"]],"id":null}',
    // Errors of the upstream come back as it sent them.
    '{"jsonrpc":"2.0","method":"which","params":["nope"],"id":7}',
    '{"jsonrpc":"2.0","method":"help","params":{"mi_cmd":"uptime","x":1},"id":8}',
  ];
  for (const text of requests) {
    const direct = await udp(u, text);
    assert.ok(direct, text);
    for (const prefix of PREFIXES) {
      const method = `${prefix}.${JSON.parse(text).method}`;
      assert.equal(await udp(d, renamed(text, method)), direct, `${method}: ${text}`);
    }
  }

  // A batch mixes sipmi's own commands, relayed ones and unknown names.
  const batch = JSON.parse(
    (await udp(
      d,
      `[${req("uptime", 1)},${req("h.arg", 2)},${req("f.nope", 3)},${req("x.pwd", 4)}]`,
    ))!,
  );
  assert.equal(batch.length, 4);
  assert.ok(batch[0].result["Up time"]);
  assert.deepEqual(batch[1].result, parsed(await udp(u, req("arg", 2))).result);
  assert.equal(batch[2].error.code, -32601);
  assert.deepEqual(batch[3].result, { WD: parsed(await udp(u, req("pwd"))).result.WD });

  // A relayed notification is relayed and gets no reply (HTTP: 202).
  const note = await py({
    op: "http",
    url: d.url,
    headers: { "Content-Type": "application/json" },
    body: '{"jsonrpc":"2.0","method":"h.uptime"}',
  });
  assert.equal(note.status, 202);

  // which and help know the relayed commands.
  const names: string[] = parsed(await udp(d, req("which"))).result;
  for (const prefix of PREFIXES) {
    for (const c of ["arg", "uptime", "log_level", "reload"]) {
      assert.ok(names.includes(`${prefix}.${c}`), `${prefix}.${c} in which`);
    }
  }
  assert.ok(names.includes("uptime") && names.includes("upstream_list"));
  assert.equal(
    await udp(d, req("which", 1, ["u.log_level"])),
    '{"jsonrpc":"2.0","result":[[],["level"],["level","pid"]],"id":1}',
  );
  assert.deepEqual(parsed(await udp(d, req("help", 1, ["h.uptime"]))).result, {
    Help: parsed(await udp(u, req("help", 1, ["uptime"]))).result.Help,
    "Exported by": "upstream:up_http",
  });

  // A read-only listener refuses the relayed commands that change state, and
  // lets the others through; a listener that is not read-only relays them,
  // and the audit trail names them.
  const ro = async (text: string) =>
    parsed((await py({ op: "unix", path: d.sock, bind_dir: d.dir, data: text })).reply);
  for (const m of ["u.log_level", "f.reset_statistics", "h.reload", "x.reset_all_statistics"]) {
    const r = await ro(req(m, 1, m.endsWith("log_level") ? [1] : undefined));
    assert.equal(r.error?.code, 403, `${m}: ${JSON.stringify(r)}`);
    assert.match(r.error.data, /changes state; unix:.* is read-only/);
  }
  assert.ok((await ro(req("u.uptime"))).result);
  assert.equal(parsed(await udp(u, req("log_level"))).result.Processes[0]["Log level"], 3);
  assert.deepEqual(parsed(await udp(d, req("u.log_level", 9, [4]))).result, {
    "New global log level": 4,
  });
  assert.equal(parsed(await udp(u, req("log_level"))).result.Processes[0]["Log level"], 4);
  const audits = d.lines.filter((l) => l.includes("audit:"));
  assert.equal(audits.length, 1, audits.join("\n"));
  assert.match(audits[0], /transport=udp .*method=u\.log_level params=\[4\]/);

  // Statistics per upstream.
  const st = parsed(await udp(d, req("get_statistics", 1, [["upstream:"]]))).result;
  for (const n of ["up_fifo", "up_udp", "up_unix", "up_http"]) {
    assert.ok(st[`upstream:${n}_requests`] >= 6, `${n}: ${JSON.stringify(st)}`);
    assert.equal(st[`upstream:${n}_errors`], 0, n);
    assert.ok(st[`upstream:${n}_error_replies`] >= 2, n);
    assert.ok(st[`upstream:${n}_latency_us_avg`] > 0, n);
    assert.ok(st[`upstream:${n}_commands`] > 30, n);
  }
  const list = parsed(await udp(d, req("upstream_list"))).result;
  assert.deepEqual(list.map((s: { name: string }) => s.name), [
    "up_fifo",
    "up_udp",
    "up_unix",
    "up_http",
  ]);
  assert.ok(list.every((s: { reachable: boolean }) => s.reachable), JSON.stringify(list));
  assert.ok(!d.lines.some((l) => / ERROR /.test(l)), d.lines.join("\n"));
});

Deno.test("relay config: no prefix hides the upstream's clashing names (sipmi's win, logged); deny, read_only and mutating; a reload changes the relay", async () => {
  const up = await upstreamPaths();
  await using u = await startDaemon((c) => c, { paths: up });
  const relayConfig = (upstream: ConfigObject[]) => (c: ConfigObject) => ({ ...c, upstream });
  const first = [
    {
      name: "plain",
      via: `udp:127.0.0.1:${up.udpPort}`,
      // arg is marked as changing state, pwd not relayed at all.
      mutating: ["@default", "arg"],
      commands: { deny: ["pwd"] },
    },
    {
      name: "ro",
      via: `http://127.0.0.1:${up.httpPort}/mi`,
      prefix: "r",
      commands: { read_only: true },
    },
  ];
  await using d = await startDaemon(relayConfig(first));
  // Every name of a sipmi upstream is one of the front's own: all hidden,
  // each logged once (`reload` when the daemon's service module comes).
  const hidden = d.lines.filter((l) => l.includes("hidden")).join("\n");
  assert.equal(hidden.split("'uptime' of upstream:plain (core has it)").length, 2, hidden);
  assert.equal(hidden.split("'reload' of upstream:plain (service has it)").length, 2, hidden);
  assert.equal(parsed(await udp(d, req("upstream_list"))).result[0].commands, 0);
  assert.notDeepEqual(
    parsed(await udp(d, req("arg"))).result,
    parsed(await udp(u, req("arg"))).result,
  );
  const names: string[] = parsed(await udp(d, req("which"))).result;
  assert.ok(names.includes("r.uptime") && names.includes("r.pwd"));
  assert.ok(
    !names.includes("r.log_level") && !names.includes("r.reload"),
    "read_only relays no mutating command",
  );

  // A reload: prefixes, deny and mutating now apply to the first upstream.
  await Deno.writeTextFile(
    d.config,
    JSON.stringify(
      relayConfig([{ ...first[0], prefix: "p" }])(JSON.parse(
        await Deno.readTextFile(d.config),
      )),
    ),
  );
  const r = parsed(await udp(d, req("reload"))).result;
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.deepEqual(r.upstreams.map((s: { name: string }) => s.name), ["plain"]);
  assert.ok(r.applied.some((k: string) => k.startsWith("upstream")), JSON.stringify(r.applied));
  const after: string[] = parsed(await udp(d, req("which"))).result;
  assert.ok(after.includes("p.arg") && !after.includes("p.pwd") && !after.includes("r.uptime"));
  assert.deepEqual(
    parsed(await udp(d, req("p.arg"))).result,
    parsed(await udp(u, req("arg"))).result,
  );
  assert.ok(d.lines.some((l) => /audit: .*method=p\.arg/.test(l)), "arg is mutating by config");
  assert.equal(parsed(await udp(d, req("r.uptime"))).error.code, -32601);
});

Deno.test("upstream stalled, killed and restarted: errors within the timeout naming it, sipmi's own commands answer, relaying resumes", async () => {
  const up = await upstreamPaths();
  const timeout = 600;
  let u: Daemon | undefined = await startDaemon((c) => c, { paths: up });
  await using d = await startDaemon((c) => ({
    ...c,
    upstream: viaEvery(up, { timeout_ms: timeout }),
  }));
  const relayed = async (prefix: string) => parsed(await udp(d, req(`${prefix}.pwd`)));
  try {
    for (const p of PREFIXES) assert.ok((await relayed(p)).result, p);

    // Stalled (SIGSTOP): every relayed call ends within its timeout, even
    // when the stalled FIFO's pipe is full, and sipmi's own commands answer
    // while they wait (the statistics read meanwhile show them waiting).
    Deno.kill(u.proc.pid, "SIGSTOP");
    // 10 FIFO requests of 7 kB: more than the 64 kB a pipe holds.
    const big = "y".repeat(7000);
    const t0 = performance.now();
    const calls = udpMany(
      d.udpPort,
      Array.from({ length: 40 }, (_, i) => {
        const prefix = PREFIXES[i % 4];
        return req(`${prefix}.pwd`, i, [prefix === "f" ? big : "y"]);
      }),
      20_000,
    );
    await new Promise((r) => setTimeout(r, 100));
    const own = parsed(await udp(d, req("get_statistics", 1, [["upstream:"]]), 5)).result;
    const waiting = ["up_fifo", "up_udp", "up_unix", "up_http"]
      .reduce((n, name) => n + own[`upstream:${name}_in_flight`], 0);
    const stalled = (await calls).map(parsed);
    const stalledMs = performance.now() - t0;
    assert.ok(waiting > 0, `own command answered while relayed calls wait: ${JSON.stringify(own)}`);
    assert.equal(stalled.length, 40);
    for (const r of stalled) {
      assert.ok([502, 504].includes(r.error?.code), JSON.stringify(r));
      assert.match(r.error.data, /^upstream up_(fifo|udp|unix|http) \(/);
    }
    assert.ok(
      stalled.some((r) => r.error.code === 504 && /no reply within 600 ms/.test(r.error.data)),
    );
    // Bounded by the timeout (plus a loaded machine), not by the stall.
    assert.ok(stalledMs < timeout + 8000, `${stalledMs} ms`);
    Deno.kill(u.proc.pid, "SIGCONT");
    for (const p of PREFIXES) await eventually(async () => (await relayed(p)).result !== undefined);

    // Killed: errors that say why, within the timeout.
    await u.stop("SIGKILL");
    for (const p of PREFIXES) {
      const t = performance.now();
      const r = await relayed(p);
      assert.ok([502, 504].includes(r.error?.code), `${p}: ${JSON.stringify(r)}`);
      assert.ok(performance.now() - t < timeout + 5000);
    }
    assert.match((await relayed("f")).error.data, /no process reads/);
    assert.match((await relayed("h")).error.data, /cannot reach the server/);
    assert.ok(parsed(await udp(d, req("uptime"))).result, "own command with the upstream gone");

    // Restarted on the same paths and ports: relaying resumes, the front never restarted.
    await Deno.remove(up.fifo).catch(() => {});
    await Deno.remove(up.sock).catch(() => {});
    u = await startDaemon((c) => c, { paths: up });
    for (const p of PREFIXES) await eventually(async () => (await relayed(p)).result !== undefined);
    const st = parsed(await udp(d, req("get_statistics", 1, [["upstream:"]]))).result;
    assert.ok(st["upstream:up_udp_timeouts"] >= 1, JSON.stringify(st));
    assert.ok(st["upstream:up_fifo_errors"] >= 10, JSON.stringify(st));
    assert.equal(st["upstream:up_fifo_in_flight"], 0);
  } finally {
    try {
      Deno.kill(u.proc.pid, "SIGCONT");
    } catch {
      // Gone.
    }
    await u[Symbol.asyncDispose]();
  }
});

Deno.test("an upstream down when sipmi starts: its commands come when it comes up", async () => {
  const up = await upstreamPaths();
  await using d = await startDaemon((c) => ({
    ...c,
    upstream: viaEvery(up, { timeout_ms: 500 }),
  }));
  assert.equal(parsed(await udp(d, req("u.pwd"))).error.code, -32601);
  const down = parsed(await udp(d, req("upstream_list"))).result;
  assert.ok(down.every((s: { reachable: boolean; error?: string }) => !s.reachable && s.error));
  await using _u = await startDaemon((c) => c, { paths: up });
  for (const p of PREFIXES) {
    await eventually(async () => parsed(await udp(d, req(`${p}.pwd`))).result !== undefined);
  }
  // One warning per upstream while it was down, however often it was retried.
  const warned = d.lines.filter((l) => /upstream up_udp .*cannot fetch/.test(l));
  assert.equal(warned.length, 1, warned.join("\n"));
});

Deno.test("an upstream's FIFO that never answers and HTTP errors that never finish end within the timeout", async () => {
  const p = await makePaths();
  const fifo = `${p.dir}/silent_fifo`;
  const replies = `${p.dir}/relay/`;
  // A FIFO someone reads and never answers (OpenSIPS with a request it cannot parse).
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  const reader = await Deno.open(fifo, { read: true, write: true });
  // An HTTP server that knows one command and answers it as OpenSIPS answers
  // errors: a status, chunked, and never the last chunk.
  const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (server.addr as Deno.NetAddr).port;
  const open: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of server) {
      open.push(conn);
      (async () => {
        const buf = new Uint8Array(65536);
        while (true) {
          const n = await conn.read(buf).catch(() => null);
          if (n === null) return;
          const text = new TextDecoder().decode(buf.subarray(0, n));
          if (!text.includes('"which"')) {
            const error =
              "HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nerror\r\n";
            await conn.write(new TextEncoder().encode(error)).catch(() => {});
            return; // and never the last chunk
          }
          const body = '{"jsonrpc":"2.0","result":["boom"],"id":1}';
          await conn.write(
            new TextEncoder().encode(
              `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
            ),
          ).catch(() => {});
        }
      })();
    }
  })();
  try {
    await using d = await startDaemon((c) => ({
      ...c,
      upstream: [
        { name: "silent", via: `fifo:${fifo}`, prefix: "s", timeout_ms: 700, reply_dir: replies },
        { name: "web", via: `http://127.0.0.1:${port}/mi`, timeout_ms: 5000 },
      ],
    }), { paths: p });
    const st = (await Deno.stat(replies)).mode! & 0o777;
    assert.equal(st, 0o700, "the reply directory is private");
    const t0 = performance.now();
    const r = parsed(await udp(d, req("upstream_refresh", 1, ["silent"])));
    assert.match(r.result[0].error, /no reply within 700 ms/);
    assert.ok(performance.now() - t0 < 700 + 5000);
    const t1 = performance.now();
    const boom = parsed(await udp(d, req("boom")));
    assert.equal(boom.error.code, 502, JSON.stringify(boom));
    assert.match(
      boom.error.data,
      /^upstream web \(http:\/\/127\.0\.0\.1:\d+\/mi\): HTTP 500 Internal Server Error/,
    );
    assert.ok(
      performance.now() - t1 < 4000,
      "the status is enough; the unfinished body is not waited for",
    );
  } finally {
    reader.close();
    server.close();
    for (const c of open) {
      try {
        c.close();
      } catch {
        // Closed.
      }
    }
    await serving.catch(() => {});
    await Deno.remove(p.dir, { recursive: true }).catch(() => {});
  }
});

/**
 * Sends every request from one UDP socket of the test at once and collects
 * the replies (in any order) until all came or `ms` passed.
 */
async function udpMany(port: number, requests: string[], ms: number): Promise<string[]> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const timer = setTimeout(() => sock.close(), ms);
  const out: string[] = [];
  try {
    for (const r of requests) {
      await sock.send(new TextEncoder().encode(r), {
        transport: "udp",
        hostname: "127.0.0.1",
        port,
      });
    }
    while (out.length < requests.length) {
      const [data] = await sock.receive();
      out.push(new TextDecoder().decode(data));
    }
  } catch {
    // Closed at the deadline: the caller sees how many came.
  } finally {
    clearTimeout(timer);
    try {
      sock.close();
    } catch {
      // Closed by the timer.
    }
  }
  return out;
}

/** Retries `probe` until it is true (at most `ms`). */
async function eventually(probe: () => Promise<boolean>, ms = 15000): Promise<void> {
  const end = Date.now() + ms;
  while (true) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
