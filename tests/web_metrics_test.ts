// /metrics: every MI statistic in text format 0.0.4, checked by Prometheus'
// own `promtool check metrics` (Debian `prometheus`), per-CPU host counters
// as labels, counters that move, the policy; and a real Prometheus scraping
// sipmi, bounded in time. (The 1152-CPU capture's metrics are checked in
// tests/web_host_test.ts, which builds that root anyway.)

import assert from "node:assert/strict";
import { freeTcpPort } from "./helpers/daemon.ts";
import { vmRoot } from "./tuning_support.ts";
import { get, have, promtool, sample, webListener } from "./web_support.ts";

Deno.test("every statistic, per-CPU counters as labels, promtool-clean; counters move", async () => {
  await using root = await vmRoot();
  await using w = await webListener({ root: root.path, sip: { nic: "eth0" } });
  const m = await get(`${w.base}/metrics`);
  assert.equal(m.status, 200);
  assert.equal(m.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const text = m.text;
  // Host counters of the VM capture, as labelled families.
  assert.equal(sample(text, 'sipmi_softirq_net_rx_total{cpu="1"}'), 10636550);
  assert.equal(sample(text, 'sipmi_softnet_dropped_total{cpu="0"}'), 0);
  assert.equal(sample(text, 'sipmi_softnet_time_squeeze_total{cpu="1"}'), 2);
  assert.equal(sample(text, 'sipmi_irq_interrupts_total{irq="38"}'), 7315);
  assert.equal(sample(text, 'sipmi_irq_interrupts_total{irq="LOC"}') !== undefined, true);
  assert.equal(sample(text, 'sipmi_nic_rx_packets_total{nic="eth0"}'), 13586);
  assert.equal(sample(text, 'sipmi_udp_port_drops_total{port="5060"}'), 0);
  assert.equal(sample(text, "sipmi_udp_in_datagrams_total"), 3896920);
  assert.match(text, /^# TYPE sipmi_softnet_dropped_total counter$/m);
  assert.match(
    text,
    /^# HELP sipmi_softnet_dropped_total MI statistics softnet:cpu\*_dropped, one per cpu; their sum is softnet:dropped$/m,
  );
  // No metric name per CPU, and the sum is not beside its members.
  assert.doesNotMatch(text, /sipmi_softnet_cpu[0-9]/);
  assert.equal(sample(text, "sipmi_softnet_dropped_total"), undefined);
  // The daemon's own statistics.
  assert.match(text, /^# TYPE sipmi_core_rss_bytes gauge$/m);
  assert.match(text, /^# TYPE sipmi_mi_requests_total counter$/m);
  // Every MI statistic is there: names of get_statistics all, one way or the other.
  const all = (await w.mi.stats.all()).length;
  const samples = text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).length;
  const sums = text.match(/their sum is/g)?.length ?? 0;
  assert.equal(samples + sums, all);

  if (!have("promtool")) {
    console.log("SKIP promtool check: promtool is not installed (Debian package prometheus)");
  } else {
    const check = await promtool(text);
    assert.equal(check.code, 0, check.out);
    assert.equal(check.out.trim(), "");
  }

  // Counters move after requests.
  const before = sample(text, "sipmi_mi_http_requests_total")!;
  const calls = sample(text, "sipmi_mi_cmd_uptime_total")!;
  for (let i = 0; i < 3; i++) await get(`${w.base}/html/core/uptime?arg=`);
  const after = (await get(`${w.base}/metrics`)).text;
  // Three uptime runs and the scrape itself (get_statistics_detail).
  assert.equal(sample(after, "sipmi_mi_http_requests_total"), before + 4);
  assert.equal(sample(after, "sipmi_mi_cmd_uptime_total"), calls + 3);
  assert.equal((await get(`${w.base}/metrics`, { method: "POST" })).status, 405);
});

Deno.test("the listener's policy: denying get_statistics* denies the scrape", async () => {
  await using w = await webListener({
    http: { commands: { allow: [], deny: ["get_statistics*"], read_only: false } },
  });
  const m = await get(`${w.base}/metrics`);
  assert.equal(m.status, 403);
  assert.match(m.text, /403 Forbidden \(command 'get_statistics_detail' is denied on http:/);
});

Deno.test("a real Prometheus scrapes sipmi (bounded)", async (t) => {
  if (!have("prometheus")) {
    console.log(
      "SKIP real Prometheus scrape: prometheus is not installed (Debian package prometheus)",
    );
    return;
  }
  await using root = await vmRoot();
  await using w = await webListener({ root: root.path, sip: { nic: "eth0" } });
  const dir = await Deno.makeTempDir({ prefix: "sipmi_prom_" });
  const port = freeTcpPort();
  await Deno.writeTextFile(
    `${dir}/prometheus.yml`,
    [
      "global: { scrape_interval: 1s, evaluation_interval: 1s }",
      "scrape_configs:",
      "  - job_name: sipmi",
      `    static_configs: [{ targets: ["${w.base.replace("http://", "")}"] }]`,
      "",
    ].join("\n"),
  );
  const prom = new Deno.Command("prometheus", {
    args: [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const errors = new Response(prom.stderr).text();
  try {
    const query = async (q: string) => {
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
      return r.ok
        ? (await r.json()).data.result as {
          metric: Record<string, string>;
          value: [number, string];
        }[]
        : [];
    };
    let up: number | undefined, rx: string | undefined;
    const deadline = Date.now() + 45000;
    while (Date.now() < deadline) {
      try {
        up = Number((await query('up{job="sipmi"}'))[0]?.value[1]);
        rx = (await query('sipmi_softirq_net_rx_total{cpu="1"}'))[0]?.value[1];
        if (up === 1 && rx !== undefined) break;
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    await t.step("the target is up and a per-CPU counter is stored", () => {
      assert.equal(up, 1);
      assert.equal(rx, "10636550");
    });
    const scrapes = await query("sipmi_mi_cmd_get_statistics_detail_total");
    assert.ok(Number(scrapes[0]?.value[1]) >= 1);
  } finally {
    prom.kill("SIGTERM");
    const timer = setTimeout(() => prom.kill("SIGKILL"), 10000);
    await prom.status;
    clearTimeout(timer);
    const log = await errors;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    if (/level=error/.test(log)) console.log(log);
  }
});
