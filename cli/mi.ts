// `sipmi mi [--local | transport options] COMMAND [ARGS...]`: run one MI
// command, in-process or against a daemon (sipmi or OpenSIPS), and print its
// result.

import { loadConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { buildMi } from "../app.ts";
import { requestText, runCall } from "../mi/script.ts";
import { TransportError } from "../transports/client.ts";
import { callTarget, defaultTarget, describeTarget, parseTarget, type Target } from "./target.ts";
import { wordsToParams } from "./mi_args.ts";
import { resolve } from "node:path";
import { hostRoot } from "../sys/hostfs.ts";
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
    const reply = await callTarget(target, request, { timeoutMs, signal: abort.signal });
    return printReply(reply, raw);
  } catch (e) {
    if (!(e instanceof TransportError)) throw e;
    eprint(`sipmi mi: ${describeTarget(target)}: ${e.message}`);
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
  let token = v.token;
  if (token === undefined && v["token-file"] !== undefined) {
    try {
      token = hostRoot.readTextSync(resolve(v["token-file"])).split("\n")[0].trim();
    } catch (e) {
      throw new UsageError(`cannot read --token-file: ${(e as Error).message}`);
    }
  }
  const opts = { replyDir: v["reply-dir"], token };
  if (v.fifo !== undefined) return parseTarget(`fifo:${v.fifo}`, config, opts);
  if (v.udp !== undefined) return parseTarget(`udp:${v.udp}`, config, opts);
  if (v.unix !== undefined) return parseTarget(`unix:${v.unix}`, config, opts);
  if (v.http !== undefined) {
    if (!/^https?:\/\//.test(v.http)) {
      throw new UsageError(`--http wants a URL such as http://127.0.0.1:8899/mi, not '${v.http}'`);
    }
    return parseTarget(v.http, config, opts);
  }
  return defaultTarget(config, opts);
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
