// `sipmi tune plan|apply|verify|rollback|...` as an operator runs them, on a
// copy of the VM root: the human output (golden text, the README shows the
// same), exit statuses, --yes, the confirm window in the foreground (like
// `netplan try`) and through a daemon, and crash recovery when the daemon
// starts.

import assert from "node:assert/strict";
import { startDaemon } from "./helpers/daemon.ts";
import {
  assertGoldenText,
  deadPid,
  FIXTURES,
  type Json,
  runSipmi,
  treeState,
  tuningRig,
  vmRoot,
  write,
} from "./tuning_support.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const EXAMPLE = `${REPO}/examples/sip-host.jsonc`;
const sipmi = runSipmi;

/** The VM root with Debian's irqbalance file: what the README's example runs on. */
function host() {
  return vmRoot(async (dir) => {
    await write(dir, {
      "/etc/default/irqbalance": await Deno.readTextFile(
        `${FIXTURES}etc-irqbalance/debian-bookworm-default`,
      ),
    });
  });
}

/** Output that differs from run to run (paths, pids, snapshot ids, times) made stable. */
function stable(text: string, root: string): string {
  return text
    .replaceAll(root, "<root>")
    .replaceAll(REPO, "<repo>")
    .replace(/\(pid [0-9]+\) is not in this root/g, "(pid N) is not in this root")
    .replace(/[0-9]{8}T[0-9]{9}Z-[0-9a-f]{6}/g, "<snapshot>")
    .replace(/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z/g, "<time>");
}

Deno.test("tune plan, apply, apply again, verify, rollback on the VM root: human output (golden text)", async (t) => {
  await using root = await host();
  const before = await treeState(root.path);
  const steps: [string, string[], number][] = [
    ["vm_cli_plan", ["plan"], 0],
    ["vm_cli_apply", ["apply", "--yes"], 0],
    ["vm_cli_apply_again", ["apply", "--yes"], 0],
    ["vm_cli_verify", ["verify"], 0],
    ["vm_cli_snapshots", ["snapshots"], 0],
    ["vm_cli_rollback", ["rollback", "--yes"], 0],
  ];
  for (const [golden, args, code] of steps) {
    await t.step(args.join(" "), async () => {
      const profile = args[0] === "snapshots" ? [] : ["--profile", EXAMPLE];
      const r = await sipmi(["tune", ...args, ...profile, "--root", root.path]);
      assert.equal(r.stderr, "", args.join(" "));
      assert.equal(r.code, code);
      await assertGoldenText(golden, stable(r.stdout, root.path));
    });
  }
  assert.deepEqual(
    await treeState(root.path),
    before,
    "apply then rollback leaves the tree as it was",
  );
});

Deno.test("tune verify exits 0 in sync, 1 on drift, 2 on an error; apply needs --yes without a terminal", async () => {
  await using root = await host();
  const profile = `${root.path}.p.jsonc`;
  await Deno.writeTextFile(
    profile,
    `{ "sip_cpus": "1", "nics": [{ "name": "eth0", "irqs": "spread" }] }`,
  );
  try {
    const noYes = await sipmi(["tune", "apply", "--profile", profile, "--root", root.path]);
    assert.equal(noYes.code, 2);
    assert.match(
      noYes.stderr,
      /'tune apply' changes the host: add --yes \(or --dry-run to see what it would do\)/,
    );
    const dry = await sipmi([
      "tune",
      "apply",
      "--dry-run",
      "--profile",
      profile,
      "--root",
      root.path,
    ]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^Plan for profile .*: 2 changes/);
    assert.equal(
      (await sipmi(["tune", "apply", "--yes", "--profile", profile, "--root", root.path])).code,
      0,
    );
    assert.equal(
      (await sipmi(["tune", "verify", "--profile", profile, "--root", root.path])).code,
      0,
    );
    await write(root.path, { "/proc/irq/39/smp_affinity_list": "0\n" });
    const drift = await sipmi(["tune", "verify", "--profile", profile, "--root", root.path]);
    assert.equal(drift.code, 1);
    assert.match(drift.stdout, /^DRIFT from .*: 1 item differs, 1 as wanted/);
    assert.equal(drift.stderr, "", "an explicit verify answers; it does not log");
    assert.match(
      drift.stdout,
      /nics\[0\] eth0 +IRQ 39 \(virtio2-output.0\) +0 +1 +changed outside sipmi/,
    );
    const json = await sipmi([
      "tune",
      "verify",
      "--json",
      "--profile",
      profile,
      "--root",
      root.path,
    ]);
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.stdout).drift[0].have, "0");
    await Deno.writeTextFile(profile, `{ "sip_cpus": "7" }`);
    const err = await sipmi(["tune", "verify", "--profile", profile, "--root", root.path]);
    assert.equal(err.code, 2);
    assert.match(err.stdout, /sip_cpus: CPU 7 is not online here/);
    await Deno.writeTextFile(profile, `{ "sip_cpus": 7 }`);
    const bad = await sipmi(["tune", "verify", "--profile", profile, "--root", root.path]);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /error 500: Bad profile \(.*p.jsonc:1:15: 'sip_cpus' must be a string/,
    );
    // A relative --profile is the caller's, whatever the daemon's cwd would be.
    const rel = await sipmi(["tune", "plan", "--profile", "p.jsonc", "--root", root.path]);
    assert.equal(rel.code, 1);
    assert.match(rel.stderr, /\/p.jsonc: cannot read the profile/);
  } finally {
    await Deno.remove(profile);
  }
});

Deno.test("single changes from the CLI: --dry-run shows the plan, the change reports each row", async () => {
  await using root = await host();
  const plan = await sipmi([
    "tune",
    "irq",
    "set",
    "38",
    "39",
    "--cpus",
    "1",
    "--dry-run",
    "--root",
    root.path,
  ]);
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, /^Plan for irq_set_affinity: 2 changes/);
  assert.equal(await Deno.readTextFile(`${root.path}/proc/irq/38/smp_affinity_list`), "0-1\n");
  const set = await sipmi([
    "tune",
    "irq",
    "set",
    "--match",
    "^virtio2-(in|out)",
    "--cpus",
    "1",
    "--root",
    root.path,
  ]);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /APPLIED +IRQ 38 \(virtio2-input.0\) +0-1 +-> +1/);
  const byNic = await sipmi([
    "tune",
    "--json",
    "irq",
    "set",
    "--nic",
    "eth0",
    "--cpus",
    "0",
    "--dry-run",
    "--root",
    root.path,
  ]);
  assert.equal(byNic.code, 0, byNic.stderr);
  // The NIC's queue IRQs, not its config vector (37).
  assert.deepEqual(JSON.parse(byNic.stdout).changes.map((c: Json) => c.target), [
    "IRQ 38 (virtio2-input.0)",
    "IRQ 39 (virtio2-output.0)",
  ]);
  const managed = await sipmi(["tune", "irq", "set", "36", "--cpus", "0", "--root", root.path]);
  assert.equal(managed.code, 0, managed.stderr);
  assert.match(
    managed.stdout,
    /0 changes[\s\S]*unchangeable, skipped:\n {2}IRQ 36 \(virtio1-req.0\): 0 \(.*mode 0444/,
  );
  const ib = await sipmi(["tune", "irqbalance", "ban", "--cpus", "1", "--root", root.path]);
  assert.equal(ib.code, 0, ib.stderr);
  assert.match(ib.stdout, /irqbalance does not run: it reads this at its next start/);
  const ban = await sipmi(["tune", "irqbalance", "ban-irq", "38", "39", "--root", root.path]);
  assert.equal(ban.code, 0, ban.stderr);
  assert.match(
    await Deno.readTextFile(`${root.path}/etc/default/irqbalance`),
    /IRQBALANCE_ARGS="--banirq=38 --banirq=39"/,
  );
  const rps = await sipmi(["tune", "rps", "--nic", "eth0", "--cpus", "off", "--root", root.path]);
  assert.equal(rps.code, 0, rps.stderr);
  assert.match(rps.stdout, /0 changes/);
  const bad: [string[], RegExp][] = [
    [
      ["tune", "irq", "set", "--cpus", "1"],
      /give IRQ numbers, --nic IF or --match RE \(one of them\)/,
    ],
    [["tune", "irq", "set", "38"], /--cpus LIST is required/],
    [["tune", "irq", "spread", "--cpus", "1"], /--nic IF is required/],
    [
      ["tune", "apply", "--confirm-timeout", "0", "--yes"],
      /--confirm-timeout must be whole seconds from 1 to 3600/,
    ],
    [
      ["tune", "--via", "udp:127.0.0.1:9", "--state-dir", "/x", "status"],
      /--state-dir applies in-process only/,
    ],
  ];
  for (const [args, re] of bad) {
    const r = await sipmi(args.includes("--via") ? args : [...args, "--root", root.path]);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, re);
  }
  const gone = await sipmi(["tune", "irq", "set", "99", "--cpus", "1", "--root", root.path]);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /error 404: no IRQ 99 in \/proc\/interrupts/);
  const offline = await sipmi(["tune", "irq", "set", "38", "--cpus", "3", "--root", root.path]);
  assert.equal(offline.code, 1);
  assert.match(
    offline.stderr,
    /Impossible request \(irq_set_affinity: IRQ 38 \(virtio2-input.0\): CPU 3 is not online here/,
  );
});

Deno.test("apply --confirm-timeout in the foreground: rolled back at the deadline, or kept by tune confirm from another shell", async () => {
  await using root = await host();
  const before = await treeState(root.path);
  const args = ["tune", "apply", "--yes", "--profile", EXAMPLE, "--root", root.path];
  const lapsed = await sipmi([...args, "--confirm-timeout", "1"]);
  assert.equal(lapsed.code, 1, lapsed.stderr);
  assert.match(
    lapsed.stdout,
    /Keep these changes\? Run 'sipmi tune confirm' before .*, or they are rolled back\./,
  );
  assert.match(lapsed.stdout, /no confirmation by .*: rolled back snapshot/);
  assert.deepEqual(await treeState(root.path), before);

  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../main.ts", import.meta.url).pathname,
      ...args,
      "--confirm-timeout",
      "30",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    const end = Date.now() + 20000;
    while (!out.includes("Keep these changes?")) {
      const { value, done } = await reader.read();
      if (done || Date.now() > end) throw new Error(`no confirm prompt:\n${out}`);
      out += value;
    }
    const ok = await sipmi(["tune", "confirm", "--root", root.path]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^confirmed: profile .* stays applied/);
    while (!out.includes("stays applied")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    reader.releaseLock();
    assert.match(out, /confirmed: snapshot .* stays applied/);
    assert.equal((await child.status).code, 0);
    assert.equal(await Deno.readTextFile(`${root.path}/proc/irq/38/smp_affinity_list`), "1\n");
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await child.stderr.cancel().catch(() => {});
  }
});

/** A daemon on a fixture root (tests/helpers/daemon.ts), without HTTP. */
async function daemon(root: string) {
  const d = await startDaemon((c) => ({
    ...c,
    http: { enabled: false },
    tuning: { root, sip: { nic: "eth0" } },
  }));
  return Object.assign(d, { via: `udp:127.0.0.1:${d.udpPort}`, log: d.lines.join("\n") });
}

Deno.test("through the daemon: apply --confirm-timeout is rolled back by the daemon; an interrupted apply is rolled back when it starts", async () => {
  await using root = await host();
  {
    const before = await treeState(root.path);
    {
      await using d = await daemon(root.path);
      const r = await sipmi([
        "tune",
        "--config",
        d.config,
        "--via",
        d.via,
        "apply",
        "--yes",
        "--profile",
        EXAMPLE,
        "--confirm-timeout",
        "1",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        /The daemon rolls it back at .* unless 'sipmi tune confirm' arrives\./,
      );
      assert.notDeepEqual(await treeState(root.path), before);
      const end = Date.now() + 5000;
      while (JSON.stringify(await treeState(root.path)) !== JSON.stringify(before)) {
        if (Date.now() > end) throw new Error("the daemon did not roll back");
        await new Promise((r) => setTimeout(r, 100));
      }
      const st = await sipmi(["tune", "--config", d.config, "--via", d.via, "--json", "status"]);
      assert.equal((JSON.parse(st.stdout) as Json).journal.state, "rolled_back");
    }
    // A process dies half way through an apply; the daemon that starts next rolls it back.
    const reached = Promise.withResolvers<void>();
    const crashed = tuningRig(root.path, {
      pid: await deadPid(),
      fake: {
        beforeWrite: async (i) => {
          if (i < 3) return;
          reached.resolve();
          await new Promise(() => {});
        },
      },
    });
    crashed.call("tune_apply", { profile: EXAMPLE });
    await reached.promise;
    assert.notDeepEqual(await treeState(root.path), before);
    await using d2 = await daemon(root.path);
    assert.match(d2.log, /tuning: profile .* was interrupted \(pid [0-9]+ is gone\): rolling back/);
    assert.deepEqual(await treeState(root.path), before);
  }
});
