import assert from "node:assert/strict";
import { metricName, renderMetrics, snakeCase } from "./metrics_text.ts";

Deno.test("names: snake_case, _total for counters", () => {
  assert.equal(snakeCase("InCsumErrors"), "in_csum_errors");
  assert.equal(snakeCase("NET_RX"), "net_rx");
  assert.equal(snakeCase("cmd_get_statistics"), "cmd_get_statistics");
  assert.equal(snakeCase("HTTPServer.x-y"), "http_server_x_y");
  assert.equal(snakeCase("I/O"), "i_o");
  assert.equal(metricName("mi", "requests", "counter"), "sipmi_mi_requests_total");
  assert.equal(metricName("core", "rss_bytes", "gauge"), "sipmi_core_rss_bytes");
  assert.equal(metricName("x", "done_total", "counter"), "sipmi_x_done_total");
});

Deno.test("per-CPU members are one metric with labels; the family's sum is left out", () => {
  const text = renderMetrics({
    "mi:requests": { value: 12, kind: "counter" },
    "core:rss_bytes": { value: 5e7, kind: "gauge" },
    "softnet:dropped": { value: 3, kind: "counter" },
    "softnet:cpu0_dropped": { value: 1, kind: "counter", family: "dropped", labels: { cpu: "0" } },
    "softnet:cpu1_dropped": { value: 2, kind: "counter", family: "dropped", labels: { cpu: "1" } },
    "irq:NMI": { value: 0, kind: "counter", family: "interrupts", labels: { irq: 'N"M\\I\n' } },
    "udp:InErrors": { value: 7, kind: "counter" },
  });
  assert.equal(
    text,
    [
      "# HELP sipmi_mi_requests_total MI statistic mi:requests",
      "# TYPE sipmi_mi_requests_total counter",
      "sipmi_mi_requests_total 12",
      "# HELP sipmi_core_rss_bytes MI statistic core:rss_bytes",
      "# TYPE sipmi_core_rss_bytes gauge",
      "sipmi_core_rss_bytes 50000000",
      "# HELP sipmi_softnet_dropped_total MI statistics softnet:cpu*_dropped, one per cpu; their sum is softnet:dropped",
      "# TYPE sipmi_softnet_dropped_total counter",
      'sipmi_softnet_dropped_total{cpu="0"} 1',
      'sipmi_softnet_dropped_total{cpu="1"} 2',
      "# HELP sipmi_irq_interrupts_total MI statistics irq:NMI, one per irq",
      "# TYPE sipmi_irq_interrupts_total counter",
      'sipmi_irq_interrupts_total{irq="N\\"M\\\\I\\n"} 0',
      "# HELP sipmi_udp_in_errors_total MI statistic udp:InErrors",
      "# TYPE sipmi_udp_in_errors_total counter",
      "sipmi_udp_in_errors_total 7",
      "",
    ].join("\n"),
  );
});

Deno.test("names that collide keep the first; a duplicate label set is written once", () => {
  const text = renderMetrics({
    "g:InErrors": { value: 1, kind: "counter" },
    "g:in_errors": { value: 2, kind: "counter" },
    "g:cpu0_x": { value: 3, kind: "gauge", family: "x", labels: { cpu: "0" } },
    "g:cpu0_x_again": { value: 4, kind: "gauge", family: "x", labels: { cpu: "0" } },
    "g:nan": { value: NaN, kind: "gauge" },
  });
  assert.match(text, /^sipmi_g_in_errors_total 1$/m);
  assert.doesNotMatch(text, /sipmi_g_in_errors_total 2/);
  assert.match(text, /^sipmi_g_x\{cpu="0"\} 3$/m);
  assert.doesNotMatch(text, / 4$/m);
  assert.match(text, /^sipmi_g_nan NaN$/m);
});

Deno.test("a statistic in milliseconds is written in seconds, Prometheus' base unit", () => {
  assert.equal(
    renderMetrics({ "irq:sample_age_ms": { value: 250, kind: "gauge" } }),
    [
      "# HELP sipmi_irq_sample_age_seconds MI statistic irq:sample_age_ms",
      "# TYPE sipmi_irq_sample_age_seconds gauge",
      "sipmi_irq_sample_age_seconds 0.25",
      "",
    ].join("\n"),
  );
});
