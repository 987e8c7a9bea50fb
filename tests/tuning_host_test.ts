// The tuning commands on the real host (this kind of VM, as root): results
// must agree with a plain read of the same /proc files, done here without
// the product's parsers. The write tests change a virtio queue IRQ, RPS,
// the default IRQ affinity and a child's threads, and put back what they
// changed in `finally`; they live in this file so that no read test of the
// same host runs while they write. Children started here are killed in
// `finally`. Without root (or without /proc) the tests are skipped, and
// the reason is printed.

import assert from "node:assert/strict";
import type { Plan } from "../tuning/changes.ts";
import { runTransaction } from "../tuning/transaction.ts";
import { StateStore } from "../tuning/state_store.ts";
import { type Json, tuningMi, tuningRig } from "./tuning_support.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

function skipReason(): string | null {
  if (Deno.build.os !== "linux") return `not Linux (${Deno.build.os})`;
  try {
    Deno.statSync("/proc/interrupts");
  } catch {
    return "no /proc/interrupts";
  }
  if (Deno.uid() !== 0) {
    return `not root (uid ${Deno.uid()}): /proc/PID/environ and other users' tasks are unreadable`;
  }
  return null;
}

const reason = skipReason();
if (reason !== null) console.log(`tests/tuning_host_test.ts: skipping real-host tests: ${reason}`);
const ignore = reason !== null;

/** /proc/interrupts read the plain way: label -> [per-CPU counts, text after the counts]. */
async function plainInterrupts(): Promise<
  { ncpu: number; rows: Map<string, { counts: number[]; tail: string }> }
> {
  const lines = (await Deno.readTextFile("/proc/interrupts")).split("\n").filter((l) =>
    l.trim() !== ""
  );
  const ncpu = lines[0].trim().split(/\s+/).length;
  const rows = new Map<string, { counts: number[]; tail: string }>();
  for (const line of lines.slice(1)) {
    const [label, rest] = [
      line.slice(0, line.indexOf(":")).trim(),
      line.slice(line.indexOf(":") + 1),
    ];
    const words = rest.trim().split(/\s+/);
    const counts: number[] = [];
    while (counts.length < ncpu && /^[0-9]+$/.test(words[0] ?? "")) {
      counts.push(Number(words.shift()));
    }
    rows.set(label, { counts, tail: words.join(" ") });
  }
  return { ncpu, rows };
}

/** Kills a python helper child and releases its pipes. */
async function stopChild(child: Deno.ChildProcess): Promise<void> {
  child.kill("SIGKILL");
  await child.status;
  await child.stdin.close().catch(() => {});
  await child.stdout.cancel().catch(() => {});
}

Deno.test({
  name: "host: irq_list agrees with a plain read of /proc/interrupts",
  ignore,
  async fn() {
    const before = await plainInterrupts();
    const r = await tuningMi("/").result<Json>("irq_list");
    const after = await plainInterrupts();
    assert.equal(r.cpus.length, before.ncpu);
    assert.deepEqual(r.irqs.map((i: Json) => i.irq), [...before.rows.keys()]);
    for (const i of r.irqs) {
      const b = before.rows.get(i.irq)!, a = after.rows.get(i.irq)!;
      // Counts only grow: the MI read lies between the two plain reads.
      assert.equal(i.counts.length, b.counts.length, i.irq);
      i.counts.forEach((c: number, k: number) => {
        assert.ok(
          b.counts[k] <= c && c <= a.counts[k],
          `IRQ ${i.irq} CPU column ${k}: ${b.counts[k]} <= ${c} <= ${a.counts[k]}`,
        );
      });
      // chip, hwirq-trigger and name, re-joined, are the plain tail.
      const parts = i.numeric
        ? [
          i.chip,
          i.hwirq !== null ? `${i.hwirq}${i.trigger !== null ? `-${i.trigger}` : ""}` : null,
          i.name,
        ]
        : [i.name];
      assert.equal(
        parts.filter((p) => p !== null && p !== "").join(" ").replace(/\s+/g, " "),
        b.tail,
        i.irq,
      );
      if (i.numeric) {
        const list = (await Deno.readTextFile(`/proc/irq/${i.irq}/smp_affinity_list`)).trim();
        assert.equal(i.smp_affinity_list, list, i.irq);
        const mode = (await Deno.stat(`/proc/irq/${i.irq}/smp_affinity`)).mode! & 0o777;
        assert.equal(i.changeable, (mode & 0o222) !== 0, `IRQ ${i.irq} mode ${mode.toString(8)}`);
      }
    }
  },
});

Deno.test({
  name: "host: affinity_get of a multi-threaded child agrees with /proc/PID/task/*/status",
  ignore,
  async fn() {
    // Threads pin themselves (pid 0 = the calling thread) to different CPUs.
    const online = (await Deno.readTextFile("/sys/devices/system/cpu/online")).trim();
    const last = Number(online.split(/[-,]/).at(-1));
    const script = `
import os, sys, threading, time
ev = threading.Event()
def worker(cpus):
    os.sched_setaffinity(0, cpus)
    ev.wait()
ts = [threading.Thread(target=worker, args=(c,), name=f"w{i}") for i, c in enumerate([{0}, {${last}}, {0, ${last}}])]
for t in ts: t.start()
time.sleep(0.2)
print("ready", flush=True)
sys.stdin.read()
ev.set()
`;
    const child = new Deno.Command("python3", {
      args: ["-c", script],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const { value } = await reader.read();
      assert.match(value ?? "", /ready/);
      reader.releaseLock();

      const r = await tuningMi("/").result<Json>("affinity_get", { pid: child.pid, threads: true });
      assert.equal(r.source, "sched_getaffinity+status");
      assert.equal(r.agree, true);
      const p = r.processes[0];
      const tids = [...Deno.readDirSync(`/proc/${child.pid}/task`)].map((e) => Number(e.name)).sort(
        (a, b) => a - b,
      );
      assert.deepEqual(p.tasks.map((t: Json) => t.tid), tids);
      for (const t of p.tasks) {
        const status = await Deno.readTextFile(`/proc/${child.pid}/task/${t.tid}/status`);
        const want = /^Cpus_allowed_list:\s*(\S*)$/m.exec(status)![1];
        assert.equal(t.status, want, `tid ${t.tid}`);
        assert.equal(t.sched_getaffinity, want, `tid ${t.tid}`);
        assert.equal(t.agree, true);
      }
      // The three workers' masks are there.
      assert.ok(p.tasks.some((t: Json) => t.cpus === "0"));
      assert.ok(p.tasks.some((t: Json) => t.cpus === String(last)));
      if (last > 0) assert.equal(p.uniform, false);
    } finally {
      await stopChild(child);
    }
  },
});

Deno.test({
  name: "host: host_stats sees a SIP-like socket's drops as /proc/net/udp does",
  ignore,
  async fn() {
    // A socket with a tiny receive buffer that never reads, flooded from the same process.
    const script = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(200): c.sendto(b"x" * 500, ("127.0.0.1", port))
print(port, flush=True)
sys.stdin.read()
`;
    const child = new Deno.Command("python3", {
      args: ["-c", script],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const port = Number(((await reader.read()).value ?? "").trim());
      reader.releaseLock();
      assert.ok(port > 0);
      const r = await tuningMi("/").result<Json>("host_stats", { ports: [port] });
      assert.equal(r.sockets.length, 1);
      const s = r.sockets[0];
      const hex = port.toString(16).toUpperCase().padStart(4, "0");
      const row = (await Deno.readTextFile("/proc/net/udp")).split("\n").find((l) =>
        l.includes(`:${hex} `)
      )!;
      const f = row.trim().split(/\s+/);
      assert.equal(s.local, `127.0.0.1:${port}`);
      assert.equal(s.inode, Number(f[9]));
      assert.equal(s.drops, Number(f[12]));
      assert.ok(s.drops > 0, `expected drops on a flooded socket, got ${s.drops}`);
      assert.ok(r.totals.udp_rcvbuf_errors >= s.drops);
    } finally {
      await stopChild(child);
    }
  },
});

Deno.test({
  name: "host: cpu_list, nic_describe and statistics agree with sysfs; tune show and doctor run",
  ignore,
  async fn() {
    const mi = tuningMi("/");
    const cpus = await mi.result<Json>("cpu_list");
    assert.equal(cpus.online, (await Deno.readTextFile("/sys/devices/system/cpu/online")).trim());
    const nics = [...Deno.readDirSync("/sys/class/net")].map((e) => e.name);
    const phys = nics.find((n) => {
      try {
        Deno.statSync(`/sys/class/net/${n}/device`);
        return true;
      } catch {
        return false;
      }
    });
    if (phys !== undefined) {
      const nic = await mi.result<Json>("nic_describe", { nic: phys });
      const rx = (await Deno.readTextFile(`/sys/class/net/${phys}/statistics/rx_packets`)).trim();
      assert.ok(nic.counters.rx_packets <= Number(rx));
      const irqs = [...nic.queue_irqs, ...nic.other_irqs].map((i: Json) => i.irq);
      assert.ok(irqs.length > 0, `${phys}: no IRQs found via ${nic.irq_source}`);
    }
    const stats = await mi.result<Record<string, number>>("get_statistics", {
      statistics: ["softnet:", "irq:"],
    });
    assert.ok("softnet:processed" in stats);
    assert.ok(Object.keys(stats).some((k) => k.startsWith("irq:")));
    for (
      const args of [["show"], ["doctor", "--interval", "0.2"], ["irq", "list"], [
        "stats",
        "--interval",
        "0.2",
        "--count",
        "2",
      ]]
    ) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, "tune", ...args],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(out.stderr);
      // Without a config file and a default route, show/doctor still succeed (the NIC section says why).
      assert.equal(out.code, 0, `tune ${args.join(" ")}: ${err}`);
      assert.equal(err, "");
    }
  },
});

// ------------------------------------------------------------------ writes

/** A rig on the real host whose snapshots go to a temporary state directory. */
async function hostRig() {
  const state = await Deno.makeTempDir({ prefix: "sipmi_host_state_" });
  const rig = tuningRig("/", { tuning: { state_dir: state } });
  return {
    rig,
    state,
    async [Symbol.asyncDispose]() {
      await rig.app.tuning.stop();
      await Deno.remove(state, { recursive: true });
    },
  };
}

const readTrim = async (p: string) => (await Deno.readTextFile(p)).trim();

/** eth0's receive queue IRQ (virtio2-input.0 on this kind of VM), found by sipmi's own NIC reader. */
async function inputQueueIrq(): Promise<string | null> {
  try {
    const nic = await tuningMi("/").result<Json>("nic_describe", { nic: "eth0" });
    const q = nic.queue_irqs.find((x: Json) => x.kind === "rx" || x.kind === "rxtx");
    return q && q.changeable !== false ? q.irq : null;
  } catch {
    return null;
  }
}

Deno.test({
  name:
    "host write: a virtio queue IRQ set to CPU 1 and back (smp_affinity_list and effective_affinity_list)",
  ignore,
  async fn() {
    const irq = await inputQueueIrq();
    const online = await readTrim("/sys/devices/system/cpu/online");
    if (irq === null || !/^0-[1-9]/.test(online)) {
      console.log(
        `tests/tuning_host_test.ts: no changeable eth0 queue IRQ or one CPU only (${online}): skipped`,
      );
      return;
    }
    const dir = `/proc/irq/${irq}`;
    const was = await readTrim(`${dir}/smp_affinity_list`);
    await using h = await hostRig();
    try {
      const r = await h.rig.result<Json>("irq_set_affinity", { irq: Number(irq), cpus: "1" });
      assert.equal(r.status, was === "1" ? "unchanged" : "applied");
      assert.equal(await readTrim(`${dir}/smp_affinity_list`), "1");
      // The vector moves when the next interrupt arrives (x86 defers the move
      // to interrupt context). Wait for eth0's own traffic, up to 10 s: once
      // the IRQ has fired, effective_affinity_list must say CPU 1; if it did
      // not fire, the move is still pending and the old CPU is right.
      const fired = async () =>
        (await plainInterrupts()).rows.get(irq)!.counts.reduce((a, b) => a + b, 0);
      const start = await fired();
      const end = Date.now() + 10_000;
      while (await readTrim(`${dir}/effective_affinity_list`) !== "1" && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const eff = await readTrim(`${dir}/effective_affinity_list`);
      if (eff !== "1") {
        assert.equal(await fired(), start, `IRQ ${irq} fired but is still delivered to CPU ${eff}`);
        console.log(
          `tests/tuning_host_test.ts: IRQ ${irq} did not fire in 10 s: its move to CPU 1 is pending`,
        );
      }
      if (r.status === "applied") {
        const back = await h.rig.result<Json>("tune_rollback");
        assert.equal(back.status, "rolled_back");
      }
      assert.equal(await readTrim(`${dir}/smp_affinity_list`), was);
    } finally {
      if (await readTrim(`${dir}/smp_affinity_list`) !== was) {
        await Deno.writeTextFile(`${dir}/smp_affinity_list`, `${was}\n`);
      }
    }
  },
});

Deno.test({
  name: "host write: the managed IRQ comes out unchangeable (planned, and when written)",
  ignore,
  async fn() {
    const list = await tuningMi("/").result<Json>("irq_list");
    const managed = list.irqs.find((i: Json) => i.numeric && i.changeable === false);
    if (managed === undefined) {
      console.log("tests/tuning_host_test.ts: no managed (0444) IRQ on this host: skipped");
      return;
    }
    const path = `/proc/irq/${managed.irq}/smp_affinity_list`;
    const was = await readTrim(path);
    await using h = await hostRig();
    // The plan sees the 0444 file and does not try.
    const r = await h.rig.result<Json>("irq_set_affinity", { irq: Number(managed.irq), cpus: "0" });
    assert.equal(r.status, "unchanged");
    assert.deepEqual(r.unchangeable.map((u: Json) => u.target), [
      `IRQ ${managed.irq} (${managed.name})`,
    ]);
    // A write anyway (as on kernels that keep such files 0644): the kernel refuses, the row says unchangeable.
    const plan: Plan = {
      what: "test",
      cpus: {},
      changes: [{
        step: "irqs",
        item: "test",
        target: `IRQ ${managed.irq}`,
        old: was,
        new: "0",
        reason: "test",
        action: { kind: "kernel_cpus", path, format: "list", cpus: "0", nr: 2 },
      }],
      unchanged: [],
      unchangeable: [],
      notes: [],
      errors: [],
      pids: {},
    };
    const t = await runTransaction(h.rig.env, new StateStore(h.rig.env.fs, h.state), plan);
    assert.equal(t.status, "applied");
    assert.equal(t.rows[0].result, "unchangeable");
    assert.match(t.rows[0].errno ?? "", /^(EPERM|EIO|EACCES)$/);
    assert.equal(await readTrim(path), was);
  },
});

/** A python child with three extra threads that sleep until stdin closes. */
function threadedChild() {
  const child = new Deno.Command("python3", {
    args: [
      "-c",
      `
import sys, threading
ev = threading.Event()
ts = [threading.Thread(target=ev.wait) for _ in range(3)]
for t in ts: t.start()
print("ready", flush=True)
sys.stdin.read()
ev.set()
`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  return {
    child,
    async ready() {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      assert.match((await reader.read()).value ?? "", /ready/);
      reader.releaseLock();
    },
    async [Symbol.asyncDispose]() {
      await stopChild(child);
    },
  };
}

async function taskCpus(pid: number): Promise<string[]> {
  const out: string[] = [];
  for (const e of Deno.readDirSync(`/proc/${pid}/task`)) {
    const status = await Deno.readTextFile(`/proc/${pid}/task/${e.name}/status`);
    out.push(/^Cpus_allowed_list:\s*(\S*)$/m.exec(status)![1]);
  }
  return out;
}

Deno.test({
  name:
    "host write: every thread of a multi-threaded child pinned to CPU 0; {0,5} reports 5 dropped",
  ignore,
  async fn() {
    await using c = threadedChild();
    await c.ready();
    await using h = await hostRig();
    const pid = c.child.pid;
    const r = await h.rig.result<Json>("affinity_set", { pid, cpus: "0", threads: true });
    assert.equal(r.rows[0].result, "applied");
    assert.match(r.rows[0].note, /^4 threads set$/);
    assert.deepEqual(await taskCpus(pid), ["0", "0", "0", "0"]);
    // Back to what they had, from the snapshot.
    await h.rig.result("tune_rollback");
    const online = await readTrim("/sys/devices/system/cpu/online");
    assert.deepEqual(await taskCpus(pid), [online, online, online, online]);
    // A CPU that does not exist here: the kernel keeps the rest, and sipmi says so.
    const big = (await h.rig.result<Json>("cpu_list")).cpus.length;
    const absent = Math.max(5, big);
    const d = await h.rig.result<Json>("affinity_set", { pid, cpus: `0,${absent}`, threads: true });
    assert.equal(d.rows[0].result, "applied");
    assert.equal(d.rows[0].kept, "0");
    assert.match(d.rows[0].note, new RegExp(`the kernel dropped CPU ${absent} \\(not online\\)`));
    assert.ok(d.notes.some((n: string) => n.includes(`CPU ${absent} is not online`)));
    assert.deepEqual(await taskCpus(pid), ["0", "0", "0", "0"]);
  },
});

Deno.test({
  name: "host write: RPS of eth0 and the default IRQ affinity, set and rolled back",
  ignore,
  async fn() {
    const rpsPath = "/sys/class/net/eth0/queues/rx-0/rps_cpus";
    const defPath = "/proc/irq/default_smp_affinity";
    let rpsWas: string;
    try {
      rpsWas = await readTrim(rpsPath);
    } catch {
      console.log("tests/tuning_host_test.ts: no eth0 rx-0/rps_cpus: skipped");
      return;
    }
    const defWas = await readTrim(defPath);
    await using h = await hostRig();
    try {
      const rps = await h.rig.result<Json>("rps_set", { nic: "eth0", cpus: "1" });
      assert.equal(rps.status, "applied");
      assert.equal(await readTrim(rpsPath), "2");
      const def = await h.rig.result<Json>("irq_default_affinity", { cpus: "0" });
      assert.equal(def.status, "applied");
      assert.equal(await readTrim(defPath), "1");
      await h.rig.result("tune_rollback");
      await h.rig.result("tune_rollback");
      assert.equal(await readTrim(rpsPath), rpsWas);
      assert.equal(await readTrim(defPath), defWas);
    } finally {
      if (await readTrim(rpsPath) !== rpsWas) await Deno.writeTextFile(rpsPath, `${rpsWas}\n`);
      if (await readTrim(defPath) !== defWas) await Deno.writeTextFile(defPath, `${defWas}\n`);
    }
  },
});

// ------------------------------------------------------- the real irqbalance

const IRQBALANCE = "/usr/sbin/irqbalance";
const irqbalanceSkip = reason ?? (() => {
  try {
    Deno.statSync(IRQBALANCE);
    return null;
  } catch {
    return `${IRQBALANCE} is not installed (.ci/run installs the irqbalance package)`;
  }
})();
if (irqbalanceSkip !== null && reason === null) {
  console.log(`tests/tuning_host_test.ts: skipping the real irqbalance test: ${irqbalanceSkip}`);
}

/** `setup` on irqbalance's socket, asked directly (not through sipmi). */
async function askSetup(pid: number): Promise<string> {
  const conn = await Deno.connect({
    transport: "unix",
    path: `/run/irqbalance/irqbalance${pid}.sock`,
  });
  try {
    await conn.write(new TextEncoder().encode("setup"));
    const buf = new Uint8Array(65536);
    let out = "";
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return out;
      out += new TextDecoder().decode(buf.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

Deno.test({
  name:
    "host write: a real irqbalance started here takes the live ban through its socket, and lets it go on unban",
  ignore: irqbalanceSkip !== null,
  async fn() {
    const config = "/etc/default/irqbalance";
    const hadConfig = await Deno.stat(config).then(() => true, () => false);
    const configWas = hadConfig ? await Deno.readFile(config) : null;
    const affinities = new Map<string, string>();
    for (const e of Deno.readDirSync("/proc/irq")) {
      if (!/^[0-9]+$/.test(e.name)) continue;
      affinities.set(
        e.name,
        await readTrim(`/proc/irq/${e.name}/smp_affinity_list`).catch(() => ""),
      );
    }
    const hadRunDir = await Deno.stat("/run/irqbalance").then(() => true, () => false);
    if (!hadRunDir) await Deno.mkdir("/run/irqbalance");
    // A policy script that bans every IRQ: this irqbalance moves nothing while it runs.
    const script = await Deno.makeTempFile({ prefix: "sipmi_banall_" });
    await Deno.writeTextFile(script, "#!/bin/sh\necho ban=true\n");
    await Deno.chmod(script, 0o755);
    const daemon = new Deno.Command(IRQBALANCE, {
      args: ["--foreground", "--debug", "--interval=1", `--policyscript=${script}`],
      clearEnv: true,
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
      stdout: "null",
      stderr: "null",
    }).spawn();
    await using h = await hostRig();
    try {
      const sock = `/run/irqbalance/irqbalance${daemon.pid}.sock`;
      const end = Date.now() + 5000;
      while (!(await Deno.stat(sock).then(() => true, () => false))) {
        if (Date.now() > end) throw new Error(`${sock} did not appear`);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.match(await askSetup(daemon.pid), /BANNED 0+$/);
      const r = await h.rig.result<Json>("irqbalance_ban", { cpus: "1" });
      assert.equal(r.status, "applied");
      assert.match(
        r.rows[0].note,
        new RegExp(`told irqbalance \\(pid ${daemon.pid}\\) through ${sock}: settings cpus 1`),
      );
      // It takes the ban at its next pass (--interval=1).
      const until = Date.now() + 8000;
      let setup = "";
      while (!/BANNED 0*2$/.test(setup = await askSetup(daemon.pid))) {
        if (Date.now() > until) throw new Error(`irqbalance did not take the ban: ${setup}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const st = await h.rig.result<Json>("irqbalance_status");
      assert.deepEqual([st.running, st.effective_from, st.banned_cpus], [true, "socket", "1"]);
      assert.match(
        await Deno.readTextFile(config),
        /\nIRQBALANCE_BANNED_CPULIST=1\n# END sipmi\n$/,
      );
      // unban: the block goes, the daemon is told to fall back to its own settings.
      const u = await h.rig.result<Json>("irqbalance_ban", { unban: true });
      assert.equal(u.status, "applied");
      const until2 = Date.now() + 8000;
      while (!/BANNED 0+$/.test(setup = await askSetup(daemon.pid))) {
        if (Date.now() > until2) throw new Error(`irqbalance kept the ban: ${setup}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.deepEqual(await Deno.readFile(config), configWas ?? new Uint8Array());
    } finally {
      daemon.kill("SIGKILL");
      await daemon.status;
      await Deno.remove(script);
      if (!hadRunDir) await Deno.remove("/run/irqbalance", { recursive: true });
      if (configWas !== null) await Deno.writeFile(config, configWas);
      else await Deno.remove(config).catch(() => {});
      for (const [irq, list] of affinities) {
        const path = `/proc/irq/${irq}/smp_affinity_list`;
        const now = await readTrim(path).catch(() => list);
        if (list !== "" && now !== list) {
          await Deno.writeTextFile(path, `${list}\n`).catch(() => {});
        }
      }
    }
  },
});
