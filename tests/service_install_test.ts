// `sipmi service unit|install|uninstall` as an operator runs them: the unit
// passes systemd-analyze verify, install writes under --root what it
// says, uninstall takes exactly that away again.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { parseConfig } from "../config/load.ts";
import { defaultConfigText } from "../service/default_config.ts";
import { sipmi } from "./helpers/daemon.ts";

async function hasCommand(name: string): Promise<boolean> {
  try {
    return (await new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "null" })
      .output()).success;
  } catch {
    return false;
  }
}

/** Every path under `dir` with its type, mode and content digest: equal trees, equal lists. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      const st = await Deno.lstat(p);
      const mode = (st.mode ?? 0).toString(8);
      if (e.isDirectory) {
        out.push(`d ${mode} ${p.slice(dir.length)}`);
        await walk(p);
      } else {
        const hash = createHash("sha256").update(await Deno.readFile(p)).digest("hex");
        out.push(`f ${mode} ${p.slice(dir.length)} ${hash}`);
      }
    }
  };
  await walk(dir);
  return out.sort();
}

Deno.test("service unit: systemd-analyze verify passes with exit 0 and nothing on stderr", async (t) => {
  if (!(await hasCommand("systemd-analyze"))) {
    console.log("SKIP: systemd-analyze is not installed (Debian package 'systemd')");
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "sipmi_unit_" });
  try {
    const bin = `${dir}/sipmi`;
    await Deno.writeTextFile(bin, "#!/bin/sh\n");
    await Deno.chmod(bin, 0o755);
    const r = await sipmi("service", "unit", "--exec", bin);
    assert.equal(r.code, 0, r.err);
    const unit = r.out;
    const verify = async (text: string) => {
      await Deno.writeTextFile(`${dir}/sipmi.service`, text);
      const v = await new Deno.Command("systemd-analyze", {
        args: ["verify", "--man=no", `${dir}/sipmi.service`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { code: v.code, err: new TextDecoder().decode(v.stderr) };
    };
    const ok = await verify(unit);
    assert.equal(ok.code, 0, ok.err);
    assert.equal(ok.err, "");
    await t.step("the check catches what systemd only warns about", async () => {
      const bad = await verify(unit.replace("WatchdogSec=", "WatchdogSecc="));
      assert.match(bad.err, /Unknown key 'WatchdogSecc'/);
    });

    for (
      const line of [
        "Type=notify",
        `ExecStart=${bin} serve`,
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "WatchdogSec=30s",
        "RuntimeDirectory=sipmi",
        "StateDirectory=sipmi",
        "ConfigurationDirectory=sipmi",
        "ProtectSystem=strict",
        "ReadWritePaths=/proc/irq /etc/default",
      ]
    ) assert.ok(unit.split("\n").includes(line), `missing ${line}`);
    // Settings that would stop sipmi from tuning the host are absent.
    for (const key of ["ProtectKernelTunables", "MemoryDenyWriteExecute", "PrivateUsers"]) {
      assert.ok(!unit.split("\n").some((l) => l.startsWith(`${key}=`)), key);
    }
    assert.match(unit, /^CapabilityBoundingSet=.*CAP_SYS_NICE/m);
    const custom = await sipmi(
      "service",
      "unit",
      "--exec",
      bin,
      "--config",
      "/etc/sipmi/b 100%.jsonc",
    );
    assert.match(custom.out, /^ExecStart=\S+ serve --config "\/etc\/sipmi\/b 100%%\.jsonc"$/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("service install --root then uninstall --root leaves the tree byte-identical", async () => {
  const root = await Deno.makeTempDir({ prefix: "sipmi_root_" });
  try {
    // An existing /etc with a file of someone else's, and an empty /var.
    await Deno.mkdir(`${root}/etc/default`, { recursive: true });
    await Deno.writeTextFile(`${root}/etc/default/irqbalance`, "IRQBALANCE_ARGS=\n");
    await Deno.mkdir(`${root}/var`);
    const before = await snapshot(root);

    const dry = await sipmi(
      "service",
      "install",
      "--root",
      root,
      "--dry-run",
      "--exec",
      "/usr/local/bin/sipmi",
    );
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /would write \/etc\/systemd\/system\/sipmi\.service/);
    assert.match(dry.out, /--- sipmi\.service ---\n# sipmi\.service/);
    assert.deepEqual(await snapshot(root), before, "--dry-run wrote something");

    const r = await sipmi("service", "install", "--root", root, "--exec", "/usr/local/bin/sipmi");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /write \/etc\/systemd\/system\/sipmi\.service/);
    assert.match(r.out, /write \/etc\/sipmi\/sipmi\.jsonc \(commented defaults\)/);
    assert.match(r.out, /create directory \/var\/lib\/sipmi/);
    assert.match(r.out, /Next:\n {2}sipmi config check/);
    const unit = await Deno.readTextFile(`${root}/etc/systemd/system/sipmi.service`);
    assert.match(unit, /^ExecStart=\/usr\/local\/bin\/sipmi serve$/m);
    assert.equal((await Deno.stat(`${root}/var/lib/sipmi`)).mode! & 0o777, 0o750);
    assert.equal((await Deno.stat(`${root}/etc/sipmi/sipmi.jsonc`)).mode! & 0o777, 0o640);

    const again = await sipmi(
      "service",
      "install",
      "--root",
      root,
      "--exec",
      "/usr/local/bin/sipmi",
    );
    assert.match(again.out, /nothing to change/);

    const u = await sipmi("service", "uninstall", "--root", root);
    assert.equal(u.code, 0, u.err);
    assert.deepEqual(await snapshot(root), before);
    const none = await sipmi("service", "uninstall", "--root", root);
    assert.equal(none.code, 1);
    assert.match(none.err, /no install record/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("service install keeps an existing config; uninstall keeps what the operator changed and restores a unit it replaced", async () => {
  const root = await Deno.makeTempDir({ prefix: "sipmi_root_" });
  try {
    await Deno.mkdir(`${root}/etc/sipmi`, { recursive: true });
    await Deno.writeTextFile(`${root}/etc/sipmi/sipmi.jsonc`, '{ "log_level": 4 }\n');
    await Deno.mkdir(`${root}/etc/systemd/system`, { recursive: true });
    await Deno.writeTextFile(`${root}/etc/systemd/system/sipmi.service`, "# hand-made\n");
    const before = await snapshot(root);
    const r = await sipmi("service", "install", "--root", root, "--exec", "/opt/sipmi");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\/etc\/sipmi\/sipmi\.jsonc exists: kept as it is/);
    assert.match(r.out, /rewrite \/etc\/systemd\/system\/sipmi\.service/);
    assert.equal(await Deno.readTextFile(`${root}/etc/sipmi/sipmi.jsonc`), '{ "log_level": 4 }\n');
    // A later install with another binary keeps the hand-made original on record.
    await sipmi("service", "install", "--root", root, "--exec", "/opt/sipmi2");
    const u = await sipmi("service", "uninstall", "--root", root);
    assert.equal(u.code, 0, u.err);
    assert.match(u.out, /restore the earlier \/etc\/systemd\/system\/sipmi\.service/);
    assert.deepEqual(await snapshot(root), before);

    // Installed config edited by the operator: kept, and said so.
    const fresh = await Deno.makeTempDir({ prefix: "sipmi_root_" });
    try {
      await sipmi("service", "install", "--root", fresh, "--exec", "/opt/sipmi");
      await Deno.writeTextFile(`${fresh}/etc/sipmi/sipmi.jsonc`, "{}\n", { append: true });
      const u2 = await sipmi("service", "uninstall", "--root", fresh);
      assert.match(u2.out, /\/etc\/sipmi\/sipmi\.jsonc changed since install: kept/);
      assert.match(u2.out, /\/etc\/sipmi is not empty: kept \(sipmi\.jsonc\)/);
      assert.equal((await snapshot(fresh)).filter((l) => l.startsWith("f")).length, 1);
    } finally {
      await Deno.remove(fresh, { recursive: true });
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the installed default config is valid and puts every socket where the unit's RuntimeDirectory is", () => {
  const c = parseConfig(defaultConfigText(), "default");
  assert.equal(c.fifo.path, "/run/sipmi/sipmi_fifo");
  assert.equal(c.fifo.reply_dir, "/run/sipmi/");
  assert.deepEqual(c.datagram.listen.map((l) => l.address), [
    "udp:127.0.0.1:8898",
    "unix:/run/sipmi/sipmi.sock",
  ]);
  assert.equal(c.tuning.state_dir, "/var/lib/sipmi");
  assert.equal(c.startup_failure, "continue");
});
