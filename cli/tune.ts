// `sipmi tune ...`: the tuning MI commands from the shell. Each subcommand
// builds the MI request the daemon would get and runs it through the same
// core in this process (or, with --via, sends it to a daemon); output is
// the MI result as JSON (--json) or an aligned table. One implementation:
// nothing here reads or changes the host. The subcommands that change it
// are in tune_write.ts.

import { isAbsolute, resolve } from "node:path";
import { buildMi } from "../app.ts";
import { L_WARN } from "../sys/log.ts";
import { loadConfig } from "../config/load.ts";
import { requestText, runCall } from "../mi/script.ts";
import { TransportError } from "../transports/client.ts";
import { callTarget, parseTarget, type Target, TARGET_FORMS } from "./target.ts";
import { MAX_INTERVAL } from "../tuning/module.ts";
import {
  eprint,
  EXIT_FAIL,
  EXIT_OK,
  EXIT_USAGE,
  parseOptions,
  splitAtCommand,
  UsageError,
} from "./common.ts";
import {
  renderAffinity,
  renderCpus,
  renderDoctor,
  renderIrqbalance,
  renderIrqList,
  renderNic,
  renderShow,
  renderStats,
} from "./tune_render.ts";
import { named, type OptionSpec, type Request, str, type Sub, type Values } from "./tune_sub.ts";
import { type Caller, SUB_WORDS, waitForConfirm, WRITE_SUBS } from "./tune_write.ts";
import type { ApplyResult } from "../tuning/transaction.ts";

export const usage = `Usage: sipmi tune [OPTIONS] SUBCOMMAND [ARGS...]

Shows and changes what matters for a SIP host: a NIC's interrupts and the
SIP router's threads on the same cores, irqbalance kept off them. Each
subcommand runs one MI command of the tuning module (named in brackets),
in this process or against a daemon.

Looking:
  cpus                          online/isolated/nohz_full CPUs, NUMA, SMT   [cpu_list]
  irq list [--nic IF] [--match RE]
                                IRQs with counts and affinity              [irq_list]
  nic [IF]                      a NIC's queues, IRQs, RPS/XPS, drops        [nic_describe]
  irqbalance                    irqbalance config, banned CPUs/IRQs, running [irqbalance_status]
  affinity PID|--name RE|--unit UNIT [--threads]
                                CPU affinity of processes and threads      [affinity_get]
  stats [--interval S [--count N]] [--ports P,P] [--nic IF]
                                NET_RX, softnet drops, UDP errors, socket drops [host_stats]
  doctor [--interval S] [--nic IF]
                                findings with evidence and advice          [tune_doctor]
  show [--nic IF]               CPUs, SIP NIC, irqbalance, SIP router      [tune_show]

Changing one thing (each takes --dry-run; a failure is rolled back):
  irq set IRQ...|--nic IF|--match RE --cpus LIST                          [irq_set_affinity]
  irq spread --nic IF --cpus LIST [--numa-local]
                                one CPU per queue IRQ, round robin         [irq_spread]
  irq default --cpus LIST       /proc/irq/default_smp_affinity             [irq_default_affinity]
  irqbalance ban --cpus LIST | ban-irq N... | unban
                                sipmi's block in irqbalance's config, then
                                the running daemon is told                 [irqbalance_ban]
  affinity set PID|--name RE|--unit UNIT --cpus LIST [--threads]
                                sched_setaffinity, reports what was kept   [affinity_set]
  rps --nic IF --cpus LIST|off  receive packet steering of every RX queue  [rps_set]

Profiles (--profile FILE, default tuning.profile):
  plan                          the changes, as a diff                     [tune_plan]
  apply [--dry-run] [--yes] [--confirm-timeout S]
                                one transaction: snapshot, apply, read back,
                                roll back on failure; with a timeout, rolled
                                back unless confirmed in time             [tune_apply]
  verify                        item by item what differs (exit 0 in sync,
                                1 drift, 2 error)                          [tune_verify]
  rollback [ID|--profile FILE] [--dry-run] [--yes]
                                restore the newest (or a named) snapshot   [tune_rollback]
  snapshots                     what rollback can restore                  [tune_snapshots]
  confirm                       keep a change applied with a timeout       [tune_confirm]
  status                        applied profile, pending confirm, drift    [tune_status]

Options (before or after the subcommand):
  --json                print the MI result as JSON (stats --count N > 1: one line per sample)
  --root DIR            read and write /proc, /sys and /etc under DIR (a captured tree,
                        with the kernel's rules for writes); nothing on the host changes
  --state-dir DIR       snapshots and the journal (default tuning.state_dir; under --root)
  --config PATH         config file (default /etc/sipmi/sipmi.jsonc)
  --via ADDR            run on a daemon: fifo:PATH, udp:HOST:PORT, unix:PATH or
                        http://HOST:PORT/mi (the reply FIFO goes in fifo.reply_dir,
                        the HTTP token comes from http.auth of --config)
  -h, --help            this help

IF defaults to tuning.sip.nic, else the interface of the default route.
Exit status: 0 result, 1 error reply, 2 usage or transport failure.
Examples:
  sipmi tune show
  sipmi tune irq list --nic eth0
  sipmi tune affinity --unit opensips --threads
  sipmi tune stats --interval 1 --count 10 --ports 5060,5061
  sipmi tune doctor --via udp:127.0.0.1:8898
  sipmi tune irq set 38 39 --cpus 2 --dry-run
  sipmi tune plan --profile /etc/sipmi/host.jsonc
  sipmi tune apply --profile /etc/sipmi/host.jsonc --confirm-timeout 60`;

const COMMON: Record<string, OptionSpec> = {
  json: { type: "boolean" },
  root: { type: "string" },
  config: { type: "string" },
  via: { type: "string" },
  "state-dir": { type: "string" },
  help: { type: "boolean", short: "h" },
};

function seconds(v: Values[string], what: string): number | undefined {
  if (typeof v !== "string") return undefined;
  if (!/^[0-9]+(\.[0-9]+)?$/.test(v) || Number(v) > MAX_INTERVAL) {
    throw new UsageError(`${what} must be seconds between 0 and ${MAX_INTERVAL}, not '${v}'`);
  }
  return Number(v);
}

const SUBS: Record<string, Sub> = {
  cpus: {
    options: {},
    maxArgs: 0,
    request: () => ({ method: "cpu_list" }),
    render: (r) => renderCpus(r as Parameters<typeof renderCpus>[0]),
  },
  "irq list": {
    options: { nic: { type: "string" }, match: { type: "string" } },
    maxArgs: 0,
    request: (v) => ({
      method: "irq_list",
      params: named({ nic: str(v.nic), match: str(v.match) }),
    }),
    render: (r) => renderIrqList(r as Parameters<typeof renderIrqList>[0]),
  },
  nic: {
    options: {},
    maxArgs: 1,
    request: (_v, args) => ({ method: "nic_describe", params: named({ nic: args[0] }) }),
    render: (r) => renderNic(r as Parameters<typeof renderNic>[0]),
  },
  irqbalance: {
    options: {},
    maxArgs: 0,
    request: () => ({ method: "irqbalance_status" }),
    render: (r) => renderIrqbalance(r as Parameters<typeof renderIrqbalance>[0]),
  },
  affinity: {
    options: { name: { type: "string" }, unit: { type: "string" }, threads: { type: "boolean" } },
    maxArgs: 1,
    request: (v, args) => {
      const given = [args[0], v.name, v.unit].filter((x) => x !== undefined);
      if (given.length !== 1) {
        throw new UsageError("give exactly one of PID, --name RE, --unit UNIT");
      }
      let who: Record<string, unknown>;
      if (args[0] !== undefined) {
        if (!/^[1-9][0-9]*$/.test(args[0])) {
          throw new UsageError(`PID must be a number, not '${args[0]}'`);
        }
        who = { pid: Number(args[0]) };
      } else if (v.name !== undefined) who = { name: v.name };
      else who = { unit: v.unit };
      return {
        method: "affinity_get",
        params: { ...who, ...(v.threads ? { threads: true } : {}) },
      };
    },
    render: (r) => renderAffinity(r as Parameters<typeof renderAffinity>[0]),
  },
  stats: {
    options: {
      interval: { type: "string" },
      count: { type: "string" },
      ports: { type: "string" },
      nic: { type: "string" },
    },
    maxArgs: 0,
    request: (v) => {
      let ports: number[] | undefined;
      if (typeof v.ports === "string") {
        ports = v.ports.split(",").map((p) => {
          if (!/^[0-9]{1,5}$/.test(p) || Number(p) < 1 || Number(p) > 65535) {
            throw new UsageError(`--ports must be UDP ports such as 5060,5061, not '${v.ports}'`);
          }
          return Number(p);
        });
      }
      return {
        method: "host_stats",
        params: named({ interval: seconds(v.interval, "--interval"), ports, nic: str(v.nic) }),
      };
    },
    render: (r) => renderStats(r as Parameters<typeof renderStats>[0]),
  },
  doctor: {
    options: { interval: { type: "string" }, nic: { type: "string" } },
    maxArgs: 0,
    request: (v) => ({
      method: "tune_doctor",
      params: named({ interval: seconds(v.interval, "--interval"), nic: str(v.nic) }),
    }),
    render: (r) => renderDoctor(r as Parameters<typeof renderDoctor>[0]),
  },
  show: {
    options: { nic: { type: "string" } },
    maxArgs: 0,
    request: (v) => ({ method: "tune_show", params: named({ nic: str(v.nic) }) }),
    render: (r) => renderShow(r as Parameters<typeof renderShow>[0]),
  },
};

Object.assign(SUBS, WRITE_SUBS);

const VALUED = new Set(["--root", "--config", "--via", "--state-dir"]);

/** Finds the subcommand words (`irq list` is two) at the start of `rest`. */
function pickSub(rest: string[]): { name: string; sub: Sub; after: string[] } {
  const [first, second] = rest;
  if (first === undefined) throw new UsageError("missing SUBCOMMAND");
  const words = SUB_WORDS[first];
  if (words !== undefined && second !== undefined && words.includes(second)) {
    const name = `${first} ${second}`;
    return { name, sub: SUBS[name], after: rest.slice(2) };
  }
  if (first === "irq") {
    throw new UsageError(`'tune irq' needs one of: ${SUB_WORDS.irq.join(", ")}`);
  }
  const sub = Object.hasOwn(SUBS, first) && !first.includes(" ") ? SUBS[first] : undefined;
  if (!sub) throw new UsageError(`unknown subcommand '${first}'`);
  return { name: first, sub, after: rest.slice(1) };
}

async function localCaller(
  values: { root?: string; config?: string; "state-dir"?: string },
  args: string[],
): Promise<Caller> {
  const { config } = await loadConfig(values.config);
  if (values.root !== undefined) {
    const root = isAbsolute(values.root) ? values.root : resolve(values.root);
    try {
      if (!(await Deno.stat(root)).isDirectory) throw new Error("not a directory");
    } catch (e) {
      throw new UsageError(`--root ${values.root}: ${(e as Error).message}`);
    }
    config.tuning.root = root;
  }
  if (values["state-dir"] !== undefined) {
    const dir = values["state-dir"];
    if (!dir.startsWith("/")) {
      throw new UsageError(`--state-dir must be an absolute path, not '${dir}'`);
    }
    config.tuning.state_dir = dir;
  }
  const mi = buildMi(config, { argv: ["sipmi", "tune", ...args] });
  // The result says what happened; the log adds only warnings and errors.
  mi.log.level = Math.min(mi.log.level, L_WARN);
  const ep = mi.core.endpoint({ transport: "cli", log: mi.attendant.log });
  return (req) => runCall(ep, req);
}

/**
 * A caller that sends the same request to a daemon through the MI client
 * (transports/client.ts). The timeout leaves room for a sampling interval.
 */
async function viaCaller(
  via: string,
  configPath: string | undefined,
  req: Request,
): Promise<Caller> {
  const { config } = await loadConfig(configPath);
  const params = req.params as Record<string, unknown> | undefined;
  const interval = typeof params?.interval === "number" ? params.interval : 1;
  const opts = { timeoutMs: 10_000 + interval * 2000 };
  let target: Target;
  try {
    target = parseTarget(via, config);
  } catch (e) {
    if (e instanceof UsageError) {
      throw new UsageError(`--via: ${e.message} (--via must be ${TARGET_FORMS})`);
    }
    throw e;
  }
  const send = (r: string) => callTarget(target, r, opts);
  let id = Math.floor(Math.random() * 0x3fffffff);
  return async (r) => {
    try {
      return await send(requestText(r, ++id));
    } catch (e) {
      if (e instanceof TransportError) throw new ViaFailed(via, e.message);
      throw e;
    }
  };
}

/** The daemon could not be reached or did not answer: exit 2, like `sipmi mi`. */
class ViaFailed extends Error {
  constructor(via: string, why: string) {
    super(`--via ${via}: ${why}`);
  }
}

interface Reply {
  result?: unknown;
  error?: { code: number; message: string; data?: string };
}

export async function run(args: string[]): Promise<number> {
  const { options, rest } = splitAtCommand(args, VALUED);
  if (rest.length === 0 && (options.includes("--help") || options.includes("-h"))) {
    console.log(usage);
    return EXIT_OK;
  }
  const { name, sub, after } = pickSub(rest);
  const parsed = parseSubOptions(name, [...options, ...after], sub);
  const values = parsed.values as Values, positionals = parsed.positionals;
  if (values.help) {
    console.log(usage);
    return EXIT_OK;
  }
  if (positionals.length > sub.maxArgs) {
    throw new UsageError(`unexpected argument '${positionals[sub.maxArgs]}' for 'tune ${name}'`);
  }
  const req = sub.request(values, positionals);
  const count = name === "stats" ? sampleCount(values) : 1;
  const json = values.json === true;

  let call: Caller;
  const via = typeof values.via === "string";
  if (via) {
    for (const local of ["root", "state-dir"] as const) {
      if (values[local] !== undefined) {
        throw new UsageError(
          `--${local} applies in-process only; the daemon uses its own tuning.${
            local.replace("-", "_")
          }`,
        );
      }
    }
    call = await viaCaller(values.via as string, values.config as string | undefined, req);
  } else {
    call = await localCaller(
      values as { root?: string; config?: string; "state-dir"?: string },
      args,
    );
  }

  const preview = values.yes === true ? null : sub.preview?.(values, positionals) ?? null;
  if (preview !== null) {
    if (!Deno.stdin.isTerminal()) {
      throw new UsageError(
        `'tune ${name}' changes the host: add --yes (or --dry-run to see what it would do)`,
      );
    }
    const shown = await ask(call, name, preview, sub, json);
    if (shown !== EXIT_OK) return shown;
  }

  for (let i = 0; i < count; i++) {
    const reply = await send(call, name, req);
    if (typeof reply === "number") return reply === EXIT_FAIL ? sub.errorExit ?? EXIT_FAIL : reply;
    if (json) {
      console.log(count > 1 ? JSON.stringify(reply.result) : JSON.stringify(reply.result, null, 2));
    } else console.log((i > 0 ? "\n" : "") + sub.render(reply.result));
    const applied = reply.result as Partial<ApplyResult>;
    if (applied?.confirm_deadline !== undefined && !via) {
      return await waitForConfirm(call, applied as ApplyResult, (s) => console.log(s));
    }
    if (applied?.confirm_deadline !== undefined) {
      console.log(
        `\nThe daemon rolls it back at ${applied.confirm_deadline} unless 'sipmi tune confirm' arrives.`,
      );
    }
    const code = sub.exit?.(reply.result) ?? EXIT_OK;
    if (code !== EXIT_OK) return code;
  }
  return EXIT_OK;
}

/** Sends one request; the reply, or the exit status when there is none to print. */
async function send(call: Caller, name: string, req: Request): Promise<Reply | number> {
  let reply: Reply;
  try {
    reply = JSON.parse(await call(req)) as Reply;
  } catch (e) {
    if (e instanceof ViaFailed) {
      eprint(`sipmi tune ${name}: ${e.message}`);
      return EXIT_USAGE;
    }
    if (e instanceof SyntaxError) {
      eprint(`sipmi tune ${name}: the server did not answer JSON`);
      return EXIT_FAIL;
    }
    throw e;
  }
  if (reply.error !== undefined) {
    const e = reply.error;
    eprint(`sipmi tune ${name}: error ${e.code}: ${e.message}${e.data ? ` (${e.data})` : ""}`);
    return EXIT_FAIL;
  }
  return reply;
}

/** Shows what a change would do and asks on the terminal; EXIT_OK to go on. */
async function ask(
  call: Caller,
  name: string,
  preview: Request,
  sub: Sub,
  json: boolean,
): Promise<number> {
  const reply = await send(call, name, preview);
  if (typeof reply === "number") return reply;
  const r = reply.result as { changes?: unknown[]; rows?: unknown[]; errors?: string[] };
  console.log(
    json
      ? JSON.stringify(r, null, 2)
      : (preview.method === "tune_plan" ? WRITE_SUBS.plan : sub).render(r),
  );
  if ((r.errors?.length ?? 0) > 0) return EXIT_FAIL;
  if ((r.changes ?? r.rows ?? []).length === 0) return EXIT_OK;
  const answer = prompt(`\n${name === "apply" ? "Apply these changes" : "Roll back"}? [y/N]`);
  if (answer !== null && /^y(es)?$/i.test(answer.trim())) return EXIT_OK;
  eprint(`sipmi tune ${name}: nothing changed`);
  return EXIT_FAIL;
}

/** Strict option parsing; an option of another subcommand is named as such. */
function parseSubOptions(name: string, args: string[], sub: Sub) {
  try {
    return parseOptions(args, { ...COMMON, ...sub.options }, { positionals: true });
  } catch (e) {
    const m = /Unknown option '([^']+)'/.exec((e as Error).message);
    if (m) throw new UsageError(`option ${m[1]} does not apply to 'tune ${name}'`);
    throw e;
  }
}

function sampleCount(values: Values): number {
  if (values.count === undefined) return 1;
  if (values.interval === undefined) throw new UsageError("--count needs --interval");
  const c = String(values.count);
  if (!/^[1-9][0-9]{0,5}$/.test(c)) {
    throw new UsageError(`--count must be a positive number, not '${c}'`);
  }
  return Number(c);
}
