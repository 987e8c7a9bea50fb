// irqbalance_ban and the irqbalance part of profiles, on fixture roots:
// sipmi edits only its own block of the Debian or RHEL config file, the
// result is what irqbalance itself reads (checked with the real irqbalance
// when it is installed and we are root), rollback restores the file byte
// for byte, and a running daemon is told live through its socket (a fake
// one here) or restarted through systemd (recorded on a fixture root).

import assert from "node:assert/strict";
import { parseCpuList } from "../tuning/cpuset.ts";
import { irqbalance, type Json, treeState, tuningRig, vmRoot, write } from "./tuning_support.ts";

const IRQBALANCE = "/usr/sbin/irqbalance";

function realIrqbalanceSkip(): string | null {
  if (Deno.uid() !== 0) return "not root";
  try {
    Deno.statSync(IRQBALANCE);
  } catch {
    return `${IRQBALANCE} is not installed`;
  }
  return null;
}
const realSkip = realIrqbalanceSkip();
if (realSkip !== null) {
  console.log(
    `tests/tuning_irqbalance_write_test.ts: edited files not checked with the real irqbalance: ${realSkip}`,
  );
}

/**
 * A policy script that bans every IRQ: an irqbalance run with it moves
 * nothing, even at start-up (where it would move IRQs off banned CPUs).
 * The IRQs it bans are logged after the `Banned CPUs:` line; --banirq
 * ones before it.
 */
const BAN_ALL = await Deno.makeTempFile({ prefix: "sipmi_banall_" });
await Deno.writeTextFile(BAN_ALL, "#!/bin/sh\necho ban=true\n");
await Deno.chmod(BAN_ALL, 0o755);
globalThis.addEventListener("unload", () => Deno.removeSync(BAN_ALL));

/**
 * What the real irqbalance makes of an environment file, sourced as its
 * init script does: its `Banned CPUs:` line and the IRQs its arguments
 * ban. It is killed as soon as it has printed them.
 */
async function irqbalanceReads(file: string): Promise<{ banned: string; irqs: number[] }> {
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      `set -a; . "$1"; exec stdbuf -oL ${IRQBALANCE} --foreground --debug --policyscript=$2 $IRQBALANCE_ARGS`,
      "sh",
      file,
      BAN_ALL,
    ],
    clearEnv: true,
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const deadline = Date.now() + 5000;
    while (!/Banned CPUs: [0-9a-f,]+/.test(out) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    reader.releaseLock();
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
  }
  const m = /Banned CPUs: ([0-9a-f,]+)/.exec(out);
  if (!m) throw new Error(`irqbalance printed no 'Banned CPUs' line:\n${out}`);
  const irqs = [...out.slice(0, m.index).matchAll(/IRQ ([0-9]+) was BANNED/g)].map((x) =>
    Number(x[1])
  );
  return { banned: m[1], irqs: irqs.sort((a, b) => a - b) };
}

const DEBIAN = await Deno.readTextFile(
  new URL("./fixtures/etc-irqbalance/debian-bookworm-default", import.meta.url),
);

/** Config files as found on hosts: Debian's stock one, hand-edited ones, RHEL's. */
const VARIANTS: [string, string, string][] = [
  ["Debian stock", "/etc/default/irqbalance", DEBIAN],
  [
    "Debian with both keys, quoted, a comment after",
    "/etc/default/irqbalance",
    '# local changes\nIRQBALANCE_BANNED_CPULIST="0"\nIRQBALANCE_ARGS="--banirq=40"\n# end\n',
  ],
  [
    "RHEL with the deprecated mask and export",
    "/etc/sysconfig/irqbalance",
    "# irqbalance\nexport IRQBALANCE_BANNED_CPUS=00000001\nIRQBALANCE_ARGS=\n",
  ],
  [
    "RHEL with both variables, single quotes",
    "/etc/sysconfig/irqbalance",
    "IRQBALANCE_BANNED_CPUS='00000001'\nIRQBALANCE_BANNED_CPULIST='0'\nIRQBALANCE_ONESHOT=\n",
  ],
  ["no newline at the end", "/etc/default/irqbalance", "IRQBALANCE_ARGS=--banirq=43"],
  ["empty file", "/etc/default/irqbalance", ""],
];

Deno.test("irqbalance_ban on Debian and RHEL files: only sipmi's block changes; irqbalance reads the ban; rollback is byte exact", async (t) => {
  for (const [name, path, text] of VARIANTS) {
    await t.step(name, async () => {
      await using root = await vmRoot((dir) => write(dir, { [path]: text }));
      const before = await treeState(root.path);
      const rig = tuningRig(root.path);
      const ban = await rig.result<Json>("irqbalance_ban", { cpus: "1" });
      assert.equal(ban.status, "applied");
      const irq = await rig.result<Json>("irqbalance_ban", { irqs: [38, 39] });
      assert.equal(irq.status, "applied");
      const edited = await Deno.readTextFile(root.path + path);
      // Everything the operator wrote is still there, byte for byte, before the block.
      assert.ok(edited.startsWith(text), `${name}: the operator's text changed:\n${edited}`);
      assert.match(edited, /# BEGIN sipmi[^\n]*\nIRQBALANCE_BANNED_CPULIST=1\n/);
      assert.match(edited, /\n# END sipmi\n$/);
      if (/IRQBALANCE_BANNED_CPUS=['"]?0*1/.test(text)) {
        assert.match(edited, /^IRQBALANCE_BANNED_CPUS=$/m);
      } else assert.doesNotMatch(edited, /^IRQBALANCE_BANNED_CPUS=$/m);
      const own = /--banirq=([0-9]+)/.exec(text)?.[1];
      const st = await rig.result<Json>("irqbalance_status");
      assert.equal(st.banned_cpus, "1", name);
      assert.equal(st.banned_cpus_source, "IRQBALANCE_BANNED_CPULIST");
      assert.equal(st.deprecated_mask_wins, false);
      const banned = [...st.banned_irqs].sort((a, b) => a - b);
      assert.deepEqual(banned, [...(own ? [Number(own)] : []), 38, 39].sort((a, b) => a - b));
      if (realSkip === null) {
        const real = await irqbalanceReads(root.path + path);
        assert.equal(real.banned, "00000002", `${name}: the real irqbalance bans another set`);
        assert.deepEqual(real.irqs, banned, name);
      }
      // Idempotent: the same ban again writes nothing.
      const writes = rig.kernel.writes;
      assert.equal((await rig.result<Json>("irqbalance_ban", { cpus: "1" })).status, "unchanged");
      assert.equal(rig.kernel.writes, writes);
      // Two snapshots, newest first, restore the file exactly.
      await rig.result("tune_rollback");
      await rig.result("tune_rollback");
      assert.deepEqual(await treeState(root.path), before, name);
      // unban takes out just the block.
      await rig.result("irqbalance_ban", { cpus: "1" });
      await rig.result("irqbalance_ban", { unban: true });
      const unbanned = await Deno.readTextFile(root.path + path);
      assert.equal(unbanned, text.endsWith("\n") || text === "" ? text : `${text}\n`);
    });
  }
});

Deno.test("irqbalance_ban: a broken sipmi block, or irqbalance not installed, is an error and nothing is written", async () => {
  await using root = await vmRoot((dir) =>
    write(dir, {
      "/etc/default/irqbalance":
        "A=1\n# BEGIN sipmi: written by `sipmi tune`\nIRQBALANCE_BANNED_CPULIST=1\n",
    })
  );
  const rig = tuningRig(root.path);
  const broken = await rig.call("irqbalance_ban", { cpus: "1" });
  assert.equal(broken.error?.message, "Impossible request");
  assert.match(
    broken.error?.data ?? "",
    /\/etc\/default\/irqbalance:2: sipmi's block has no matching BEGIN\/END line/,
  );
  await using bare = await vmRoot();
  const none = await tuningRig(bare.path).call("irqbalance_ban", { cpus: "1" });
  assert.equal(none.error?.code, 404);
  assert.match(none.error?.data ?? none.error?.message ?? "", /irqbalance is not installed here/);
});

/** A stand-in for irqbalance's socket: answers `setup`, takes `settings ...`, records every command. */
function fakeSocket(root: string, pid: number, own: { cpus: string; irqs: number[] }) {
  const path = `${root}/run/irqbalance/irqbalance${pid}.sock`;
  Deno.mkdirSync(`${root}/run/irqbalance`, { recursive: true });
  const state = { cpus: own.cpus, irqs: [...own.irqs], commands: [] as string[] };
  const server = Deno.listen({ transport: "unix", path });
  const done = (async () => {
    for await (const conn of server) {
      const buf = new Uint8Array(4096);
      const n = await conn.read(buf);
      const cmd = new TextDecoder().decode(buf.subarray(0, n ?? 0));
      if (cmd === "setup") {
        const irqs = state.irqs.map((i) => `IRQ ${i} LOAD 0 DIFF 0 CLASS 0 `).join("");
        const mask = parseCpuList(state.cpus).toMask(32);
        await conn.write(new TextEncoder().encode(`SLEEP 10 ${irqs}BANNED ${mask}`));
      } else {
        state.commands.push(cmd);
        const cpus = /^settings cpus (.*)$/.exec(cmd)?.[1];
        if (cpus !== undefined) state.cpus = cpus === "NULL" ? own.cpus : cpus;
        const irqs = /^settings ban irqs (.*)$/.exec(cmd)?.[1];
        if (irqs !== undefined) state.irqs = irqs === "NONE" ? [] : irqs.split(" ").map(Number);
      }
      conn.close();
    }
  })();
  return {
    state,
    async [Symbol.asyncDispose]() {
      server.close();
      await done.catch(() => {});
    },
  };
}

const PROFILE = {
  sip_cpus: "1",
  nics: [{ name: "eth0", irqs: "spread" }],
  irqbalance: { ban: "sip_cpus" },
};

Deno.test("a running irqbalance is told live through its socket, and told again on rollback", async () => {
  await using root = await vmRoot((dir) =>
    write(dir, {
      ...irqbalance("LANG=C\0", ["--foreground", "--banirq=36"]),
      "/etc/default/irqbalance": "IRQBALANCE_ARGS=--banirq=36\n",
    })
  );
  await using sock = fakeSocket(root.path, 777, { cpus: "", irqs: [36] });
  const rig = tuningRig(root.path);
  const before = await treeState(root.path);
  const r = await rig.result<Json>("tune_apply", { profile: PROFILE });
  const row = r.rows.find((x: Json) => x.step === "irqbalance");
  assert.match(
    row.note,
    /told irqbalance \(pid 777\) through \/run\/irqbalance\/irqbalance777.sock: settings cpus 1; settings ban irqs 36 38 39; it applies them at its next pass \(every 10s\)/,
  );
  assert.deepEqual(sock.state.commands, ["settings cpus 1", "settings ban irqs 36 38 39"]);
  const st = await rig.result<Json>("irqbalance_status");
  assert.deepEqual([st.effective_from, st.banned_cpus, st.banned_irqs, st.restart_needed], [
    "socket",
    "1",
    [36, 38, 39],
    false,
  ]);
  assert.equal((await rig.result<Json>("tune_verify", { profile: PROFILE })).in_sync, true);
  // irqbalance forgets the IRQ ban (as after a restart with an old config) and moves IRQ 38.
  sock.state.irqs = [36];
  await write(root.path, {
    "/proc/irq/38/smp_affinity_list": "0-1\n",
    "/proc/irq/38/smp_affinity": "3\n",
  });
  const v = await rig.result<Json>("tune_verify", { profile: PROFILE });
  assert.deepEqual(v.drift.map((d: Json) => [d.target, d.cause]), [
    ["IRQ 38 (virtio2-input.0)", "irqbalance (pid 777) runs and does not ban IRQ 38: it moves it"],
  ]);
  // Until its next pass (twice its SLEEP), a daemon just told is given the benefit of the doubt.
  assert.ok(
    v.notes.some((n: string) => /was told its new bans and applies them at its next pass/.test(n)),
  );
  await write(root.path, {
    "/proc/irq/38/smp_affinity_list": "1\n",
    "/proc/irq/38/smp_affinity": "2\n",
  });
  sock.state.irqs = [36, 38, 39];
  await rig.result("tune_rollback");
  assert.deepEqual(sock.state.commands.slice(2), ["settings cpus NULL", "settings ban irqs 36"]);
  assert.deepEqual([sock.state.cpus, sock.state.irqs], ["", [36]]);
  assert.deepEqual(await treeState(root.path), before);
});

Deno.test("without a socket irqbalance is restarted through systemd; stop/start likewise; without either, an error", async () => {
  await using root = await vmRoot((dir) =>
    write(dir, {
      ...irqbalance("LANG=C\0", ["--foreground"]),
      "/etc/default/irqbalance": "",
    })
  );
  const rig = tuningRig(root.path);
  const none = await rig.call("tune_apply", { profile: PROFILE });
  assert.equal(none.error?.message, "Impossible plan");
  assert.match(
    none.error?.data ?? "",
    /irqbalance \(pid 777\) runs, does not answer on its socket .* and systemd is absent/,
  );
  const stopNone = await rig.call("tune_plan", { profile: { irqbalance: "stop" } });
  assert.match((stopNone.result as Json).errors[0], /systemd is absent here: sipmi cannot stop it/);

  await Deno.mkdir(`${root.path}/run/systemd/system`, { recursive: true });
  const r = await rig.result<Json>("tune_apply", { profile: PROFILE });
  const row = r.rows.find((x: Json) => x.step === "irqbalance");
  assert.match(
    row.note,
    /systemctl try-restart irqbalance.service \(fixture root: recorded, not run\)/,
  );
  assert.deepEqual(rig.services.calls, ["try-restart irqbalance.service"]);
  await rig.result("tune_rollback");
  assert.deepEqual(rig.services.calls, [
    "try-restart irqbalance.service",
    "try-restart irqbalance.service",
  ]);

  const stop = await rig.result<Json>("tune_apply", { profile: { irqbalance: "stop" } });
  assert.deepEqual(stop.rows.map((x: Json) => [x.target, x.old, x.new]), [[
    "irqbalance.service",
    "running (pid 777)",
    "stopped",
  ]]);
  await rig.result("tune_rollback");
  assert.deepEqual(rig.services.calls.slice(2), [
    "stop irqbalance.service",
    "start irqbalance.service",
  ]);
  // systemctl failing is a failed change, rolled back.
  rig.services.code = 5;
  const failed = await rig.call("tune_apply", { profile: PROFILE });
  assert.equal(failed.error?.message, "Apply failed, rolled back");
  assert.match(
    failed.error?.data ?? "",
    /systemctl try-restart irqbalance.service failed \(exit 5\)/,
  );
});
