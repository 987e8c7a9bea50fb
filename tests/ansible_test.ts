// The fleet roll-out example (examples/ansible) run by a real Ansible on
// this machine: syntax check, then the playbook with a local connection
// against a scratch root (no systemd needed), twice (the second run changes
// nothing), then with a bad config and with a failing check (both stop the
// play; the bad config never replaces the good one).

import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;
const PLAYBOOK = `${ROOT}examples/ansible/site.yml`;
const MAIN = `${ROOT}main.ts`;

async function ansibleAvailable(): Promise<boolean> {
  try {
    return (await new Deno.Command("ansible-playbook", { args: ["--version"], stdout: "null" })
      .output()).success;
  } catch {
    return false;
  }
}

Deno.test("ansible: the sipmi role rolls out to a scratch root, idempotently, and stops on a bad config or a failed check", async () => {
  if (!(await ansibleAvailable())) {
    console.log("SKIP: ansible-playbook is not installed (Debian package 'ansible-core')");
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "sipmi_ansible_" });
  try {
    const root = `${dir}/root`;
    await Deno.mkdir(root);
    await Deno.mkdir(`${dir}/tmp`);
    // The "release binary": this checkout, started the way the binary would be.
    const bin = `${dir}/sipmi`;
    await Deno.writeTextFile(
      bin,
      `#!/bin/sh\nexec '${Deno.execPath()}' run -A '${MAIN}' "$@"\n`,
    );
    await Deno.chmod(bin, 0o755);
    const installed = `${root}/usr/local/bin/sipmi`;
    const vars = {
      sipmi_hosts: "localhost",
      sipmi_become: false,
      sipmi_root: root,
      sipmi_binary_src: bin,
      sipmi_manage_service: false,
      // The role's default check is `tune verify` of the profile, which needs
      // the host the profile was written for (its CPUs 2-3 and eth0); the
      // scratch root has none, so the check step runs `config check` through
      // the installed binary, and a failing check is played by /bin/false.
      sipmi_verify_command: `${installed} config check --config ${root}/etc/sipmi/sipmi.jsonc`,
      ansible_python_interpreter: "auto_silent",
    };
    const play = async (extra: Record<string, unknown> = {}, args: string[] = []) => {
      await Deno.writeTextFile(`${dir}/vars.json`, JSON.stringify({ ...vars, ...extra }));
      const r = await new Deno.Command("ansible-playbook", {
        args: ["-i", "localhost,", "-c", "local", "-e", `@${dir}/vars.json`, ...args, PLAYBOOK],
        env: {
          ANSIBLE_NOCOLOR: "1",
          ANSIBLE_HOME: `${dir}/home`,
          ANSIBLE_LOCAL_TEMP: `${dir}/tmp`,
          ANSIBLE_REMOTE_TEMP: `${dir}/tmp`,
          ANSIBLE_RETRY_FILES_ENABLED: "0",
          NO_COLOR: "1",
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
    };
    const recap = (out: string) => {
      const m = /localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/.exec(
        out,
      );
      assert.ok(m, out);
      return { ok: Number(m[1]), changed: Number(m[2]), failed: Number(m[4]) };
    };

    const syntax = await play({}, ["--syntax-check"]);
    assert.equal(syntax.code, 0, syntax.out);

    const first = await play();
    assert.equal(first.code, 0, first.out);
    assert.ok(recap(first.out).changed >= 5, first.out);
    assert.equal((await Deno.stat(installed)).mode! & 0o777, 0o755);
    assert.equal(
      await Deno.readTextFile(`${root}/etc/sipmi/sipmi.jsonc`),
      await Deno.readTextFile(`${ROOT}examples/ansible/files/sipmi.jsonc`),
    );
    assert.ok(await Deno.stat(`${root}/etc/sipmi/profile.jsonc`));
    const unit = await Deno.readTextFile(`${root}/etc/systemd/system/sipmi.service`);
    assert.match(unit, /^ExecStart=\/usr\/local\/bin\/sipmi serve$/m);
    assert.ok(await Deno.stat(`${root}/var/lib/sipmi/install.json`));
    assert.match(
      first.out,
      /TASK \[sipmi : Check the host against the profile\] \**\nok: \[localhost\]/,
    );

    const second = await play();
    assert.equal(second.code, 0, second.out);
    assert.equal(recap(second.out).changed, 0, second.out);

    // A config with a typo: sipmi's check refuses it, the installed one stays.
    await Deno.writeTextFile(`${dir}/bad.jsonc`, '{ "fifo": { "pth": "/x" } }\n');
    const bad = await play({ sipmi_config_src: `${dir}/bad.jsonc` });
    assert.notEqual(bad.code, 0);
    assert.match(bad.out, /'fifo\.pth' unknown key/);
    assert.equal(
      await Deno.readTextFile(`${root}/etc/sipmi/sipmi.jsonc`),
      await Deno.readTextFile(`${ROOT}examples/ansible/files/sipmi.jsonc`),
    );

    // A host out of line with the profile fails the play.
    const drift = await play({ sipmi_verify_command: "/bin/false" });
    assert.notEqual(drift.code, 0);
    assert.equal(recap(drift.out).failed, 1, drift.out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
