import assert from "node:assert/strict";
import { CpuSet } from "./cpuset.ts";
import { bannedCpus, parseArgsWords, parseEnvFile, splitWords } from "./irqbalance.ts";

const topo = { isolated: CpuSet.parseList("2-3"), nohzFull: CpuSet.parseList("3-4") };

function banned(vars: Record<string, string>) {
  const problems: string[] = [];
  const b = bannedCpus(new Map(Object.entries(vars)), topo, problems, (k) => `f:${k}`);
  return { cpus: b.cpus?.toList() ?? null, source: b.source, problems };
}

Deno.test("irqbalance precedence: BANNED_CPUS wins, then a set CPULIST, then isolated+nohz_full", () => {
  assert.deepEqual(banned({}), { cpus: "2-4", source: "isolated+nohz_full", problems: [] });
  assert.deepEqual(banned({ IRQBALANCE_BANNED_CPULIST: "1,8" }), {
    cpus: "1,8",
    source: "IRQBALANCE_BANNED_CPULIST",
    problems: [],
  });
  // Set but empty: ban nothing (and no longer the isolated CPUs).
  assert.deepEqual(banned({ IRQBALANCE_BANNED_CPULIST: "" }).cpus, "");
  assert.deepEqual(banned({ IRQBALANCE_BANNED_CPULIST: "1", IRQBALANCE_BANNED_CPUS: "f0" }), {
    cpus: "4-7",
    source: "IRQBALANCE_BANNED_CPUS",
    problems: [],
  });
  // An empty hex mask does not win.
  assert.equal(banned({ IRQBALANCE_BANNED_CPULIST: "1", IRQBALANCE_BANNED_CPUS: "" }).cpus, "1");
});

Deno.test("irqbalance: garbage values are problems naming where, not crashes", () => {
  const b = banned({ IRQBALANCE_BANNED_CPULIST: "1-" });
  assert.equal(b.cpus, null);
  assert.match(b.problems[0], /^f:IRQBALANCE_BANNED_CPULIST: bad cpulist '1-'/);
  assert.match(banned({ IRQBALANCE_BANNED_CPUS: "0xff" }).problems[0], /no '0x' prefix/);
});

Deno.test("env file: quotes, export, comments, bad lines with file:line", () => {
  const f = parseEnvFile(
    '# c\nIRQBALANCE_BANNED_CPULIST="2-3"\nexport IRQBALANCE_ARGS=\'--banirq=38 -i 39\'\nnot a line\nX="open\n',
    "/etc/default/irqbalance",
  );
  assert.deepEqual(f.vars.get("IRQBALANCE_BANNED_CPULIST"), { value: "2-3", line: 2 });
  assert.equal(f.vars.get("IRQBALANCE_ARGS")!.value, "--banirq=38 -i 39");
  assert.deepEqual(f.problems, [
    "/etc/default/irqbalance:4: not KEY=VALUE, ignored: 'not a line'",
    "/etc/default/irqbalance:5: X: unterminated quote",
  ]);
});

Deno.test("irqbalance arguments: --banirq forms, --banmod, policy script", () => {
  const problems: string[] = [];
  const a = parseArgsWords(
    splitWords(
      "--foreground --banirq=38 -i 39 --banirq x --banmod=nvme -l /etc/p.sh --oneshot --banirq",
    ),
    problems,
    "cmd",
  );
  assert.deepEqual(a, {
    banirq: [38, 39],
    banmod: ["nvme"],
    policyscript: "/etc/p.sh",
    oneshot: true,
  });
  assert.deepEqual(problems, [
    "cmd: --banirq 'x' is not an IRQ number",
    "cmd: --banirq without a value",
  ]);
});
