// Every configuration key of sipmi with its embedded default: `sipmi serve`
// runs the full daemon without a file. Defaults never collide with a SIP
// router on the same host and listen on loopback only (docs/architecture.md,
// "Defaults").

import { namePatternProblem } from "../sys/pattern.ts";
import { bool, custom, type Infer, int, list, obj, str } from "./spec.ts";

const MODE = /^0?[0-7]{3}$/;
const checkMode = (v: string) =>
  MODE.test(v) ? undefined : `must be an octal file mode such as "0660", not "${v}"`;
const checkAbsolute = (v: string) =>
  v.startsWith("/") ? undefined : `must be an absolute path, not "${v}"`;
const checkOptionalAbsolute = (v: string) => v === "" ? undefined : checkAbsolute(v);
const checkRoot = (v: string) =>
  /^[A-Za-z0-9_]+$/.test(v)
    ? undefined
    : `must be letters, digits or '_' (a URL path segment), not "${v}"`;
const checkPath = (v: string) => v.startsWith("/") ? undefined : `must start with '/', not "${v}"`;

/** `HOST:PORT`, `[IPv6]:PORT`; the parsed form of a TCP or UDP address. */
export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(s: string): HostPort | undefined {
  const m = /^\[([0-9A-Fa-f:.]+)\]:([0-9]{1,5})$/.exec(s) ?? /^([^:\s]+):([0-9]{1,5})$/.exec(s) ??
    // Bare IPv6 like OpenSIPS's `udp:::1:8080`: split at the last colon.
    /^([0-9A-Fa-f:]*:[0-9A-Fa-f:]*):([0-9]{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1], port };
}

/** A datagram listen address: `udp:HOST:PORT` or `unix:/path`. */
export type DatagramAddress = { kind: "udp"; host: string; port: number } | {
  kind: "unix";
  path: string;
};

export function parseDatagramAddress(s: string): DatagramAddress | undefined {
  if (s.startsWith("udp:")) {
    const hp = parseHostPort(s.slice(4));
    return hp && { kind: "udp", ...hp };
  }
  const path = s.startsWith("unix:") ? s.slice(5) : s;
  // sun_path holds 108 bytes including the NUL.
  if (path.startsWith("/") && new TextEncoder().encode(path).length < 108) {
    return { kind: "unix", path };
  }
  return undefined;
}

/** Where an MI server listens, as a client names it (`sipmi mi`, `tune --via`, `upstream[].via`). */
export type MiAddress =
  | { kind: "fifo"; path: string }
  | { kind: "udp"; host: string; port: number }
  | { kind: "unix"; path: string }
  | { kind: "http"; url: string };

export const MI_ADDRESS_FORMS = "fifo:PATH, udp:HOST:PORT, unix:PATH or http://HOST:PORT/PATH";

/** Parses `fifo:PATH`, `udp:HOST:PORT`, `unix:PATH`, `http://URL` (also `http:URL`). */
export function parseMiAddress(spec: string): { address: MiAddress } | { error: string } {
  if (spec.startsWith("fifo:")) {
    const path = spec.slice(5);
    if (!path.startsWith("/")) return { error: `a FIFO must be an absolute path, not '${path}'` };
    return { address: { kind: "fifo", path } };
  }
  if (spec.startsWith("udp:")) {
    const hp = parseHostPort(spec.slice(4));
    if (!hp) return { error: `UDP wants HOST:PORT or [IPv6]:PORT, not '${spec.slice(4)}'` };
    return { address: { kind: "udp", ...hp } };
  }
  if (spec.startsWith("unix:")) {
    const a = parseDatagramAddress(spec);
    if (!a || a.kind !== "unix") {
      return { error: `a unix socket must be an absolute path, not '${spec.slice(5)}'` };
    }
    return { address: a };
  }
  if (/^https?:/.test(spec)) {
    const text = /^https?:\/\//.test(spec) ? spec : spec.replace(/^http:/, "");
    try {
      return { address: { kind: "http", url: new URL(text).href } };
    } catch {
      return { error: `wants a URL such as http://127.0.0.1:8899/mi, not '${spec}'` };
    }
  }
  return { error: `an MI address must be ${MI_ADDRESS_FORMS}, not '${spec}'` };
}

/** A command name, `*` standing for any run of characters (sys/pattern.ts matches them). */
const commandName = () => str("", namePatternProblem, "a command name or a name pattern with '*'");

/** Which I/O a datagram or FIFO listener uses (docs/architecture.md, "Two I/O paths"). */
const ioPath = () =>
  str(
    "ffi",
    (v) => v === "ffi" || v === "deno" ? undefined : `must be "ffi" or "deno", not "${v}"`,
  );

const policySpec = obj({
  /** Only these commands (names, or prefixes ending in `*`); empty = all. */
  allow: list(commandName(), []),
  /** Never these commands. */
  deny: list(commandName(), []),
  /** Refuse every command that changes state. */
  read_only: bool(false),
});
export type PolicyConfig = Infer<typeof policySpec>;

export interface ListenEntry {
  address: string;
  /** A per-listener policy replacing the transport's. */
  commands?: PolicyConfig;
}

function parsePolicy(v: unknown): PolicyConfig | string {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return "commands must be an object";
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!["allow", "deny", "read_only"].includes(k)) return `unknown key commands.${k}`;
  }
  const strs = (x: unknown) =>
    x === undefined || (Array.isArray(x) && x.every((s) => typeof s === "string"));
  if (!strs(o.allow) || !strs(o.deny)) {
    return "commands.allow and commands.deny must be arrays of strings";
  }
  for (const key of ["allow", "deny"] as const) {
    for (const entry of (o[key] as string[] | undefined) ?? []) {
      const problem = namePatternProblem(entry);
      if (problem !== undefined) return `commands.${key}: ${problem}`;
    }
  }
  if (o.read_only !== undefined && typeof o.read_only !== "boolean") {
    return "commands.read_only must be true or false";
  }
  return {
    allow: (o.allow as string[]) ?? [],
    deny: (o.deny as string[]) ?? [],
    read_only: (o.read_only as boolean) ?? false,
  };
}

const datagramListen = custom<ListenEntry>(
  { address: "" },
  'a string "udp:HOST:PORT" or "unix:/path", or {"address": ..., "commands": {...}}',
  (v) => {
    let address: unknown = v, commands: PolicyConfig | undefined;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        if (k !== "address" && k !== "commands") return { error: `unknown key '${k}'` };
      }
      address = o.address;
      if (o.commands !== undefined) {
        const p = parsePolicy(o.commands);
        if (typeof p === "string") return { error: p };
        commands = p;
      }
    }
    if (typeof address !== "string" || !parseDatagramAddress(address)) {
      return { error: `bad datagram address ${JSON.stringify(address)}` };
    }
    return { value: commands ? { address, commands } : { address } };
  },
);

/**
 * Names or patterns of MI commands: letters, digits and `_ . : -`, with `*`
 * standing for any run of characters; `@default` in an upstream's
 * `mutating` list stands for the built-in list of its kind.
 */
const checkCommandPattern = (v: string) => v === "@default" ? undefined : namePatternProblem(v);
const checkUpstreamName = (v: string) =>
  /^[A-Za-z0-9_-]{1,32}$/.test(v)
    ? undefined
    : `must be 1 to 32 letters, digits, '_' or '-' (it names statistics), not "${v}"`;
const checkPrefix = (v: string) =>
  v === "" || /^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(v)
    ? undefined
    : `must be empty or a letter then up to 31 letters, digits, '_' or '-', not "${v}"`;

/**
 * One MI server of the SIP router that sipmi relays to (docs/upstream.md):
 * the commands sipmi does not own are learned from it and relayed, under
 * sipmi's policies, limits, statistics and audit.
 */
export const upstreamSpec = obj({
  /** Names the upstream in errors, logs, statistics (`upstream:NAME_requests`) and `help`. */
  name: str("", checkUpstreamName),
  /** fifo:PATH, udp:HOST:PORT, unix:PATH or http://HOST:PORT/PATH. */
  via: str("", (v) => {
    const a = parseMiAddress(v);
    return "error" in a ? a.error : undefined;
  }, MI_ADDRESS_FORMS),
  /** "opensips" (OpenSIPS 3.x MI, and sipmi) or "kamailio" (jsonrpcs). */
  kind: str(
    "opensips",
    (v) =>
      v === "opensips" || v === "kamailio"
        ? undefined
        : `must be "opensips" or "kamailio", not "${v}"`,
  ),
  /** When set, the upstream's commands are `PREFIX.command`. */
  prefix: str("", checkPrefix),
  /** A relayed call (and a fetch of the command list) that takes longer fails. */
  timeout_ms: int(2000, 1, 60000),
  /** Relayed calls waiting for this upstream at once; more are refused at once. */
  max_in_flight: int(64, 1, 10000),
  /** Which of the upstream's commands (its own names) are relayed. */
  commands: obj({
    allow: list(str("", checkCommandPattern), []),
    deny: list(str("", checkCommandPattern), []),
    /** Relay none of the commands that change state. */
    read_only: bool(false),
  }),
  /** Commands (the upstream's names, or patterns) that change state; `@default`: the kind's list. */
  mutating: list(str("", checkCommandPattern), ["@default"]),
  /**
   * FIFO only: the private directory (mode 0700, created by sipmi) where the
   * router writes its replies: set the router's reply dir to it. Empty:
   * /tmp/sipmi_relay_NAME/.
   */
  reply_dir: str("", checkOptionalAbsolute, "an absolute directory"),
});
export type UpstreamConfig = Infer<typeof upstreamSpec>;

/** One MI call: the `startup` list and `sipmi run` files. */
export const callSpec = custom<{ method: string; params?: unknown[] | Record<string, unknown> }>(
  { method: "" },
  '{"method": "name", "params": [...] or {...}}',
  (v) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      return { error: "must be an object" };
    }
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (k !== "method" && k !== "params") return { error: `unknown key '${k}'` };
    }
    if (typeof o.method !== "string" || o.method === "") {
      return { error: "method must be a non-empty string" };
    }
    if (o.params !== undefined && (o.params === null || typeof o.params !== "object")) {
      return { error: "params must be an array or an object" };
    }
    return {
      value: {
        method: o.method,
        params: o.params as unknown[] | Record<string, unknown> | undefined,
      },
    };
  },
);

export const configSpec = obj({
  /** OpenSIPS scale: -3 alert, -2 critical, -1 error, 1 warning, 2 notice, 3 info, 4 debug. */
  log_level: int(3, -3, 4),
  mi: obj({
    max_request_bytes: int(1024 * 1024, 64, 64 * 1024 * 1024),
    max_depth: int(64, 1, 10000),
    max_batch: int(256, 1, 100000),
    max_concurrent: int(256, 1, 100000),
    /**
     * Batches running at once; more wait for a slot (and are dropped there
     * if their client leaves). Bounds the memory of the replies they build.
     */
    max_running_batches: int(16, 1, 10000),
    /**
     * After answering a datagram or FIFO request, keep checking for the next
     * one this long before sleeping: a client's next request is then served
     * without a thread wake-up (about 3x the single-client rate). Bounded per
     * burst; 0 turns it off where every CPU cycle belongs to the SIP router.
     */
    busy_poll_us: int(50, 0, 1000),
  }),
  fifo: obj({
    enabled: bool(true),
    /** Start the daemon even when this listener cannot start. */
    optional: bool(false),
    path: str("/tmp/sipmi_fifo", checkAbsolute, "an absolute path"),
    mode: str("0660", checkMode),
    user: str(""),
    group: str(""),
    reply_dir: str("/tmp/", checkAbsolute, "an absolute directory"),
    reply_timeout_ms: int(2000, 1, 60000),
    /**
     * A request left unfinished (`:reply:` and nothing, JSON cut short) is
     * answered -32700 once no byte has arrived for this long.
     */
    partial_timeout_ms: int(300, 10, 60000),
    /**
     * Most requests waiting for their client to open its reply FIFO; when
     * full, the one that waited longest is given up for the new one.
     */
    max_pending: int(1024, 1, 100000),
    /** Most bytes of request text those waiting requests may hold. */
    max_pending_bytes: int(16 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
    /**
     * "ffi": descriptors owned through libc, served in bursts (the fastest);
     * "deno": Deno's own file handles, no raw pointers. Without FFI at start,
     * the daemon uses "deno" and says so.
     */
    io: ioPath(),
    commands: policySpec,
  }),
  datagram: obj({
    enabled: bool(true),
    optional: bool(false),
    listen: list(datagramListen, [{ address: "udp:127.0.0.1:8898" }, {
      address: "unix:/tmp/sipmi.sock",
    }]),
    /** Mode, owner and group of unix socket files. */
    mode: str("0660", checkMode),
    user: str(""),
    group: str(""),
    /**
     * "ffi": sockets owned through libc, served in bursts (the fastest);
     * "deno": Deno.listenDatagram, no raw pointers. Without FFI at start,
     * the daemon uses "deno" and says so.
     */
    io: ioPath(),
    commands: policySpec,
  }),
  http: obj({
    enabled: bool(true),
    optional: bool(false),
    listen: str(
      "127.0.0.1:8899",
      (v) => parseHostPort(v) ? undefined : `must be "HOST:PORT", not "${v}"`,
    ),
    mi_root: str("mi", checkRoot),
    html_root: str("html", checkRoot),
    xmlrpc_root: str("RPC2", checkRoot),
    metrics_path: str("/metrics", checkPath),
    body_limit: int(1024 * 1024, 256, 64 * 1024 * 1024),
    /**
     * Most connections at once; above it the ones doing least are closed
     * (never answered first, then the longest idle). Lowered at start to
     * fit the open-file limit.
     */
    max_connections: int(256, 1, 100000),
    /** A request's headers must be complete within this long, or the connection is closed. */
    header_timeout_ms: int(10000, 100, 600000),
    /** A request's body must be complete within this long after its headers, or the connection is closed. */
    body_timeout_ms: int(30000, 100, 600000),
    /** A connection with nothing sent or received for this long is closed. */
    idle_timeout_ms: int(60000, 100, 3600000),
    auth: obj({
      /** Bearer token; required when `listen` is not a loopback address. */
      token: str(""),
      /** Read the token from this file instead (first line). */
      token_file: str("", checkOptionalAbsolute, "an absolute path"),
    }),
    commands: policySpec,
  }),
  tuning: obj({
    /** Root of /proc, /sys and /etc: "/" on a host, a fixture tree in tests. */
    root: str("/", checkAbsolute, "an absolute directory"),
    /**
     * Snapshots, the apply journal and the lock (a host path: under a
     * fixture root it is inside the fixture).
     */
    state_dir: str("/var/lib/sipmi", checkAbsolute, "an absolute directory"),
    /** The profile tune_plan/apply/verify use when none is given; empty = none. */
    profile: str("", checkOptionalAbsolute, "an absolute path"),
    /** Seconds between re-verifications of the applied profile by the daemon; 0 = never. */
    verify_interval_s: int(60, 0, 86400),
    /** Re-apply the profile when a verification finds drift (otherwise drift is logged and counted). */
    enforce: bool(false),
    sip: obj({
      /** systemd units of the SIP router, for finding its processes. */
      units: list(str(""), ["opensips.service", "kamailio.service"]),
      /** Process names (comm) of the SIP router, when no unit is found. */
      process_names: list(str(""), ["opensips", "kamailio"]),
      /** The SIP-facing NIC; empty = the one carrying the default route. */
      nic: str(""),
      /** SIP UDP ports whose per-socket drops are watched. */
      ports: list(int(5060, 1, 65535), [5060]),
    }),
  }),
  /**
   * The SIP router's own MI servers: commands sipmi does not own are relayed
   * to them (docs/upstream.md). Empty: no relay.
   */
  upstream: list(upstreamSpec, []),
  stats: obj({
    /**
     * Host statistics groups (softnet:, softirq:, udp:, udp6:, irq:, nic:)
     * are served from a sample up to this old, read again in the tuning
     * worker when older; each group's `sample_age_ms` says how old. 0 reads
     * them live for every request. In-memory groups are always live.
     */
    host_max_age_ms: int(1000, 0, 3_600_000),
  }),
  service: obj({
    /** How long SIGTERM waits for in-flight requests before exiting. */
    shutdown_timeout_ms: int(5000, 0, 600000),
  }),
  /**
   * MI calls run once all listeners are up and before systemd hears READY=1,
   * like OpenSIPS's startup route: the boot profile (IRQ affinity does not
   * survive a reboot). Each result is logged.
   */
  startup: list(callSpec, []),
  /**
   * When a startup call fails: "continue" keeps the management plane up and
   * shows the failure in `systemctl status` and `sipmi service status`;
   * "exit" stops the daemon with exit status 1.
   */
  startup_failure: str(
    "continue",
    (v) =>
      v === "continue" || v === "exit" ? undefined : `must be "continue" or "exit", not "${v}"`,
  ),
});

export type Config = Infer<typeof configSpec>;

/** 127.0.0.0/8, ::1 and `localhost`: the addresses that need no authentication. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
