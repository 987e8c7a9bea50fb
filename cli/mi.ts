// `sipmi mi [--local | transport options] COMMAND [ARGS...]`: run one MI
// command, in-process or against a daemon (sipmi or OpenSIPS), and print its
// result.

import { loadConfig } from "../config/load.ts";
import { type Config, parseDatagramAddress, parseHostPort } from "../config/schema.ts";
import { buildMi } from "../app.ts";
import { requestText, runCall } from "../mi/script.ts";
import {
  type CallOptions,
  fifoCall,
  httpCall,
  TransportError,
  udpCall,
  unixCall,
} from "../transports/client.ts";
import { configToken } from "../transports/http.ts";
import { wordsToParams } from "./mi_args.ts";
import {
  eprint,
  EXIT_FAIL,
  EXIT_OK,
  EXIT_USAGE,
  parseOptions,
  splitAtCommand,
  UsageError,
} from "./common.ts";

export const usage = `Usage: sipmi mi [OPTIONS] COMMAND [ARGS...]

Runs one MI command and prints its result as JSON.

Where the command runs (default: the FIFO of the config, i.e. the local daemon):
  --local              in this process, through the same MI core as the daemon
                       (no daemon needed)
  --fifo PATH          the daemon's FIFO; the reply FIFO is created in
                       --reply-dir (default: fifo.reply_dir of the config)
  --udp HOST:PORT      UDP datagram ([::1]:PORT for IPv6)
  --unix PATH          unix datagram socket
  --http URL           HTTP JSON-RPC, e.g. http://127.0.0.1:8899/mi
  --token TOKEN        bearer token for --http (or --token-file PATH; default:
                       http.auth of the config)

Options:
  --config PATH        config file (default /etc/sipmi/sipmi.jsonc)
  --reply-dir DIR      where the reply FIFO goes (the daemon's reply_dir)
  --timeout MS         give up after MS milliseconds (default 10000)
  --raw                print the compact JSON-RPC reply instead of the result
  -h, --help           this help

ARGS follow opensips-cli: NAME=VALUE words give named params, other words
positional ones; numbers stay numbers, [..], {..} and "..." are JSON.
  sipmi mi uptime
  sipmi mi --udp 127.0.0.1:8898 get_statistics mi: core:
  sipmi mi --http http://127.0.0.1:8899/mi log_level 4
  sipmi mi --local help uptime

Exit status: 0 result, 1 error reply, 2 usage or transport failure
(daemon not running, timeout, HTTP status other than 200).`;

const VALUED = new Set([
  "--config",
  "--fifo",
  "--udp",
  "--unix",
  "--http",
  "--token",
  "--token-file",
  "--reply-dir",
  "--timeout",
]);

type Target =
  | { kind: "fifo"; path: string; replyDir: string }
  | { kind: "udp"; host: string; port: number }
  | { kind: "unix"; path: string }
  | { kind: "http"; url: string; token: string };

export async function run(args: string[]): Promise<number> {
  const { options, rest } = splitAtCommand(args, VALUED);
  const { values } = parseOptions(options, {
    local: { type: "boolean" },
    fifo: { type: "string" },
    udp: { type: "string" },
    unix: { type: "string" },
    http: { type: "string" },
    token: { type: "string" },
    "token-file": { type: "string" },
    "reply-dir": { type: "string" },
    timeout: { type: "string" },
    config: { type: "string" },
    raw: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(usage);
    return EXIT_OK;
  }
  const [command, ...words] = rest;
  if (!command) throw new UsageError("missing COMMAND");
  const chosen = ["local", "fifo", "udp", "unix", "http"].filter((k) =>
    values[k as keyof typeof values] !== undefined
  );
  if (chosen.length > 1) {
    throw new UsageError(`choose one of --${chosen.join(", --")}`);
  }
  const timeoutMs = values.timeout === undefined ? 10000 : Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new UsageError(`--timeout must be a positive number of milliseconds`);
  }
  const params = wordsToParams(command, words);
  const raw = values.raw ?? false;
  const { config } = await loadConfig(values.config);

  if (values.local) {
    const mi = buildMi(config, { argv: ["sipmi", ...args] });
    const ep = mi.core.endpoint({ transport: "cli", log: mi.attendant.log });
    return printReply(await runCall(ep, { method: command, params }), raw);
  }

  const target = chooseTarget(values, config);
  // A random id, so a stray reply is not taken for ours.
  const id = 1 + Math.floor(Math.random() * 0x7ffffffe);
  const request = requestText({ method: command, params }, id);
  // Ctrl-C still removes the reply FIFO or socket.
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const reply = await call(target, request, { timeoutMs, signal: abort.signal });
    return printReply(reply, raw);
  } catch (e) {
    if (!(e instanceof TransportError)) throw e;
    eprint(`sipmi mi: ${describe(target)}: ${e.message}`);
    return EXIT_USAGE;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

function chooseTarget(
  v: {
    fifo?: string;
    udp?: string;
    unix?: string;
    http?: string;
    token?: string;
    "token-file"?: string;
    "reply-dir"?: string;
  },
  config: Config,
): Target {
  const token = () => {
    if (v.token !== undefined) return v.token;
    if (v["token-file"] !== undefined) {
      try {
        return Deno.readTextFileSync(v["token-file"]).split("\n")[0].trim();
      } catch (e) {
        throw new UsageError(`cannot read --token-file: ${(e as Error).message}`);
      }
    }
    try {
      return configToken(config.http);
    } catch {
      return ""; // The config's token file is not readable by us: try without.
    }
  };
  const replyDir = v["reply-dir"] ?? config.fifo.reply_dir;
  if (v.fifo !== undefined) return { kind: "fifo", path: v.fifo, replyDir };
  if (v.udp !== undefined) {
    const hp = parseHostPort(v.udp);
    if (!hp) throw new UsageError(`--udp wants HOST:PORT or [IPv6]:PORT, not '${v.udp}'`);
    return { kind: "udp", ...hp };
  }
  if (v.unix !== undefined) return { kind: "unix", path: v.unix };
  if (v.http !== undefined) {
    let url: URL;
    try {
      url = new URL(v.http);
    } catch {
      throw new UsageError(`--http wants a URL such as http://127.0.0.1:8899/mi, not '${v.http}'`);
    }
    if (url.pathname === "/") url.pathname = `/${config.http.mi_root}`;
    return { kind: "http", url: url.href, token: token() };
  }
  // The local daemon, by the first transport its config enables.
  if (config.fifo.enabled) return { kind: "fifo", path: config.fifo.path, replyDir };
  const dg = config.datagram.enabled ? config.datagram.listen[0] : undefined;
  const a = dg && parseDatagramAddress(dg.address);
  if (a) return a.kind === "udp" ? { kind: "udp", host: a.host, port: a.port } : a;
  if (config.http.enabled) {
    const hp = parseHostPort(config.http.listen)!;
    const host = hp.host.includes(":") ? `[${hp.host}]` : hp.host;
    return {
      kind: "http",
      url: `http://${host}:${hp.port}/${config.http.mi_root}`,
      token: token(),
    };
  }
  throw new UsageError("the config enables no transport; use --fifo, --udp, --unix or --http");
}

function call(t: Target, request: string, opts: CallOptions): Promise<string> {
  switch (t.kind) {
    case "fifo":
      return fifoCall(t.path, request, { ...opts, replyDir: t.replyDir });
    case "udp":
      return udpCall(t.host, t.port, request, opts);
    case "unix":
      return unixCall(t.path, request, opts);
    case "http":
      return httpCall(t.url, request, { ...opts, token: t.token });
  }
}

function describe(t: Target): string {
  switch (t.kind) {
    case "fifo":
      return `fifo:${t.path}`;
    case "udp":
      return `udp:${t.host.includes(":") ? `[${t.host}]` : t.host}:${t.port}`;
    case "unix":
      return `unix:${t.path}`;
    case "http":
      return t.url;
  }
}

/** Prints a reply: the result pretty on stdout, or the error on stderr; returns the exit code. */
export function printReply(reply: string, raw: boolean): number {
  let r: { result?: unknown; error?: { code: number; message: string; data?: string } };
  try {
    r = JSON.parse(reply);
  } catch {
    // OpenSIPS answers some failures in plain text ("400 Parse_error").
    if (raw) console.log(reply);
    else eprint(`error: the server did not answer JSON: ${reply.slice(0, 500) || "(empty reply)"}`);
    return EXIT_FAIL;
  }
  if (raw) console.log(reply);
  else if (r.error === undefined) console.log(JSON.stringify(r.result, null, 2));
  if (r.error !== undefined) {
    if (!raw) {
      eprint(
        `error ${r.error.code}: ${r.error.message}${r.error.data ? ` (${r.error.data})` : ""}`,
      );
    }
    return EXIT_FAIL;
  }
  return EXIT_OK;
}
