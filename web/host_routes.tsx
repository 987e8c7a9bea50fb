// The host picture: `GET /<html_root>/host` (the page) and
// `GET /<html_root>/host.svg` (the picture alone), `?nic=IF` for another NIC
// than the SIP one. Rates are "since the last view": the listener keeps the
// per-CPU counters of the previous view (of anyone's), and a view less
// than half a second after it is measured against that same one, so a
// double reload does not show the noise of a few milliseconds.

import type { Context, Hono } from "hono";
import { FORBIDDEN } from "../mi/jsonrpc.ts";
import { connOf, type WebEnv } from "./env.ts";
import { readHost } from "./host_data.ts";
import { buildModel, type HostModel, type Sample, sampleOf } from "./host_model.ts";
import { HostPage } from "./host_page.tsx";
import { HostSvg } from "./host_svg.tsx";
import { PAGE_HEADERS } from "./html_layout.tsx";

const MIN_RATE_INTERVAL_MS = 500;
const SVG_HEADERS = { ...PAGE_HEADERS, "content-type": "image/svg+xml; charset=utf-8" };

/** The SVG as a standalone document. */
export async function svgDocument(model: HostModel): Promise<string> {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${await (<HostSvg model={model} />).toString()}`;
}

export function hostRoutes(app: Hono, env: WebEnv): void {
  const base = `/${env.paths.html}/host`;
  let last: Sample | null = null;

  const look = async (c: Context) => {
    const nic = c.req.query("nic")?.trim() || undefined;
    const data = await readHost(env.client, { nic, conn: connOf(c) });
    let model: HostModel | null = null;
    if (data.show.ok) {
      const counters = data.stats.ok ? data.stats.value.cpus : [];
      const now = sampleOf(counters, performance.now());
      const previous = last !== null && now.at - last.at >= MIN_RATE_INTERVAL_MS ? last : null;
      model = buildModel(data.show.value, counters, previous, now);
      if (data.stats.ok && (last === null || previous !== null)) last = now;
    }
    return { nic, data, model };
  };
  const readOnly = (c: Context) => {
    env.gateway.refused();
    return new Response(`${c.req.method} is not served here: use GET\n`, {
      status: 405,
      headers: { "content-type": "text/plain; charset=utf-8", allow: "GET" },
    });
  };

  app.all(base, async (c) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return readOnly(c);
    const { nic, data, model } = await look(c);
    const page = (
      <HostPage
        root={env.paths.html}
        modules={env.registry.modules()}
        data={data}
        model={model}
        nic={nic}
      />
    );
    return c.html(page, 200, PAGE_HEADERS);
  });

  app.all(`${base}.svg`, async (c) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return readOnly(c);
    const { data, model } = await look(c);
    if (!data.show.ok || model === null) {
      const e = data.show.ok ? undefined : data.show.error;
      return new Response(`tune_show failed: ${e?.code} ${e?.message} ${e?.data ?? ""}\n`, {
        status: e?.code === FORBIDDEN ? 403 : 500,
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
    return new Response(await svgDocument(model), { headers: SVG_HEADERS });
  });
}
