// The host picture on fixture roots: the 16-CPU capture (every mark the
// picture has, and drops rising between two views), the 1152-CPU capture
// (well-formed, readable, under the size budget), the last plan and drift
// when a daemon has tune_status, and the MI errors in place of a part.

import assert from "node:assert/strict";
import { XMLValidator } from "fast-xml-parser";
import type { MiModule } from "../mi/registry.ts";
import { runCall } from "../mi/script.ts";
import { SVG_BUDGET_1152 } from "../web/host_svg.tsx";
import { BIG_NIC, buildBigRoot } from "./tuning_big_root.ts";
import { vmRoot } from "./tuning_support.ts";
import { buildSixteenRoot, softnetWithDrops, writeFiles } from "./web_sixteen_root.ts";
import { get, have, promtool, sample, textOf, webListener } from "./web_support.ts";

function svgOf(page: string): string {
  const m = /<svg[\s\S]*<\/svg>/.exec(page);
  if (!m) throw new Error("no <svg> on the page");
  return m[0];
}

/** The CPU numbers of cells whose frame has this class (`bad`, `iso`). */
function framed(svg: string, cls: string): number[] {
  return [
    ...svg.matchAll(
      /<rect x="[0-9.]+" y="[0-9.]+" width="[0-9.]+" height="[0-9.]+" class="([^"]*)"><title>CPU ([0-9]+) /g,
    ),
  ]
    .filter((m) => m[1].split(" ").includes(cls)).map((m) => Number(m[2]));
}

/** How often `re` matches in the cells (the legend left out). */
function count(svg: string, re: RegExp): number {
  const cells = svg.slice(svg.search(/class="h" [^>]*>NUMA node /));
  return cells.match(re)?.length ?? 0;
}

async function tempRoot(build: (dir: string) => Promise<void>) {
  const path = await Deno.makeTempDir({ prefix: "sipmi_web_root_" });
  await build(path);
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

Deno.test("16 CPUs: nodes, SMT, IRQs, SIP threads, isolated, banned, the mismatch; drops rising on the next view", async () => {
  await using root = await tempRoot(buildSixteenRoot);
  await using w = await webListener({ root: root.path });
  const page = await get(`${w.base}/html/host`);
  assert.equal(page.status, 200);
  const svg = svgOf(page.text);
  assert.equal(XMLValidator.validate(svg), true);
  assert.equal(count(svg, /<title>CPU /g), 16);
  assert.match(svg, /NUMA node 0 · CPUs 0-7 · eth1 is on this node/);
  assert.match(svg, /NUMA node 1 · CPUs 8-15</);
  // IRQs 8-12 fire on 6-10, where no SIP thread may run: red frames.
  assert.deepEqual(framed(svg, "bad"), [6, 7, 8, 9, 10]);
  assert.deepEqual(framed(svg, "iso"), [14, 15]);
  assert.equal(count(svg, /<path class="b"/g), 4, "irqbalance bans 2-5");
  assert.equal(count(svg, /<circle class="q"/g), 9, "nine queue IRQs fire on 2-10");
  assert.equal(count(svg, /<rect class="s"/g), 6, "SIP threads pinned on 0-5");
  assert.match(
    svg,
    /<title>CPU 2 · node 0 · core 2-3 · banned by irqbalance · IRQ 4 fire here · SIP threads 1 \(1 pinned\) · NET_RX 4.5M since boot · drops 0 since boot<\/title>/,
  );
  // CPU 8 dropped since boot: an amber corner (no rate on a first view).
  assert.equal(count(svg, /<path class="d0"/g), 1);
  assert.match(
    textOf(page.text, "summary")!,
    /SIP NIC eth1: 9 queue IRQs, NUMA node 0, local CPUs 0-7 · SIP router \(unit opensips.service\): 6 threads · irqbalance: running, banned CPUs 2-5/,
  );
  assert.match(textOf(page.text, "mismatch")!, /fires on 5 CPU\(s\) where no SIP thread runs/);
  const findings = page.text.slice(page.text.indexOf('id="findings"'));
  assert.match(findings, /eth1 IRQs are handled on a remote NUMA node/);
  assert.match(findings, /IRQ 10 \(mlx5_comp6@pci:0002:00:00.0\) on CPUs 8, outside node 0/);
  assert.match(
    page.text,
    /<td>mlx5_comp8@pci:0002:00:00.0<\/td><td>rxtx 8<\/td><td>0-15<\/td><td>10<\/td>/,
  );
  assert.match(
    page.text,
    /<td>3000<\/td><td>opensips<\/td><td>6<\/td><td>2 \(1\), 3 \(1\), 4 \(1\), 5 \(1\), 0-1 \(2\)<\/td>/,
  );
  // The plan and drift section is there exactly when the daemon has tune_status.
  assert.equal(/Last verification/.test(page.text), w.mi.registry.get("tune_status") !== undefined);

  // CPU 9 drops packets: the next view (half a second on at least) shows it rising.
  await writeFiles(root.path, { "/proc/net/softnet_stat": softnetWithDrops({ 8: 17, 9: 40 }) });
  await new Promise((r) => setTimeout(r, 600));
  const next = await get(`${w.base}/html/host`);
  const svg2 = svgOf(next.text);
  assert.equal(count(svg2, /<path class="d"/g), 1);
  assert.match(
    svg2,
    /<title>CPU 9 [^<]*drops [0-9.]+\/s · MISMATCH: IRQ here, no SIP thread · drops rising<\/title>/,
  );
  assert.match(
    textOf(next.text, "mismatch")!,
    /Softnet drops rose on 1 CPU\(s\) since the last view/,
  );
  assert.match(svg2, /fill: NET_RX per second over the last [0-9.]+ s/);

  const alone = await get(`${w.base}/html/host.svg`);
  assert.equal(alone.headers.get("content-type"), "image/svg+xml; charset=utf-8");
  assert.ok(
    alone.text.startsWith(
      '<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"',
    ),
  );
  assert.equal(XMLValidator.validate(alone.text), true);
});

Deno.test("1152 CPUs: the SVG is well formed, every CPU drawn, under its size budget; /metrics promtool-clean", async () => {
  await using root = await tempRoot(buildBigRoot);
  await using w = await webListener({ root: root.path, sip: { nic: BIG_NIC } });
  const svg = (await get(`${w.base}/html/host.svg`)).text;
  assert.equal(XMLValidator.validate(svg), true);
  assert.ok(svg.length < SVG_BUDGET_1152, `${svg.length} bytes, budget ${SVG_BUDGET_1152}`);
  assert.equal(count(svg, /<title>CPU /g), 1152);
  assert.equal(count(svg, /class="h" [^>]*>NUMA node /g), 8);
  assert.match(svg, /NUMA node 6 · CPUs 432-503,1008-1079 · enp195s0f3 is on this node/);
  // Small cells: no text inside them, details in the tooltip.
  assert.equal(count(svg, /class="t n/g), 0);
  assert.match(
    svg,
    /<title>CPU 577 · node 0 · core 1,577 · NET_RX [0-9.]+[kM]? since boot<\/title>/,
  );
  const width = Number(/<svg [^>]*width="([0-9]+)"/.exec(svg)![1]);
  assert.ok(width <= 1000, `the picture is ${width} px wide`);
  const page = await get(`${w.base}/html/host`);
  assert.equal(page.status, 200);
  assert.match(page.text, /94 queue IRQs may run on every CPU/);

  // The same host's /metrics: thousands of labelled samples, still promtool-clean.
  const text = (await get(`${w.base}/metrics`)).text;
  assert.equal(text.match(/^sipmi_softirq_net_rx_total\{cpu="[0-9]+"\} /gm)?.length, 1152);
  assert.ok(sample(text, 'sipmi_irq_interrupts_total{irq="NMI"}') !== undefined);
  if (!have("promtool")) {
    console.log("SKIP promtool check: promtool is not installed (Debian package prometheus)");
    return;
  }
  const check = await promtool(text);
  assert.equal(check.code, 0, check.out);
});

/** A stand-in for `tune_status` where the build has no tuning transactions. */
const transactions: MiModule = {
  name: "transactions",
  commands: [{
    name: "tune_status",
    help: "the last plan and verification (test stand-in)",
    recipes: [[]],
    handler: () => ({
      applied: null,
      last_plan: {
        what: "profile inline",
        changes: [{
          step: "irqs",
          item: "nics[0] eth0",
          target: "IRQ 38 (virtio2-input.0)",
          old: "0-1",
          new: "1",
          reason: "eth0 queue 0 rx: spread over 1",
        }],
        errors: [],
      },
      last_verify: {
        profile: "inline",
        checked_at: "2026-11-28T16:00:00.000Z",
        in_sync: false,
        drift: [{
          item: "nics[0] eth0",
          target: "IRQ 38 (virtio2-input.0)",
          have: "0-1",
          want: "1",
          cause: "changed outside sipmi <b>",
        }],
      },
    }),
  }],
};

Deno.test("the last plan and drift (tune_status) are shown", async () => {
  await using root = await vmRoot();
  await using w = await webListener({ root: root.path, sip: { nic: "eth0" } });
  if (w.mi.registry.get("tune_plan") === undefined) {
    // No tuning transactions in this build: a stand-in answers tune_status.
    w.mi.registry.register(transactions);
  } else {
    // A plan and a verification of a profile the VM root does not meet.
    const ep = w.mi.core.endpoint({ transport: "test" });
    const profile = { sip_cpus: "1", nics: [{ name: "eth0", irqs: "spread" }] };
    for (const method of ["tune_plan", "tune_verify"]) {
      assert.match(await runCall(ep, { method, params: { profile } }), /"result"/);
    }
  }
  const page = await get(`${w.base}/html/host`);
  assert.match(page.text, /inline checked [0-9T:.-]+Z: [12] item\(s\) drifted/);
  assert.match(
    page.text,
    /<td>IRQ 38 \(virtio2-input.0\)<\/td><td>0-1<\/td><td>1<\/td><td>changed outside sipmi( &lt;b&gt;)?<\/td>/,
  );
  assert.match(page.text, /profile inline: [12] change\(s\)/);
  assert.match(page.text, /<td>eth0 queue 0 rx: spread over 1<\/td>/);
  assert.doesNotMatch(page.text, /<b>/);
});

Deno.test("a part whose command fails shows the MI error; the picture alone says so with a status", async () => {
  await using root = await vmRoot();
  await using w = await webListener({
    root: root.path,
    http: { commands: { allow: [], deny: ["tune_show", "tune_doctor"], read_only: false } },
  });
  const page = await get(`${w.base}/html/host`);
  assert.equal(page.status, 200);
  assert.match(page.text, /tune_show: error 403 Forbidden/);
  assert.match(page.text, /tune_doctor: error 403 Forbidden/);
  assert.doesNotMatch(page.text, /<svg/);
  const svg = await get(`${w.base}/html/host.svg`);
  assert.equal(svg.status, 403);
  assert.match(svg.text, /tune_show failed: 403 Forbidden command 'tune_show' is denied/);
  assert.equal((await get(`${w.base}/html/host`, { method: "POST" })).status, 405);

  await using open = await webListener({ root: root.path });
  const other = await get(`${open.base}/html/host?nic=nope0`);
  assert.match(textOf(other.text, "summary")!, /no network interface 'nope0'/);
  assert.equal(XMLValidator.validate(svgOf(other.text)), true);
});
