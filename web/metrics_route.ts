// Prometheus metrics at `GET <metrics_path>` (default /metrics): every MI
// statistic, read with get_statistics_detail through the listener's MI
// endpoint (read-only), so a policy that denies it on this listener denies
// the scrape too. Host counters are read when scraped, as get_statistics
// reads them.

import type { Context, Hono } from "hono";
import type { StatDetail } from "../mi/core_cmds.ts";
import { FORBIDDEN } from "../mi/jsonrpc.ts";
import { connOf, type WebEnv } from "./env.ts";
import { CONTENT_TYPE, renderMetrics } from "./metrics_text.ts";

const TEXT_HEADERS = { "content-type": "text/plain; charset=utf-8" };

export function metricsRoutes(app: Hono, env: WebEnv): void {
  app.all(env.paths.metrics, async (c: Context) => {
    const method = c.req.method;
    if (method !== "GET" && method !== "HEAD") {
      env.gateway.refused();
      return new Response(`${method} is not served here: scrape with GET\n`, {
        status: 405,
        headers: { ...TEXT_HEADERS, allow: "GET" },
      });
    }
    const r = await env.client.call("get_statistics_detail", [["all"]], {
      readOnly: true,
      conn: connOf(c),
    });
    if (!r.ok) {
      const e = r.error;
      const text = `get_statistics_detail failed: ${e.code} ${e.message}${
        e.data ? ` (${e.data})` : ""
      }\n`;
      return new Response(text, {
        status: e.code === FORBIDDEN ? 403 : 500,
        headers: TEXT_HEADERS,
      });
    }
    return new Response(renderMetrics(r.result as Record<string, StatDetail>), {
      headers: { "content-type": CONTENT_TYPE },
    });
  });
}
