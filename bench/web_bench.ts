// Benchmark (not a test) of the HTTP listener's web faces on the 1152-CPU
// capture (tests/tuning_big_root.ts): the host picture's SVG — its size
// against the budget (web/host_svg.tsx, SVG_BUDGET_1152), and the time to
// draw it from MI results and to answer GET /html/host.svg whole — and a
// /metrics scrape. Routes run on the hono app without a socket, over an MI
// endpoint as the listener's.
//
//   deno bench -A bench/web_bench.ts     (part of `deno task bench micro`)

import { Hono } from "hono";
import { buildMi } from "../app.ts";
import { configSpec } from "../config/schema.ts";
import { defaults } from "../config/spec.ts";
import { runCall } from "../mi/script.ts";
import { BIG_NIC, buildBigRoot } from "../tests/tuning_big_root.ts";
import type { HostStatsResult, TuneShowResult } from "../web/host_data.ts";
import { buildModel, sampleOf } from "../web/host_model.ts";
import { svgDocument } from "../web/host_routes.tsx";
import { SVG_BUDGET_1152 } from "../web/host_svg.tsx";
import { mountWeb } from "../web/mount.ts";

const root = await Deno.makeTempDir({ prefix: "sipmi_bench_web_" });
await buildBigRoot(root);
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));

const config = defaults(configSpec);
config.tuning.root = root;
config.tuning.sip.nic = BIG_NIC;
config.log_level = -3;
const mi = buildMi(config);
const ep = mi.core.endpoint({ transport: "bench" });
const app = new Hono();
mountWeb(app, {
  gateway: {
    run: (text) => ep.handle(text),
    readBody: (req) => req.text(),
    oversize: (size) => ep.oversize(size),
    refused: () => {},
  },
  registry: mi.registry,
  htmlRoot: "html",
  xmlrpcRoot: "RPC2",
  metricsPath: "/metrics",
});

async function result<T>(method: string): Promise<T> {
  return JSON.parse(await runCall(ep, { method })).result as T;
}
const show = await result<TuneShowResult>("tune_show");
const stats = await result<HostStatsResult>("host_stats");
const draw = () =>
  svgDocument(buildModel(show, stats.cpus, sampleOf(stats.cpus, 0), sampleOf(stats.cpus, 1000)));

const bytes = new TextEncoder().encode(await draw()).length;
const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
console.log(
  `host picture SVG, 1152 CPUs: ${bytes} bytes (${kib(bytes)}; budget ${kib(SVG_BUDGET_1152)})`,
);
if (bytes > SVG_BUDGET_1152) throw new Error("the host picture is over its size budget");

async function get(path: string): Promise<void> {
  const r = await app.request(path);
  await r.arrayBuffer();
  if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}`);
}

Deno.bench(
  `host picture SVG from MI results (1152 CPUs, ${kib(bytes)} of ${kib(SVG_BUDGET_1152)})`,
  { group: "web", baseline: true },
  async () => {
    await draw();
  },
);

Deno.bench("GET /html/host.svg: tune_show, tune_doctor, host_stats and the SVG (1152 CPUs)", {
  group: "web",
}, async () => {
  await get("/html/host.svg");
});

Deno.bench("GET /metrics (1152 CPUs: every host counter, labelled)", { group: "web" }, async () => {
  await get("/metrics");
});
