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

Deno.test("replaceFile: atomic, keeps mode and owner, leaves no temporary file", async () => {
  await withTree(async (dir) => {
    await Deno.mkdir(`${dir}/etc/default`, { recursive: true });
    const path = `${dir}/etc/default/irqbalance`;
    await Deno.writeTextFile(path, "OLD=1\n");
    await Deno.chmod(path, 0o600);
    const root = Deno.uid() === 0;
    // As root, a file owned by someone else stays theirs.
    if (root) await Deno.chown(path, 65534, 65534);
    const fs = new HostFs(dir);
    await fs.replaceFile("/etc/default/irqbalance", "NEW=2\n");
    assert.equal(await Deno.readTextFile(path), "NEW=2\n");
    const st = await Deno.stat(path);
    assert.equal(st.mode! & 0o777, 0o600);
    if (root) assert.deepEqual([st.uid, st.gid], [65534, 65534]);
    else console.log("sys/hostfs_test.ts: owner kept not checked: not root");
    assert.deepEqual([...Deno.readDirSync(`${dir}/etc/default`)].map((e) => e.name), [
      "irqbalance",
    ]);
    // A new file gets the mode asked for; bytes go through unchanged.
    const bytes = new Uint8Array([0, 255, 10, 200]);
    await fs.replaceFile("/etc/default/new", bytes, { mode: 0o640 });
    assert.deepEqual(await fs.readBytes("/etc/default/new"), bytes);
    assert.equal((await Deno.stat(`${dir}/etc/default/new`)).mode! & 0o777, 0o640);
    await fs.removeFile("/etc/default/new");
    await fs.removeFile("/etc/default/new"); // absent is fine
    assert.equal(await fs.exists("/etc/default/new"), false);
    // A directory that does not exist: a HostFsError naming the host path, nothing left behind.
    await assert.rejects(
      fs.replaceFile("/etc/nowhere/x", "y"),
      (e) => e instanceof HostFsError && e.path === "/etc/nowhere/x" && e.errno === "ENOENT",
    );
  });
});

Deno.test("writeKernel writes in place and names the errno; createExclusive is O_EXCL", async () => {
  await withTree(async (dir) => {
    await Deno.writeTextFile(`${dir}/f`, "abc\n");
    const fs = new HostFs(dir);
    await fs.writeKernel("/f", "1\n");
    assert.equal(await fs.readText("/f"), "1\n");
    await assert.rejects(
      fs.writeKernel("/missing", "1"),
      (e) => e instanceof HostFsError && e.errno === "ENOENT" && e.notFound,
    );
    await fs.makeDir("/var/lib/sipmi");
    assert.equal(await fs.createExclusive("/var/lib/sipmi/lock", "me"), true);
    assert.equal(await fs.createExclusive("/var/lib/sipmi/lock", "you"), false);
    assert.equal(await fs.readText("/var/lib/sipmi/lock"), "me");
  });
});

Deno.test("askUnixSocket: one request, the reply until the peer closes; errors name the path", async () => {
  await withTree(async (dir) => {
    await Deno.mkdir(`${dir}/run/irqbalance`, { recursive: true });
    const path = `${dir}/run/irqbalance/irqbalance7.sock`;
    const server = Deno.listen({ transport: "unix", path });
    const got: string[] = [];
    const serve = (async () => {
      for await (const conn of server) {
        const buf = new Uint8Array(1024);
        const n = await conn.read(buf);
        got.push(new TextDecoder().decode(buf.subarray(0, n ?? 0)));
        await conn.write(new TextEncoder().encode("SLEEP 10 BANNED 00000002"));
        conn.close();
      }
    })();
    try {
      const fs = new HostFs(dir);
      assert.equal(
        await fs.askUnixSocket("/run/irqbalance/irqbalance7.sock", "setup", 2000),
        "SLEEP 10 BANNED 00000002",
      );
      assert.deepEqual(got, ["setup"]);
      await assert.rejects(
        fs.askUnixSocket("/run/irqbalance/irqbalance8.sock", "setup", 2000),
        (e) => e instanceof HostFsError && e.path === "/run/irqbalance/irqbalance8.sock",
      );
      // A peer that never answers: rejected at the timeout, not waited for.
      const mute = Deno.listen({ transport: "unix", path: `${dir}/run/mute.sock` });
      const held: Deno.Conn[] = [];
      const accepting = (async () => {
        for await (const c of mute) held.push(c);
      })();
      try {
        const t0 = Date.now();
        await assert.rejects(
          fs.askUnixSocket("/run/mute.sock", "setup", 200),
          (e) => e instanceof HostFsError && /no reply within 200 ms/.test(e.message),
        );
        assert.ok(Date.now() - t0 < 5000);
      } finally {
        mute.close();
        for (const c of held) c.close();
        await accepting.catch(() => {});
      }
    } finally {
      server.close();
      await serve.catch(() => {});
    }
  });
});
