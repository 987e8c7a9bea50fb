// MI statistics in the Prometheus text exposition format 0.0.4, written by
// hand (prom-client breaks `deno compile`; docs/web.md "Metrics"):
//
// - `group:name` becomes `sipmi_<group>_<name>`, snake_case (`udp:InErrors`
//   is `sipmi_udp_in_errors`), with `_total` for counters, as Prometheus'
//   own lint (`promtool check metrics`) wants;
// - a member of a labelled family (get_statistics_detail) becomes a sample
//   of one metric with labels: `softnet:cpu3_dropped` is
//   `sipmi_softnet_dropped_total{cpu="3"}`. A plain statistic of the same
//   metric name is the family's sum (`softnet:dropped`); it is left out,
//   since sum() gives it and a sample without labels beside the labelled
//   ones would be counted twice by sum();
// - a statistic in milliseconds (`irq:sample_age_ms`) is written in the
//   base unit Prometheus wants, seconds (`sipmi_irq_sample_age_seconds`);
// - every metric has HELP (which MI statistics it is) and TYPE lines.

import type { StatDetail } from "../mi/core_cmds.ts";

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

interface Family {
  kind: "counter" | "gauge";
  help: string;
  samples: string[];
  /** Label sets written so far (a duplicate would make the exposition invalid). */
  seen: Set<string>;
}

/** `InCsumErrors` → `in_csum_errors`, `NET_RX` → `net_rx`; only [a-z0-9_] remain. */
export function snakeCase(s: string): string {
  const out = s
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, "_")
    .replace(/_+/g, "_")
    .replace(/^_|_$/g, "");
  return out === "" ? "_" : out;
}

/** The metric name of a statistic (or of its family). */
export function metricName(group: string, name: string, kind: "counter" | "gauge"): string {
  const base = `sipmi_${snakeCase(group)}_${snakeCase(name)}`;
  return kind === "counter" && !base.endsWith("_total") ? `${base}_total` : base;
}

function escapeHelp(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function escapeLabel(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function sampleValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** The MI name of a family's members with the label values starred: `cpu*_dropped`. */
function memberPattern(name: string, labels: Record<string, string>): string {
  let p = name;
  for (const v of Object.values(labels)) p = p.replace(v, "*");
  return p;
}

/** Renders `get_statistics_detail` output as exposition text, in the order of the statistics. */
export function renderMetrics(stats: Record<string, StatDetail>): string {
  const entries = Object.entries(stats).map(([key, detail]) => {
    const colon = key.indexOf(":");
    const group = key.slice(0, colon), name = key.slice(colon + 1);
    const labelled = detail.family !== undefined && detail.labels !== undefined;
    const ms = !labelled && name.endsWith("_ms");
    const d = ms ? { ...detail, value: detail.value / 1000 } : detail;
    const base = labelled ? d.family! : ms ? `${name.slice(0, -3)}_seconds` : name;
    return { group, name, d, labelled, metric: metricName(group, base, d.kind) };
  });
  const familyNames = new Set(entries.filter((e) => e.labelled).map((e) => e.metric));
  const sums = new Map<string, string>();
  const out = new Map<string, Family>();
  for (const { group, name, d, labelled, metric } of entries) {
    if (!labelled) {
      // A family's sum: named in the family's HELP instead.
      if (familyNames.has(metric)) sums.set(metric, `${group}:${name}`);
      else if (!out.has(metric)) {
        out.set(metric, {
          kind: d.kind,
          help: `MI statistic ${group}:${name}`,
          samples: [`${metric} ${sampleValue(d.value)}`],
          seen: new Set(),
        });
      }
      continue;
    }
    const labels = d.labels!;
    let f = out.get(metric);
    if (f === undefined) {
      const per = Object.keys(labels).join(" and ");
      const help = `MI statistics ${group}:${memberPattern(name, labels)}, one per ${per}`;
      out.set(metric, f = { kind: d.kind, help, samples: [], seen: new Set() });
    }
    if (f.kind !== d.kind) continue;
    const text = Object.entries(labels)
      .map(([k, v]) => `${snakeCase(k)}="${escapeLabel(v)}"`).join(",");
    if (f.seen.has(text)) continue;
    f.seen.add(text);
    f.samples.push(`${metric}{${text}} ${sampleValue(d.value)}`);
  }
  let text = "";
  for (const [metric, f] of out) {
    const sum = sums.get(metric);
    const help = sum === undefined ? f.help : `${f.help}; their sum is ${sum}`;
    text += `# HELP ${metric} ${escapeHelp(help)}\n# TYPE ${metric} ${f.kind}\n`;
    text += f.samples.join("\n") + "\n";
  }
  return text;
}
