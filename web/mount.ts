// The faces of the HTTP listener beyond /mi, mounted on its hono app: the
// HTML interface and the host picture under `/<html_root>`, XML-RPC at
// `/<xmlrpc_root>`, Prometheus metrics at `<metrics_path>`. Each is a client
// of the MI core through the listener's gateway (web/gateway.ts).

import type { Hono } from "hono";
import type { Registry } from "../mi/registry.ts";
import type { WebPaths } from "./env.ts";
import { MiClient, type MiGateway } from "./gateway.ts";
import { hostRoutes } from "./host_routes.tsx";
import { htmlRoutes } from "./html_routes.tsx";
import { metricsRoutes } from "./metrics_route.ts";
import { xmlrpcRoutes } from "./xmlrpc_route.ts";

export interface WebMountOptions {
  gateway: MiGateway;
  registry: Registry;
  /** `http.html_root`, `http.xmlrpc_root` (without slashes) and `http.metrics_path`. */
  htmlRoot: string;
  xmlrpcRoot: string;
  metricsPath: string;
}

/** The HTTP listener's faces for a config: what the daemon hands to HttpListener. */
export function webFaces(
  registry: Registry,
  http: { html_root: string; xmlrpc_root: string; metrics_path: string },
): (app: Hono, gateway: MiGateway) => void {
  return (app, gateway) =>
    mountWeb(app, {
      gateway,
      registry,
      htmlRoot: http.html_root,
      xmlrpcRoot: http.xmlrpc_root,
      metricsPath: http.metrics_path,
    });
}

export function mountWeb(app: Hono, opts: WebMountOptions): void {
  const paths: WebPaths = {
    html: opts.htmlRoot,
    xmlrpc: `/${opts.xmlrpcRoot}`,
    metrics: opts.metricsPath,
  };
  const env = {
    gateway: opts.gateway,
    client: new MiClient(opts.gateway),
    registry: opts.registry,
    paths,
  };
  // The host picture first: /html/host is not a module.
  hostRoutes(app, env);
  htmlRoutes(app, env);
  xmlrpcRoutes(app, env);
  metricsRoutes(app, env);
}
