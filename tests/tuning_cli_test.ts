// `sipmi tune ...` as an operator runs it: human tables (golden text in
// tests/golden/*.txt), --json equal to the MI result of the same command
// in-process, exit codes and error messages, and --via against a running
// daemon answering with the same result as the in-process run.

import assert from "node:assert/strict";
import { startDaemon } from "./helpers/daemon.ts";
import { assertGoldenText, type Json, runSipmi, tuningMi, vmRoot } from "./tuning_support.ts";

const sipmi = runSipmi;

/** A config file for the fixture root (tuning.sip.nic = eth0) next to it. */
async function configFor(root: string, extra = ""): Promise<string> {
  const path = `${root}.sipmi.jsonc`;
  await Deno.writeTextFile(
    path,
    `{ "tuning": { "root": ${JSON.stringify(root)}, "sip": { "nic": "eth0" } }${extra} }`,
  );
  return path;
}

Deno.test("tune SUB on the VM root: human output (golden text)", async (t) => {
  await using root = await vmRoot();
  const config = await configFor(root.path);
  try {
    const cases: [string, string[]][] = [
      ["vm_cli_show", ["show"]],
      ["vm_cli_irq_list", ["irq", "list"]],
      ["vm_cli_irq_list_nic", ["irq", "list", "--nic", "eth0"]],
      ["vm_cli_nic", ["nic", "eth0"]],
      ["vm_cli_cpus", ["cpus"]],
      ["vm_cli_irqbalance", ["irqbalance"]],
      ["vm_cli_stats", ["stats"]],
      ["vm_cli_doctor", ["doctor", "--interval", "0"]],
    ];
    for (const [golden, args] of cases) {
      await t.step(args.join(" "), async () => {
        const r = await sipmi(["tune", "--config", config, ...args]);
        assert.equal(r.stderr, "");
        assert.equal(r.code, 0);
        await assertGoldenText(golden, r.stdout);
      });
    }
  } finally {
    await Deno.remove(config);
  }
});

Deno.test("tune --json prints exactly the MI result of the in-process command", async () => {
  await using root = await vmRoot();
  const mi = tuningMi(root.path, { sip: { nic: "eth0" } });
  const cases: [string[], string, Record<string, unknown> | undefined][] = [
    [["irq", "list", "--match", "virtio2"], "irq_list", { match: "virtio2" }],
    [["nic"], "nic_describe", undefined],
    [["cpus"], "cpu_list", undefined],
    [["show"], "tune_show", undefined],
    [["stats", "--ports", "5060,5080"], "host_stats", { ports: [5060, 5080] }],
  ];
  const config = await configFor(root.path);
  try {
    for (const [args, method, params] of cases) {
      const r = await sipmi(["tune", "--json", "--config", config, ...args]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), await mi.result(method, params), args.join(" "));
    }
  } finally {
    await Deno.remove(config);
  }
});

Deno.test("tune --root DIR overrides tuning.root", async () => {
  await using root = await vmRoot();
  const r = await sipmi([
    "tune",
    "irq",
    "list",
    "--json",
    "--root",
    root.path,
    "--match",
    "^virtio2-input",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(j.irqs.map((i: Json) => [i.irq, i.total]), [["38", 7315]]);
});

Deno.test("tune: usage errors exit 2, error replies exit 1, both say what is wrong", async () => {
  await using root = await vmRoot();
  const cases: [string[], number, RegExp][] = [
    [["tune"], 2, /missing SUBCOMMAND/],
    [["tune", "bogus"], 2, /unknown subcommand 'bogus'/],
    [["tune", "irq"], 2, /'tune irq' needs one of: list, set, spread, default/],
    [["tune", "cpus", "--match", "x"], 2, /option --match does not apply to 'tune cpus'/],
    [["tune", "cpus", "extra"], 2, /unexpected argument 'extra' for 'tune cpus'/],
    [["tune", "affinity"], 2, /exactly one of PID, --name RE, --unit UNIT/],
    [["tune", "affinity", "12x"], 2, /PID must be a number/],
    [["tune", "stats", "--count", "2"], 2, /--count needs --interval/],
    [["tune", "stats", "--interval", "99"], 2, /--interval must be seconds between 0 and 60/],
    [["tune", "stats", "--ports", "5060,x"], 2, /--ports must be UDP ports/],
    [["tune", "--root", "/nonexistent/root", "cpus"], 2, /--root \/nonexistent\/root/],
    [["tune", "--via", "tcp:1.2.3.4:5", "cpus"], 2, /--via must be fifo:PATH/],
    [
      ["tune", "--via", "udp:127.0.0.1:9", "--root", "/", "cpus"],
      2,
      /--root applies in-process only/,
    ],
    [["tune", "--root", root.path, "nic", "eth9"], 1, /error 404: no network interface 'eth9'/],
    [["tune", "--root", root.path, "nic"], 1, /error 404: no SIP NIC/],
    [
      ["tune", "--root", root.path, "irq", "list", "--match", "("],
      1,
      /Bad regular expression in 'match'/,
    ],
    [["tune", "--root", root.path, "affinity", "999999"], 1, /no process 999999/],
  ];
  for (const [args, code, re] of cases) {
    const r = await sipmi(args);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(" "));
    assert.equal(r.stdout, "", args.join(" "));
  }
});

Deno.test("tune --via udp: and fifo: run the command on a daemon with the same result", async () => {
  await using root = await vmRoot();
  await using d = await startDaemon((c) => ({
    ...c,
    http: { enabled: false },
    tuning: { root: root.path, sip: { nic: "eth0" } },
  }));
  const config = d.config, port = d.udpPort, fifo = d.fifo;
  const local = await sipmi(["tune", "--json", "--config", config, "nic"]);
  assert.equal(local.code, 0, local.stderr);
  for (const via of [`udp:127.0.0.1:${port}`, `fifo:${fifo}`]) {
    const r = await sipmi(["tune", "--json", "--config", config, "--via", via, "nic"]);
    assert.equal(r.code, 0, `${via}: ${r.stderr}`);
    assert.deepEqual(JSON.parse(r.stdout), JSON.parse(local.stdout), via);
  }
  // Human output over the wire too.
  const human = await sipmi([
    "tune",
    "--config",
    config,
    "--via",
    `udp:127.0.0.1:${port}`,
    "irqbalance",
  ]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^running: +no$/m);
  // An error reply from the daemon is exit 1 with its message.
  const bad = await sipmi([
    "tune",
    "--config",
    config,
    "--via",
    `udp:127.0.0.1:${port}`,
    "nic",
    "eth9",
  ]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /error 404: no network interface 'eth9'/);
});

Deno.test("tune --via a FIFO nobody serves: transport failure, exit 2", async () => {
  const r = await sipmi(["tune", "--via", "fifo:/nonexistent/sipmi_fifo", "cpus"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--via fifo:\/nonexistent\/sipmi_fifo: .*does not exist/);
});
