// Profiles as transactions on a fixture root with the fake kernel: every
// write of an apply failed in turn, each time checking that the rollback
// put back every byte of /proc, /sys and /etc; idempotence and
// apply-then-rollback as properties over generated profiles; one apply at
// a time; an apply interrupted by a crash rolled back at the next start.

import assert from "node:assert/strict";
import { kernelError } from "../tuning/fake_kernel.ts";
import {
  deadPid,
  FIXTURES,
  type Json,
  opensips,
  treeState,
  tuningRig,
  vmRoot,
  write,
} from "./tuning_support.ts";

/** The VM root with the Debian irqbalance file and an OpenSIPS whose threads run anywhere. */
function host() {
  return vmRoot(async (dir) => {
    await write(dir, {
      ...opensips({ main: "0-1", udp: "0-1", timer: "0-1", child: "0-1" }),
      "/etc/default/irqbalance": await Deno.readTextFile(
        `${FIXTURES}etc-irqbalance/debian-bookworm-default`,
      ),
    });
  });
}

/** Touches every kind of target: default affinity, irqbalance, IRQs, an unchangeable IRQ, RPS, threads. */
const FULL = {
  sip_cpus: "1",
  nics: [{ name: "eth0", irqs: "spread" }],
  irqs: [{ match: "^virtio3-(rx|tx)$", cpus: "0" }, { match: "virtio1-req", cpus: "0" }],
  irqbalance: { ban: "sip_cpus" },
  processes: [{ unit: "opensips.service" }],
  default_irq_affinity: "housekeeping",
  rps: [{ nic: "eth0", cpus: "sip_cpus" }],
};

Deno.test("apply: every target kind, read back; a second apply makes 0 changes and 0 writes", async () => {
  await using root = await host();
  const rig = tuningRig(root.path);
  const r = await rig.result<Json>("tune_apply", { profile: FULL });
  assert.equal(r.status, "applied");
  assert.deepEqual(r.summary, { applied: 9, unchanged: 0, unchangeable: 0, failed: 0 });
  assert.deepEqual(r.rows.map((x: Json) => x.target), [
    "/proc/irq/default_smp_affinity",
    "/etc/default/irqbalance",
    "IRQ 38 (virtio2-input.0)",
    "IRQ 39 (virtio2-output.0)",
    "IRQ 41 (virtio3-rx)",
    "IRQ 42 (virtio3-tx)",
    "eth0 rx-0 RPS",
    "pid 4242 (opensips)",
    "pid 4300 (opensips)",
  ]);
  // The managed IRQ is listed once as unchangeable, and no write is tried.
  assert.deepEqual(r.unchangeable.map((u: Json) => u.target), ["IRQ 36 (virtio1-req.0)"]);
  const text = (p: string) => Deno.readTextFile(root.path + p);
  assert.equal(await text("/proc/irq/38/smp_affinity_list"), "1\n");
  assert.equal(await text("/proc/irq/41/smp_affinity_list"), "0\n");
  assert.equal(await text("/proc/irq/default_smp_affinity"), "1\n");
  assert.match(await text("/proc/4242/task/4244/status"), /Cpus_allowed_list:\t1\n/);
  assert.match(
    await text("/etc/default/irqbalance"),
    /\nIRQBALANCE_BANNED_CPULIST=1\nIRQBALANCE_ARGS="--banirq=38 --banirq=39 --banirq=41 --banirq=42"\n/,
  );
  const writes = rig.kernel.writes;
  const again = await rig.result<Json>("tune_apply", { profile: FULL });
  assert.equal(again.status, "unchanged");
  assert.equal(again.rows.length, 0);
  assert.equal(rig.kernel.writes, writes, "the second apply writes nothing");
  const v = await rig.result<Json>("tune_verify", { profile: FULL });
  assert.equal(v.in_sync, true);
});

Deno.test("fault injection: the Nth write of an apply fails, for every N; the tree is restored byte for byte", async () => {
  let n = 1;
  for (; n < 50; n++) {
    await using root = await host();
    const before = await treeState(root.path);
    const rig = tuningRig(root.path, {
      fake: {
        beforeWrite: (i, what) => {
          if (i === n) throw kernelError(what.split(" ")[1] ?? "?", "ENOSPC");
        },
      },
    });
    const r = await rig.call("tune_apply", { profile: FULL });
    if (r.error === undefined) {
      // N is past the last write: the whole apply went through.
      assert.equal((r.result as Json).status, "applied");
      break;
    }
    assert.equal(
      r.error.message,
      "Apply failed, rolled back",
      `N=${n}: ${JSON.stringify(r.error)}`,
    );
    assert.match(r.error.data ?? "", /ENOSPC/);
    assert.deepEqual(
      await treeState(root.path),
      before,
      `N=${n}: the tree differs after the rollback`,
    );
    const st = await rig.result<Json>("tune_status");
    assert.equal(st.journal.state, "rolled_back", `N=${n}`);
    assert.equal(st.last_apply.rows.at(-1).result, "failed");
    assert.equal(st.applied, null, "a failed apply leaves no applied profile");
  }
  // 1 default + 1 irqbalance file + 4 IRQs + 1 RPS + 3 + 1 threads.
  assert.equal(n, 12, "every write was failed once");
});

/** A small seeded generator: the same profiles on every run. */
function rng(seed: number) {
  let s = seed >>> 0;
  return <T>(xs: readonly T[]): T => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return xs[s % xs.length];
  };
}

function randomProfile(pick: ReturnType<typeof rng>): Record<string, unknown> {
  const cpus = ["sip_cpus", "housekeeping", "all", "0", "1", "0-1"];
  const p: Record<string, unknown> = { sip_cpus: pick(["0", "1"]) };
  const nic = pick(["spread", ...cpus, ""]);
  if (nic !== "") p.nics = [{ name: "eth0", irqs: nic }];
  p.irqs = pick([[], [{ match: "virtio0-stats", cpus: pick(cpus) }], [{
    match: "^virtio4",
    cpus: pick(cpus),
  }]]);
  p.irqbalance = pick(["leave", { ban: pick(cpus) }, { ban: "sip_cpus", ban_irqs: false }]);
  const procs = pick([[], [{ unit: "opensips.service" }], [{
    name: "^opensips$",
    threads: false,
    cpus: pick(cpus),
  }]]);
  p.processes = procs;
  const def = pick(["", ...cpus]);
  if (def !== "") p.default_irq_affinity = def;
  const rps = pick(["", "off", ...cpus]);
  if (rps !== "") p.rps = [{ nic: "eth0", cpus: rps }];
  return p;
}

Deno.test("properties over generated profiles: apply twice = apply once; apply then rollback = nothing", async () => {
  const pick = rng(20261128);
  for (let i = 0; i < 24; i++) {
    const profile = randomProfile(pick);
    await using root = await host();
    const before = await treeState(root.path);
    const rig = tuningRig(root.path);
    const first = await rig.call("tune_apply", { profile });
    assert.equal(
      first.error,
      undefined,
      `${JSON.stringify(profile)}: ${JSON.stringify(first.error)}`,
    );
    const writes = rig.kernel.writes;
    const second = await rig.result<Json>("tune_apply", { profile });
    assert.equal(second.status, "unchanged", JSON.stringify(profile));
    assert.equal(rig.kernel.writes, writes, `${JSON.stringify(profile)}: the second apply wrote`);
    if ((first.result as Json).status === "applied") {
      const back = await rig.result<Json>("tune_rollback");
      assert.equal(back.status, "rolled_back");
    }
    assert.deepEqual(await treeState(root.path), before, JSON.stringify(profile));
  }
});

Deno.test("one apply at a time: a second caller, here or in another process's lock, is told busy", async () => {
  await using root = await host();
  const gate = Promise.withResolvers<void>();
  const reached = Promise.withResolvers<void>();
  const a = tuningRig(root.path, {
    fake: {
      beforeWrite: async (i) => {
        if (i !== 2) return;
        reached.resolve();
        await gate.promise;
      },
    },
  });
  const running = a.call("tune_apply", { profile: FULL });
  await reached.promise;
  const same = await a.call("tune_apply", { profile: FULL });
  assert.equal(same.error?.message, "Busy");
  assert.match(same.error?.data ?? "", /tune_apply inline is running/);
  // Another MI instance (as another process would) finds the lock file.
  const b = tuningRig(root.path);
  const other = await b.call("irq_set_affinity", { irq: 40, cpus: "0" });
  assert.equal(other.error?.message, "Busy");
  assert.match(
    other.error?.data ?? "",
    new RegExp(`tune_apply inline is running \\(pid ${Deno.pid}, since `),
  );
  gate.resolve();
  assert.equal(((await running).result as Json).status, "applied");
  // Free again.
  assert.equal(
    (await b.result<Json>("irq_set_affinity", { irq: 40, cpus: "0" })).status,
    "applied",
  );
});

Deno.test("an apply interrupted by a crash is rolled back at the next start", async () => {
  await using root = await host();
  const before = await treeState(root.path);
  const reached = Promise.withResolvers<void>();
  // The process that "crashes": it stops for good before its fifth write; its pid is gone.
  const crashed = tuningRig(root.path, {
    pid: await deadPid(),
    fake: {
      beforeWrite: async (i) => {
        if (i < 5) return;
        reached.resolve();
        await new Promise(() => {});
      },
    },
  });
  crashed.call("tune_apply", { profile: FULL });
  await reached.promise;
  assert.notDeepEqual(await treeState(root.path), before, "half applied");
  const next = tuningRig(root.path);
  await next.app.tuning.start();
  try {
    assert.deepEqual(await treeState(root.path), before);
    assert.ok(
      next.lines.some((l) => /was interrupted \(pid [0-9]+ is gone\): rolling back/.test(l)),
      next.lines.join("\n"),
    );
    const st = await next.result<Json>("tune_status");
    assert.equal(st.journal.state, "rolled_back");
  } finally {
    await next.app.tuning.stop();
  }
});

Deno.test("plan errors: nothing is written when the profile asks for what the host cannot give", async () => {
  await using root = await host();
  const before = await treeState(root.path);
  const rig = tuningRig(root.path);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...FULL, sip_cpus: "5" }, /sip_cpus: CPU 5 is not online here \(online: 0-1\)/],
    [
      { ...FULL, nics: [{ name: "eth9", irqs: "spread" }] },
      /nics\[0\] eth9: no network interface 'eth9'/,
    ],
    [{ sip_cpus: "0-1", default_irq_affinity: "housekeeping" }, /"housekeeping" is empty/],
    [
      { irqs: [{ match: "virtio2", cpus: "sip_cpus" }] },
      /needs sip_cpus, which the profile does not set/,
    ],
    [
      {
        sip_cpus: "1",
        nics: [{ name: "eth0", irqs: "spread" }],
        irqs: [{ match: "virtio2-input", cpus: "0" }],
      },
      /IRQ 38 \(virtio2-input.0\): nics\[0\] eth0 wants CPUs 1, irqs\[0\] \/virtio2-input\/ wants 0/,
    ],
    [{
      sip_cpus: "1",
      rps: [{ nic: "lo", cpus: "sip_cpus" }],
      nics: [{ name: "lo", irqs: "spread" }],
    }, /lo has no queue IRQs/],
  ];
  for (const [profile, re] of cases) {
    const r = await rig.call("tune_apply", { profile });
    assert.equal(r.error?.message, "Impossible plan", JSON.stringify(profile));
    assert.match(r.error?.data ?? "", re, JSON.stringify(r.error));
    const plan = await rig.call("tune_plan", { profile });
    assert.match((plan.result as Json).errors.join("\n"), re);
  }
  assert.deepEqual(await treeState(root.path), before);
});

Deno.test("bad profiles are refused with file, line and column", async () => {
  await using root = await host();
  const rig = tuningRig(root.path);
  const file = `${root.path}.profile.jsonc`;
  await Deno.writeTextFile(
    file,
    `{
  "sip_cpus": "1-",
  "nics": [{ "name": "eth0", "irqs": "scatter" }],
  "processes": [{ "unit": "x.service", "name": "y" }, {}],
  "irqs": [{ "match": "(", "cpus": "0" }],
  "irqbalance": "sometimes",
  "bogus": 1
}`,
  );
  try {
    const r = await rig.call("tune_plan", { profile: file });
    assert.equal(r.error?.message, "Bad profile");
    const data = r.error?.data ?? "";
    for (
      const re of [
        /:2:15: 'sip_cpus' must be a cpulist/,
        /:3:38: 'nics\[0\]\.irqs' must be a cpulist .* one of sip_cpus, housekeeping, all, spread/,
        /:5:23: 'irqs\[0\]\.match' is not a regular expression/,
        /:6:17: 'irqbalance' must be "leave", "stop" or an object/,
        /:7:3: 'bogus' unknown key/,
      ]
    ) assert.match(data, re);
    await Deno.writeTextFile(file, `{ "processes": [{ "unit": "x.service", "name": "y" }, {}] }`);
    const r2 = await rig.call("tune_plan", { profile: file });
    assert.match(
      r2.error?.data ?? "",
      /'processes\[0\]' needs exactly one of "unit" or "name".*'processes\[1\]' needs exactly one/,
    );
    const missing = await rig.call("tune_plan", { profile: "/nonexistent/p.jsonc" });
    assert.match(missing.error?.data ?? "", /\/nonexistent\/p.jsonc: cannot read the profile/);
    const none = await rig.call("tune_verify");
    assert.equal(none.error?.message, "No profile");
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("rollback: the newest snapshot, a named one, or the newest of a profile's applies", async () => {
  await using root = await host();
  const rig = tuningRig(root.path);
  const file = `${root.path}.profile.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({ sip_cpus: "1", nics: [{ name: "eth0", irqs: "spread" }] }),
  );
  try {
    const text = (p: string) => Deno.readTextFile(root.path + p);
    const applied = await rig.result<Json>("tune_apply", { profile: file });
    const single = await rig.result<Json>("irq_set_affinity", { irq: 40, cpus: "0" });
    const dry = await rig.result<Json>("tune_rollback", { profile: file, dry_run: true });
    assert.deepEqual([dry.snapshot, dry.rows.map((r: Json) => [r.target, r.new])], [
      applied.snapshot,
      [
        ["IRQ 39 (virtio2-output.0)", "0-1"],
        ["IRQ 38 (virtio2-input.0)", "0-1"],
      ],
    ]);
    const back = await rig.result<Json>("tune_rollback", { profile: file });
    assert.equal(back.snapshot, applied.snapshot);
    assert.equal(await text("/proc/irq/38/smp_affinity_list"), "0-1\n");
    assert.equal(
      await text("/proc/irq/40/smp_affinity_list"),
      "0\n",
      "the later single change stays",
    );
    assert.equal(
      (await rig.result<Json>("tune_status")).applied,
      null,
      "the profile is no longer applied",
    );
    const again = await rig.call("tune_rollback", { profile: file });
    assert.equal(again.error?.message, "Nothing to roll back");
    const named = await rig.result<Json>("tune_rollback", { snapshot: single.snapshot });
    assert.equal(named.status, "rolled_back");
    assert.equal(await text("/proc/irq/40/smp_affinity_list"), "0-1\n");
    const list = await rig.result<Json>("tune_snapshots");
    assert.deepEqual(list.snapshots.map((s: Json) => [s.id, s.rolled_back !== null]), [
      [single.snapshot, true],
      [applied.snapshot, true],
    ]);
    const bogus = await rig.call("tune_rollback", { snapshot: "../../etc/passwd" });
    assert.equal(bogus.error?.message, "No such snapshot");
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("sipmi.cpus pins sipmi's own threads (here posing as pid 4242 of the fixture)", async () => {
  await using root = await host();
  const rig = tuningRig(root.path, { pid: 4242 });
  const r = await rig.result<Json>("tune_apply", {
    profile: { sip_cpus: "1", sipmi: { cpus: "housekeeping" } },
  });
  assert.deepEqual(r.rows.map((x: Json) => [x.item, x.target, x.new, x.note]), [
    ["sipmi.cpus", "pid 4242 (opensips)", "0", "3 threads set"],
  ]);
  for (const tid of [4242, 4243, 4244]) {
    assert.match(
      await Deno.readTextFile(`${root.path}/proc/4242/task/${tid}/status`),
      /Cpus_allowed:\t1\nCpus_allowed_list:\t0\n/,
    );
  }
});
