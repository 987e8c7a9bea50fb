// What every web face gets from the listener that mounts it.

import type { Context } from "hono";
import type { Registry } from "../mi/registry.ts";
import type { MiClient, MiGateway } from "./gateway.ts";

export interface WebPaths {
  /** The HTML root without slashes (`html`). */
  html: string;
  /** The XML-RPC path (`/RPC2`). */
  xmlrpc: string;
  /** The metrics path (`/metrics`). */
  metrics: string;
}

export interface WebEnv {
  gateway: MiGateway;
  client: MiClient;
  /** Read to list modules and commands; commands always run through the gateway. */
  registry: Registry;
  paths: WebPaths;
}

/** The server's per-request information hono carries as its env (the peer), if any. */
export function connOf(c: Context): unknown {
  return c.env;
}

/** The media type of a request without parameters, lower case; "" when absent. */
export function mediaType(req: Request): string {
  const ct = req.headers.get("content-type");
  if (ct === null) return "";
  const semi = ct.indexOf(";");
  return (semi < 0 ? ct : ct.slice(0, semi)).trim().toLowerCase();
}
