// Remote safety and staying in sync, on a fixture root: an apply with a
// confirm timeout rolls itself back unless confirmed; the daemon's verify
// loop finds drift (an IRQ moved behind sipmi's back, the SIP router
// restarted with new threads), logs it with its cause, counts it in the
// tuning: statistics, and with tuning.enforce puts it right.

import assert from "node:assert/strict";
import { type Json, opensips, treeState, tuningRig, vmRoot, write } from "./tuning_support.ts";

const PROFILE = {
  sip_cpus: "1",
  nics: [{ name: "eth0", irqs: "spread" }],
  processes: [{ unit: "opensips.service" }],
};

function host() {
  return vmRoot((dir) =>
    write(dir, opensips({ main: "0-1", udp: "0-1", timer: "0-1", child: "0-1" }))
  );
}

/** Polls until `ok` holds or the time is up (bounded; the loop's own interval is 1 s). */
async function until(
  ok: () => Promise<boolean> | boolean,
  ms: number,
  what: string,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("confirm timeout: without tune_confirm the apply rolls itself back; with it, it stays", async () => {
  await using root = await host();
  const before = await treeState(root.path);
  const rig = tuningRig(root.path);
  try {
    const r = await rig.result<Json>("tune_apply", { profile: PROFILE, confirm_timeout: 1 });
    assert.equal(r.status, "applied");
    assert.ok(Date.parse(r.confirm_deadline) > Date.now());
    assert.notDeepEqual(await treeState(root.path), before);
    // A second change waits until the first is confirmed or gone.
    const blocked = await rig.call("irq_set_affinity", { irq: 40, cpus: "0" });
    assert.equal(blocked.error?.message, "A change waits for confirmation");
    const pending = await rig.result<Json>("tune_status");
    assert.equal(pending.pending_confirm.snapshot, r.snapshot);
    await until(
      async () => (await rig.result<Json>("tune_status")).journal.state === "rolled_back",
      5000,
      "rolled back",
    );
    assert.deepEqual(await treeState(root.path), before);
    assert.ok(
      rig.lines.some((l) =>
        /no confirmation for profile inline by .*: rolling back snapshot/.test(l)
      ),
    );
    assert.equal((await rig.result<Json>("tune_status")).applied, null);

    const kept = await rig.result<Json>("tune_apply", { profile: PROFILE, confirm_timeout: 1 });
    const c = await rig.result<Json>("tune_confirm");
    assert.equal(c.confirmed, kept.snapshot);
    await new Promise((r) => setTimeout(r, 1300));
    const st = await rig.result<Json>("tune_status");
    assert.deepEqual([st.journal.state, st.pending_confirm], ["applied", null]);
    assert.equal(await Deno.readTextFile(`${root.path}/proc/irq/38/smp_affinity_list`), "1\n");
    const none = await rig.call("tune_confirm");
    assert.equal(none.error?.message, "Nothing to confirm");
  } finally {
    await rig.app.tuning.stop();
  }
});

Deno.test("a pending confirmation survives a restart: the next start rolls it back when its time is up", async () => {
  await using root = await host();
  const before = await treeState(root.path);
  const first = tuningRig(root.path);
  await first.result("tune_apply", { profile: PROFILE, confirm_timeout: 1 });
  // The process goes away before its timer fires.
  await first.app.tuning.stop();
  await new Promise((r) => setTimeout(r, 1100));
  const next = tuningRig(root.path);
  await next.app.tuning.start();
  try {
    await until(
      async () => (await next.result<Json>("tune_status")).journal.state === "rolled_back",
      3000,
      "rolled back",
    );
    assert.deepEqual(await treeState(root.path), before);
  } finally {
    await next.app.tuning.stop();
  }
});

Deno.test("drift: an IRQ moved behind sipmi's back is logged with its cause, counted, and repaired with enforce", async () => {
  await using root = await host();
  const rig = tuningRig(root.path, { tuning: { verify_interval_s: 1, enforce: false } });
  await rig.app.tuning.start();
  try {
    await rig.result("tune_apply", { profile: PROFILE });
    assert.equal(await rig.stat("tuning:drift"), 0);
    // irqbalance (or an operator) moves the pinned IRQ.
    await write(root.path, {
      "/proc/irq/38/smp_affinity_list": "0-1\n",
      "/proc/irq/38/smp_affinity": "3\n",
    });
    await until(() => rig.lines.some((l) => l.includes("tuning drift")), 5000, "a drift log line");
    const line = rig.lines.find((l) => l.includes("tuning drift"))!;
    assert.match(
      line,
      /WARNING .*tuning drift: nics\[0\] eth0: IRQ 38 \(virtio2-input.0\) is 0-1, the profile wants 1 \(changed outside sipmi\)/,
    );
    assert.equal(await rig.stat("tuning:drift"), 1);
    assert.equal(await rig.stat("tuning:drift_now"), 1);
    assert.ok(await rig.stat("tuning:verifies") >= 1);
    const st = await rig.result<Json>("tune_status");
    assert.deepEqual(st.last_verify.drift.map((d: Json) => [d.target, d.have, d.want]), [[
      "IRQ 38 (virtio2-input.0)",
      "0-1",
      "1",
    ]]);
    // A lasting drift is logged once, not at every pass.
    await new Promise((r) => setTimeout(r, 1300));
    assert.equal(rig.lines.filter((l) => l.includes("tuning drift")).length, 1);
    // tune_show and tune_doctor say so too.
    const show = await rig.result<Json>("tune_show");
    assert.equal(show.profile.verify.drift.length, 1);
    const doc = await rig.result<Json>("tune_doctor", { interval: 0 });
    assert.ok(doc.findings.some((f: Json) => f.id === "profile_drift"));
  } finally {
    await rig.app.tuning.stop();
  }

  const enforcing = tuningRig(root.path, { tuning: { verify_interval_s: 1, enforce: true } });
  await enforcing.app.tuning.start();
  try {
    await until(
      async () => (await Deno.readTextFile(`${root.path}/proc/irq/38/smp_affinity_list`)) === "1\n",
      5000,
      "the IRQ pinned again",
    );
    await until(
      async () => (await enforcing.stat("tuning:repairs")) === 1,
      3000,
      "a repair counted",
    );
    assert.ok(
      enforcing.lines.some((l) => /drift repaired \(tuning.enforce\): 1 changes/.test(l)),
      enforcing.lines.join("\n"),
    );
    // The repair is a transaction of its own: it has a snapshot.
    const snaps = await enforcing.result<Json>("tune_snapshots");
    assert.match(snaps.snapshots[0].what, /^repair of profile inline \(tuning.enforce\)$/);
  } finally {
    await enforcing.app.tuning.stop();
  }
});

Deno.test("drift: the SIP router restarted with new threads; the cause says so", async () => {
  await using root = await host();
  const rig = tuningRig(root.path);
  await rig.result("tune_apply", { profile: PROFILE });
  // The router restarts: pid 4300 is gone, pid 5000 starts with threads on every CPU.
  await Deno.remove(`${root.path}/proc/4300`, { recursive: true });
  const cg = "0::/system.slice/opensips.service\n";
  await write(root.path, {
    "/proc/5000/comm": "opensips\n",
    "/proc/5000/cmdline": "/usr/sbin/opensips\0",
    "/proc/5000/cgroup": cg,
    "/proc/5000/task/5000/comm": "opensips\n",
    "/proc/5000/task/5000/status": "Name:\topensips\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\n",
  });
  const v = await rig.result<Json>("tune_verify");
  assert.equal(v.in_sync, false);
  assert.deepEqual(v.drift.map((d: Json) => [d.target, d.cause]), [[
    "pid 5000 (opensips)",
    "process 5000 started after the apply (was 4242, 4300): restarted?",
  ]]);
});
