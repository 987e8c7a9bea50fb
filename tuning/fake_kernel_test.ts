import assert from "node:assert/strict";
import { HostFsError } from "../sys/hostfs.ts";
import { SysError } from "../sys/libc.ts";
import { FakeKernel } from "./fake_kernel.ts";

async function withRoot(fn: (root: string) => Promise<void>) {
  const root = await Deno.makeTempDir({ prefix: "sipmi_fake_kernel_" });
  const files: Record<string, string> = {
    "/sys/devices/system/cpu/online": "0-1,3\n",
    "/sys/devices/system/cpu/possible": "0-3\n",
    "/proc/irq/38/smp_affinity": "b\n",
    "/proc/irq/38/smp_affinity_list": "0-1,3\n",
    "/proc/irq/38/effective_affinity_list": "1\n",
    "/proc/irq/36/smp_affinity": "b\n",
    "/proc/irq/36/smp_affinity_list": "0-1,3\n",
    "/proc/irq/default_smp_affinity": "b\n",
    "/sys/class/net/eth0/queues/rx-0/rps_cpus": "0\n",
    "/proc/50/status": "Name:\tx\nCpus_allowed:\tb\nCpus_allowed_list:\t0-1,3\n",
    "/proc/50/task/50/status": "Name:\tx\nCpus_allowed:\tb\nCpus_allowed_list:\t0-1,3\n",
    "/proc/50/task/51/status": "Name:\ty\nCpus_allowed:\tb\nCpus_allowed_list:\t0-1,3\n",
  };
  try {
    for (const [p, t] of Object.entries(files)) {
      await Deno.mkdir(root + p.slice(0, p.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(root + p, t);
    }
    for (const f of ["smp_affinity", "smp_affinity_list"]) {
      await Deno.chmod(`${root}/proc/irq/36/${f}`, 0o444);
    }
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

function errno(e: unknown): string | null {
  return e instanceof HostFsError ? e.errno : e instanceof SysError ? e.code : null;
}

Deno.test("fake kernel: IRQ affinity writes follow the kernel's rules and keep both files alike", async () => {
  await withRoot(async (root) => {
    const k = new FakeKernel(root);
    await k.writeKernel("/proc/irq/38/smp_affinity_list", "1\n");
    assert.equal(await k.readText("/proc/irq/38/smp_affinity_list"), "1\n");
    assert.equal(await k.readText("/proc/irq/38/smp_affinity"), "2\n");
    // Delivery is the kernel's choice: effective_affinity is left as it was.
    assert.equal(await k.readText("/proc/irq/38/effective_affinity_list"), "1\n");
    await k.writeKernel("/proc/irq/38/smp_affinity", "3\n");
    assert.equal(await k.readText("/proc/irq/38/smp_affinity_list"), "0-1\n");
    // An offline CPU (2) is kept in the requested mask, as the kernel does.
    await k.writeKernel("/proc/irq/38/smp_affinity_list", "1-2\n");
    assert.equal(await k.readText("/proc/irq/38/smp_affinity"), "6\n");
    const cases: [string, string, string][] = [
      ["/proc/irq/38/smp_affinity_list", "2\n", "EINVAL"], // no online CPU
      ["/proc/irq/38/smp_affinity_list", "4\n", "ERANGE"], // beyond nr_cpu_ids
      ["/proc/irq/38/smp_affinity", "10\n", "EOVERFLOW"],
      ["/proc/irq/38/smp_affinity_list", "x\n", "EINVAL"],
      ["/proc/irq/38/smp_affinity", "0x3\n", "EINVAL"],
      ["/proc/irq/36/smp_affinity_list", "0\n", "EPERM"], // 0444: managed
      ["/proc/irq/37/smp_affinity_list", "0\n", "ENOENT"],
      ["/proc/irq/default_smp_affinity", "4\n", "EINVAL"],
    ];
    for (const [path, text, want] of cases) {
      await assert.rejects(
        k.writeKernel(path, text),
        (e) => errno(e) === want,
        `${path} ${text.trim()}`,
      );
    }
    assert.equal(
      await k.readText("/proc/irq/38/smp_affinity_list"),
      "1-2\n",
      "a refused write changes nothing",
    );
    assert.equal(k.writes, 11);
  });
});

Deno.test("fake kernel: without DAC override a 0444 file is EACCES; old kernels answer EIO", async () => {
  await withRoot(async (root) => {
    const noDac = new FakeKernel(root, { dacOverride: false });
    await assert.rejects(
      noDac.writeKernel("/proc/irq/36/smp_affinity_list", "0"),
      (e) => errno(e) === "EACCES",
    );
    const old = new FakeKernel(root, { failingIrqs: { "38": "EIO" } });
    await assert.rejects(
      old.writeKernel("/proc/irq/38/smp_affinity_list", "0"),
      (e) => errno(e) === "EIO",
    );
  });
});

Deno.test("fake kernel: RPS may be empty; masks are printed nr_cpu_ids wide", async () => {
  await withRoot(async (root) => {
    const k = new FakeKernel(root);
    const rps = "/sys/class/net/eth0/queues/rx-0/rps_cpus";
    await k.writeKernel(rps, "9\n");
    assert.equal(await k.readText(rps), "9\n");
    await k.writeKernel(rps, "0\n");
    assert.equal(await k.readText(rps), "0\n");
    await k.writeKernel("/proc/irq/default_smp_affinity", "00000001\n");
    assert.equal(await k.readText("/proc/irq/default_smp_affinity"), "1\n");
  });
});

Deno.test("fake kernel: sched_setaffinity drops offline CPUs, EINVAL without one, ESRCH for a gone thread", async () => {
  await withRoot(async (root) => {
    const k = new FakeKernel(root);
    await k.setAffinity(51, [1, 2]);
    assert.match(
      await k.readText("/proc/50/task/51/status"),
      /Cpus_allowed:\t2\nCpus_allowed_list:\t1\n/,
    );
    // The main thread's status is the process's too.
    await k.setAffinity(50, [0]);
    assert.match(await k.readText("/proc/50/status"), /Cpus_allowed_list:\t0\n/);
    assert.match(await k.readText("/proc/50/task/50/status"), /Cpus_allowed_list:\t0\n/);
    await assert.rejects(k.setAffinity(51, [2]), (e) => errno(e) === "EINVAL");
    await assert.rejects(k.setAffinity(99, [0]), (e) => errno(e) === "ESRCH");
  });
});

Deno.test("fake kernel: the write hook sees every host write in order and can fail one", async () => {
  await withRoot(async (root) => {
    const seen: string[] = [];
    const k = new FakeKernel(root, {
      beforeWrite: (n, what) => {
        seen.push(`${n} ${what}`);
        if (n === 3) throw new Error("injected");
      },
    });
    await k.writeKernel("/proc/irq/38/smp_affinity_list", "0");
    await k.setAffinity(50, [0]);
    await assert.rejects(k.writeKernel("/proc/irq/38/smp_affinity_list", "1"), /injected/);
    await k.makeDir("/etc/default");
    await k.replaceFile("/etc/default/irqbalance", "X=1\n");
    // sipmi's own state files are not host changes.
    await k.makeDir("/var/lib/sipmi");
    await k.replaceFile("/var/lib/sipmi/journal.json", "{}");
    assert.deepEqual(seen, [
      "1 write /proc/irq/38/smp_affinity_list",
      "2 sched_setaffinity 50",
      "3 write /proc/irq/38/smp_affinity_list",
      "4 replace /etc/default/irqbalance",
    ]);
    assert.equal(await k.readText("/proc/irq/38/smp_affinity_list"), "0\n");
  });
});
