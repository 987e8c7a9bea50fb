import assert from "node:assert/strict";
import { compareNames, HostFs, HostFsError } from "./hostfs.ts";

async function withTree(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "sipmi_hostfs_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("symlinks resolve inside the root, never against the real /", async () => {
  await withTree(async (dir) => {
    await Deno.mkdir(`${dir}/sys/devices/pci/virtio2/net/eth0`, { recursive: true });
    await Deno.mkdir(`${dir}/sys/class/net`, { recursive: true });
    await Deno.writeTextFile(`${dir}/sys/devices/pci/numa_node`, "1\n");
    await Deno.symlink("../../devices/pci/virtio2/net/eth0", `${dir}/sys/class/net/eth0`);
    await Deno.symlink("../../../virtio2", `${dir}/sys/devices/pci/virtio2/net/eth0/device`);
    // An absolute link: on the host it would point at the real /etc.
    await Deno.mkdir(`${dir}/etc`);
    await Deno.writeTextFile(`${dir}/etc/hostname`, "fixture\n");
    await Deno.symlink("/etc/hostname", `${dir}/sys/abs`);
    // A link that climbs above the root stays at the root.
    await Deno.symlink("../../../../../../etc/hostname", `${dir}/sys/climb`);
    const fs = new HostFs(dir);
    assert.equal(await fs.resolve("/sys/class/net/eth0/device"), "/sys/devices/pci/virtio2");
    assert.equal(await fs.readText("/sys/class/net/eth0/device/../numa_node"), "1\n");
    assert.equal(await fs.readText("/sys/abs"), "fixture\n");
    assert.equal(await fs.readText("/sys/climb"), "fixture\n");
    assert.equal(await fs.readLink("/sys/class/net/eth0/device"), "../../../virtio2");
    assert.deepEqual((await fs.readDir("/sys/class/net")).map((e) => [e.name, e.isSymlink]), [[
      "eth0",
      true,
    ]]);
  });
});

Deno.test("symlink loops and missing files are HostFsErrors naming the host path", async () => {
  await withTree(async (dir) => {
    await Deno.symlink("b", `${dir}/a`);
    await Deno.symlink("a", `${dir}/b`);
    const fs = new HostFs(dir);
    await assert.rejects(
      fs.readText("/a"),
      (e) => e instanceof HostFsError && /too many levels/.test(e.message),
    );
    await assert.rejects(
      fs.readText("/proc/nothing"),
      (e) =>
        e instanceof HostFsError && e.notFound && e.path === "/proc/nothing" &&
        /^cannot read \/proc\/nothing/.test(e.message),
    );
    assert.equal(await fs.readTextIfExists("/proc/nothing"), undefined);
    assert.equal(await fs.statIfExists("/proc/nothing"), undefined);
  });
});

Deno.test("stat reports the mode, so a 0444 file is judged by its mode", async () => {
  await withTree(async (dir) => {
    await Deno.writeTextFile(`${dir}/ro`, "x");
    await Deno.chmod(`${dir}/ro`, 0o444);
    const st = await new HostFs(dir).stat("/ro");
    assert.equal(st.mode, 0o444);
  });
});

Deno.test("names sort with numbers as numbers", () => {
  assert.deepEqual(["rx-10", "rx-2", "rx-1"].sort(compareNames), ["rx-1", "rx-2", "rx-10"]);
  assert.deepEqual(["40", "9", "100", "default_smp_affinity"].sort(compareNames), [
    "9",
    "40",
    "100",
    "default_smp_affinity",
  ]);
});
