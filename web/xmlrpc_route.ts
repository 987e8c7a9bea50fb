// XML-RPC at `POST /<xmlrpc_root>` (default /RPC2), OpenSIPS mi_xmlrpc_ng
// with its fault codes and strings, plus `system.listMethods` and
// `system.methodHelp` (OpenSIPS answers them "method not found").
//
// HTTP level: POST only (405), Content-Type text/xml or application/xml
// (415: a browser form cannot send it, so a cross-site page cannot forge a
// call), a browser's cross-site headers refused (403), the listener's body
// limit (413), an empty body 400. Faults are HTTP 200.

import type { Context, Hono } from "hono";
import { crossSiteReason } from "./cross_site.ts";
import { connOf, mediaType, type WebEnv } from "./env.ts";
import type { CallResult } from "./gateway.ts";
import { decodeMethodCall } from "./xmlrpc_decode.ts";
import { faultResponse, methodResponse } from "./xmlrpc_encode.ts";

const XML_HEADERS = { "content-type": "text/xml; charset=utf-8" };
const TEXT_HEADERS = { "content-type": "text/plain; charset=utf-8" };
const XML_TYPES = new Set(["text/xml", "application/xml"]);

const SYSTEM_HELP: Readonly<Record<string, string>> = {
  "system.listMethods": "lists every method: the MI commands and these system methods",
  "system.methodHelp": "returns the help text of a method",
};

export function xmlrpcRoutes(app: Hono, env: WebEnv): void {
  const { gateway, client } = env;
  const refuse = (status: 400 | 403 | 405 | 413 | 415, text: string, extra = {}) => {
    gateway.refused();
    return new Response(text + "\n", { status, headers: { ...TEXT_HEADERS, ...extra } });
  };
  const xml = (body: string) => new Response(body, { headers: XML_HEADERS });
  const reply = (r: CallResult, map: (result: unknown) => unknown = (x) => x) =>
    xml(r.ok ? methodResponse(map(r.result)) : faultResponse(r.error.code, r.error.message));

  const handler = async (c: Context) => {
    const req = c.req.raw;
    if (req.method !== "POST") {
      return refuse(405, `XML-RPC wants POST with Content-Type: text/xml`, { allow: "POST" });
    }
    if (!XML_TYPES.has(mediaType(req))) {
      const ct = req.headers.get("content-type");
      return refuse(
        415,
        `${ct === null ? "no Content-Type" : `Content-Type '${ct}'`}: send text/xml`,
      );
    }
    const cross = crossSiteReason(req);
    if (cross !== undefined) return refuse(403, `${cross}: nothing was run`);
    const body = await gateway.readBody(req);
    if (typeof body === "number") {
      const data = JSON.parse(gateway.oversize(body)).error.data as string;
      return new Response(data + "\n", { status: 413, headers: TEXT_HEADERS });
    }
    if (body.trim() === "") return refuse(400, "the request body is empty");

    const call = decodeMethodCall(body);
    if (!call.ok) {
      // Answered here, not by the core: counted as a refused request.
      gateway.refused();
      return xml(faultResponse(call.code, ""));
    }
    const conn = connOf(c);
    const run = (method: string, params: unknown) =>
      client.call(method, params, { readOnly: false, conn });
    switch (call.method) {
      case "system.listMethods":
        return reply(await run("which", undefined), (names) => [
          ...Object.keys(SYSTEM_HELP),
          ...(names as string[]),
        ]);
      case "system.methodHelp": {
        const name = Array.isArray(call.params) && call.params.length === 1
          ? call.params[0]
          : undefined;
        if (typeof name !== "string") return xml(faultResponse(-32602, ""));
        if (name in SYSTEM_HELP) return xml(methodResponse(SYSTEM_HELP[name]));
        return reply(await run("help", [name]), (r) => (r as { Help: string }).Help);
      }
    }
    return reply(await run(call.method, call.params));
  };
  app.all(env.paths.xmlrpc, handler);
  app.all(`${env.paths.xmlrpc}/*`, handler);
}
