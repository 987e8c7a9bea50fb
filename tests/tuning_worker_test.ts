// The daemon's tuning side in its Worker (app_daemon.ts): a real Worker on a
// copy of the captured VM root, compared with the same commands run
// in-process (app.ts), as the CLI runs them.

import assert from "node:assert/strict";
import { buildDaemonApp, type DaemonApp } from "../app_daemon.ts";
import { defaults } from "../config/spec.ts";
import { type Config, configSpec } from "../config/schema.ts";
import type { Endpoint } from "../mi/core.ts";
import { runCall } from "../mi/script.ts";
import { Log } from "../sys/log.ts";
import { type Json, type TuningMi, tuningMi, vmRoot } from "./tuning_support.ts";

function config(root: string, edit: (c: Config) => void = () => {}): Config {
  const c = defaults(configSpec);
  c.tuning = { ...c.tuning, root, verify_interval_s: 0, sip: { ...c.tuning.sip, nic: "eth0" } };
  edit(c);
  return c;
}

interface Rig {
  app: DaemonApp;
  ep: Endpoint;
  lines: string[];
  call(method: string, params?: Record<string, unknown>): Promise<Json>;
  [Symbol.asyncDispose](): Promise<void>;
}

async function workerRig(root: string, edit?: (c: Config) => void): Promise<Rig> {
  const lines: string[] = [];
  const app = buildDaemonApp(config(root, edit), {
    log: new Log(3, { journal: false, sink: (l) => lines.push(l) }),
  });
  await app.tuning.start();
  const ep = app.mi.core.endpoint({ transport: "test" });
  return {
    app,
    ep,
    lines,
    call: async (method, params) => JSON.parse(await runCall(ep, { method, params })),
    async [Symbol.asyncDispose]() {
      await app.tuning.stop();
    },
  };
}

/** The reply of the in-process instance (the CLI's), as JSON. */
async function local(mi: TuningMi, method: string, params?: Record<string, unknown>) {
  return await mi.call(method, params);
}

Deno.test("worker: tuning commands answer exactly as in-process, errors with their MI codes", async () => {
  await using root = await vmRoot();
  await using w = await workerRig(root.path);
  const mi = tuningMi(root.path, { verify_interval_s: 0, sip: { nic: "eth0" } });
  const calls: [string, Record<string, unknown>?][] = [
    ["cpu_list"],
    ["irq_list"],
    ["irq_list", { nic: "eth0", match: "input" }],
    ["nic_describe"],
    ["irqbalance_status"],
    ["host_stats", { ports: [5060] }],
    ["affinity_get", { pid: 4242 }],
    ["tune_status"],
    // Errors: unknown NIC (404), bad pattern and bad params (-32602), no profile (500).
    ["nic_describe", { nic: "nope0" }],
    ["irq_list", { match: "(" }],
    ["irq_set_affinity", { irq: "x", cpus: "0" }],
    ["tune_plan"],
    // A dry run plans without writing.
    ["irq_set_affinity", { irq: 38, cpus: "1", dry_run: true }],
  ];
  for (const [method, params] of calls) {
    assert.deepEqual(await w.call(method, params), await local(mi, method, params), method);
  }
  const bad = await w.call("nic_describe", { nic: "nope0" });
  assert.equal(bad.error.code, 404);
  const pattern = await w.call("irq_list", { match: "(" });
  assert.equal(pattern.error.code, -32602);
  assert.match(pattern.error.data, /Bad regular expression in 'match'/);
});

Deno.test("worker: a read-only listener refuses a change on the main thread; a change counts in tuning:", async () => {
  await using root = await vmRoot();
  await using w = await workerRig(root.path);
  const ro = w.app.mi.core.endpoint({ transport: "test", policy: { readOnly: true } });
  const posted = w.app.worker!.posted;
  const refused = JSON.parse(
    await runCall(ro, { method: "irq_set_affinity", params: { irq: 38, cpus: "1" } }),
  );
  assert.equal(refused.error.code, 403);
  assert.match(refused.error.data, /changes state/);
  assert.equal(w.app.worker!.posted, posted, "the worker was not asked");
  const dry = JSON.parse(
    await runCall(ro, {
      method: "irq_set_affinity",
      params: { irq: 38, cpus: "1", dry_run: true },
    }),
  );
  assert.equal(dry.result.dry_run, true);

  const applied = await w.call("irq_set_affinity", { irq: 38, cpus: "1" });
  assert.equal(applied.result.status, "applied", JSON.stringify(applied));
  const stats = await w.call("get_statistics", { statistics: ["tuning:"] });
  assert.equal(stats.result["tuning:applies"], 1);
  const back = await w.call("tune_rollback");
  assert.equal(back.result.status, "rolled_back");
  assert.equal(
    (await w.call("get_statistics", { statistics: ["tuning:rollbacks"] }))
      .result["tuning:rollbacks"],
    1,
  );
  // The worker's log records reach the daemon's log.
  assert.ok(
    w.lines.some((l) => /NOTICE .*tuning: rolled back irq_set_affinity/.test(l)),
    w.lines.join("\n"),
  );
});

Deno.test("worker: host statistics groups carry their sample age; identical calls in flight share one run", async () => {
  await using root = await vmRoot();
  await using w = await workerRig(root.path);
  const s = (await w.call("get_statistics", { statistics: ["softnet:", "irq:"] })).result;
  assert.equal(s["softnet:cpu1_processed"], 0xa26f34);
  assert.ok(s["softnet:sample_age_ms"] >= 0 && s["irq:sample_age_ms"] >= 0);
  const before = w.app.worker!.posted;
  const [a, b, c] = await Promise.all([
    w.call("tune_doctor", { interval: 0.2 }),
    w.call("tune_doctor", { interval: 0.2 }),
    w.call("cpu_list"),
  ]);
  assert.deepEqual(a, b);
  assert.ok(c.result.online);
  assert.equal(w.app.worker!.posted - before, 2, "two tune_doctor calls, one run");
});

Deno.test("worker: a worker that dies answers its calls with a 500 and is restarted", async () => {
  await using root = await vmRoot();
  await using w = await workerRig(root.path);
  const slow = w.call("tune_doctor", { interval: 2 });
  await new Promise((r) => setTimeout(r, 300));
  w.app.worker!.crash();
  const failed = await slow;
  assert.equal(failed.error.code, 500);
  assert.equal(failed.error.message, "Tuning worker failed");
  assert.match(failed.error.data, /while running tune_doctor .*crash requested.*restarted/);
  // The next call waits for the new worker.
  const after = await w.call("cpu_list");
  assert.equal(after.result.online, "0-1");
  assert.equal(w.app.worker!.restarts, 1);
  assert.ok(w.lines.some((l) => /ERROR .*tuning worker stopped: .*restarting it/.test(l)));
});

Deno.test("worker: a reload's tuning settings reach it; after stop every call is refused", async () => {
  await using root = await vmRoot();
  const w = await workerRig(root.path);
  try {
    assert.equal((await w.call("tune_status")).result.verify_interval_s, 0);
    await w.app.reconfigure(config(root.path, (c) => {
      c.tuning.verify_interval_s = 30;
      c.tuning.enforce = true;
      c.stats.host_max_age_ms = 0;
    }));
    const st = (await w.call("tune_status")).result;
    assert.deepEqual([st.verify_interval_s, st.enforce], [30, true]);
  } finally {
    await w.app.tuning.stop();
  }
  const refused = await w.call("cpu_list");
  assert.equal(refused.error.code, 500);
  assert.equal(refused.error.message, "Tuning worker stopped");
});
