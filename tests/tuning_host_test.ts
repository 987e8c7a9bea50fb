// The tuning commands on the real host (this kind of VM, as root): results
// must agree with a plain read of the same /proc files, done here without
// the product's parsers. Nothing on the host is changed; children started
// here are killed in `finally`. Without root (or without /proc) the tests
// are skipped, and the reason is printed.

import assert from "node:assert/strict";
import { type Json, tuningMi } from "./tuning_support.ts";

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
