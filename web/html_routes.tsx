// The routes of the HTML interface under `/<html_root>` (docs/web.md, "The
// browser page"):
//
//   GET  /html                       the modules
//   GET  /html/<module>              its commands with their help
//   GET  /html/<module>/<command>    the forms; with ?arg= or a recipe form's
//                                    fields, runs the command read-only
//   POST /html/<module>/<command>    runs it from a form of this page (token)
//
// Statuses as OpenSIPS mi_html, each with a page that says what was wrong:
// 406 for an unknown module or command, 500 for an `arg` that is not JSON;
// and 405 for another method, 415 for a post that is not a form, 413 over
// the body limit, 403 for a post that did not come from this page. A
// command's own error is shown in the page with 200, as mi_html does.

import type { Context, Hono } from "hono";
import type { Command } from "../mi/registry.ts";
import { crossSiteReason, FORM_TOKEN, isFormToken } from "./cross_site.ts";
import { connOf, mediaType, type WebEnv } from "./env.ts";
import { PAGE_HEADERS } from "./html_layout.tsx";
import {
  CommandPage,
  HomePage,
  ModulePage,
  type Nav,
  type Outcome,
  StatusPage,
} from "./html_pages.tsx";
import { formParams } from "./html_params.ts";

const FORM_TYPE = "application/x-www-form-urlencoded";

export function htmlRoutes(app: Hono, env: WebEnv): void {
  const { registry, gateway, paths } = env;
  const base = `/${paths.html}`;
  const nav = (): Nav => ({
    root: paths.html,
    modules: registry.modules(),
    xmlrpcPath: paths.xmlrpc,
    metricsPath: paths.metrics,
  });
  const status = (
    c: Context,
    code: 403 | 405 | 406 | 413 | 415 | 500,
    title: string,
    detail: string,
  ) => {
    gateway.refused();
    const headers = code === 405 ? { ...PAGE_HEADERS, allow: "GET, POST" } : PAGE_HEADERS;
    return c.html(
      <StatusPage nav={nav()} status={code} title={title} detail={detail} />,
      code,
      headers,
    );
  };
  const onlyGet = (c: Context) =>
    status(
      c,
      405,
      "Method Not Allowed",
      `${c.req.method} is not served here; open the page with GET.`,
    );
  const isRead = (m: string) => m === "GET" || m === "HEAD";

  const home = (c: Context) => {
    if (!isRead(c.req.method)) return onlyGet(c);
    return c.html(
      <HomePage nav={nav()} commands={(m) => registry.commandsOf(m)} />,
      200,
      PAGE_HEADERS,
    );
  };
  app.all(base, home);
  app.all(`${base}/`, home);

  app.all(`${base}/:module`, (c) => {
    const module = c.req.param("module");
    const commands = registry.commandsOf(module);
    if (commands.length === 0) return unknown(c, `there is no module '${module}'`);
    if (!isRead(c.req.method)) return onlyGet(c);
    return c.html(
      <ModulePage nav={nav()} module={module} commands={commands} />,
      200,
      PAGE_HEADERS,
    );
  });

  app.all(`${base}/:module/:command`, async (c) => {
    const module = c.req.param("module"), name = c.req.param("command");
    if (registry.commandsOf(module).length === 0) {
      return unknown(c, `there is no module '${module}'`);
    }
    const cmd = registry.get(name);
    if (cmd === undefined || cmd.module !== module) {
      return unknown(c, `module '${module}' has no command '${name}'`);
    }
    const method = c.req.method;
    let fields: URLSearchParams;
    if (method === "POST") {
      const refused = await postedForm(c);
      if (refused instanceof Response) return refused;
      fields = refused;
    } else if (isRead(method)) {
      fields = new URL(c.req.url).searchParams;
    } else {
      return status(
        c,
        405,
        "Method Not Allowed",
        `${method} is not served here: use GET, or the page's forms.`,
      );
    }
    const form = formParams(cmd, fields);
    if ("bad" in form) return status(c, 500, "Internal Server Error", form.bad);
    const page = (outcome?: Outcome) =>
      c.html(
        <CommandPage nav={nav()} cmd={cmd} token={FORM_TOKEN} sent={form.sent} outcome={outcome} />,
        200,
        PAGE_HEADERS,
      );
    if (!form.run) return page();
    const readOnly = method !== "POST";
    const r = await env.client.call(cmd.name, form.params, { readOnly, conn: connOf(c) });
    if (r.ok) return page(r);
    const refusedAsRead = readOnly && r.error.code === 403 &&
      /changes state/.test(r.error.data ?? "");
    return page({ ...r, hint: refusedAsRead ? GET_HINT(cmd) : undefined });
  });

  app.all(`${base}/*`, (c) => unknown(c, `nothing is at ${new URL(c.req.url).pathname}`));

  function unknown(c: Context, why: string) {
    return status(c, 406, "Unable to parse URL", `${why}. The modules are listed at ${base}.`);
  }

  /** The fields of a post from this page's forms, or the page that refuses it. */
  async function postedForm(c: Context): Promise<URLSearchParams | Response> {
    const req = c.req.raw;
    if (mediaType(req) !== FORM_TYPE) {
      return status(
        c,
        415,
        "Unsupported Media Type",
        `a post here is one of the page's forms (${FORM_TYPE}).`,
      );
    }
    const cross = crossSiteReason(req);
    if (cross !== undefined) return status(c, 403, "Forbidden", `${cross}: nothing was run.`);
    const body = await gateway.readBody(req);
    if (typeof body === "number") {
      const data = JSON.parse(gateway.oversize(body)).error.data as string;
      return c.html(
        <StatusPage nav={nav()} status={413} title="Content Too Large" detail={data} />,
        413,
        PAGE_HEADERS,
      );
    }
    const fields = new URLSearchParams(body);
    if (!isFormToken(fields.get("token"))) {
      return status(
        c,
        403,
        "Forbidden",
        "the form does not carry this daemon's form token (a form of another site, or of a page from before sipmi restarted): nothing was run. Reload the page and send the form again.",
      );
    }
    return fields;
  }
}

const GET_HINT = (cmd: Command) =>
  `A GET never changes anything: run ${cmd.name} with these params from the form on this page, which posts.`;
