// Logging on the OpenSIPS level scale (-3 alert .. 4 debug, default 3) to
// stderr, one record per line: control characters in a message (a stack
// trace's newlines, a client's bytes) are escaped, so no record can forge
// another. When stderr is the journal (JOURNAL_STREAM names it) each line
// carries the journald priority prefix `<N>` instead of a timestamp and a
// level word. Audit records bypass the level: they are always written.

export const L_ALERT = -3;
export const L_CRIT = -2;
export const L_ERR = -1;
export const L_WARN = 1;
export const L_NOTICE = 2;
export const L_INFO = 3;
export const L_DBG = 4;

export const MIN_LEVEL = L_ALERT;
export const MAX_LEVEL = L_DBG;

const NAMES: Record<number, string> = {
  [-3]: "ALERT",
  [-2]: "CRITICAL",
  [-1]: "ERROR",
  0: "ERROR",
  1: "WARNING",
  2: "NOTICE",
  3: "INFO",
  4: "DEBUG",
};

/** journald/syslog priority for an OpenSIPS level. */
export function journalPriority(level: number): number {
  if (level <= L_ALERT) return 1;
  if (level >= L_DBG) return 7;
  return [1, 2, 3, 3, 4, 5, 6][level + 3];
}

/** The message of an unknown thrown value: what a log line or an error reply says of it. */
export function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** `<N>` of an audit record: notice, like sudo's and auditd's summaries. */
const AUDIT_PRIORITY = 5;

/** Escapes control characters (tab excepted) so one record stays one line. */
export function oneLine(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
}

/**
 * Whether stderr is the journal. systemd sets JOURNAL_STREAM to the
 * `DEVICE:INODE` of the stream it connected; a child whose stderr was
 * redirected inherits the variable but not the stream, so both must match.
 * When stderr cannot be inspected, the variable alone decides.
 */
export function stderrIsJournal(env = Deno.env.get("JOURNAL_STREAM")): boolean {
  if (env === undefined || env === "") return false;
  const m = /^(\d+):(\d+)$/.exec(env);
  if (!m) return false;
  let st: Deno.FileInfo;
  try {
    // fd 2's target; the logger lives in sys/, the one place allowed to read /proc.
    st = Deno.statSync("/proc/self/fd/2");
  } catch {
    return true;
  }
  if (st.dev === null || st.ino === null) return true;
  return String(st.dev) === m[1] && String(st.ino) === m[2];
}

/** `key=value` with the value quoted as JSON when it has spaces, quotes or control characters. */
function field(key: string, value: string): string {
  return /^[\x21\x23-\x7e]+$/.test(value) ? `${key}=${value}` : `${key}=${JSON.stringify(value)}`;
}

export type LogSink = (line: string) => void;

const encoder = new TextEncoder();
const stderrSink: LogSink = (line) => {
  try {
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  } catch {
    // stderr closed: nothing sensible left to do with a log line.
  }
};

/** The root logger: holds the global level; tasks derive their own loggers. */
export class Log {
  level: number;
  readonly #journal: boolean;
  #sink: LogSink;

  constructor(level = L_INFO, opts: { journal?: boolean; sink?: LogSink } = {}) {
    this.level = level;
    this.#journal = opts.journal ?? stderrIsJournal();
    this.#sink = opts.sink ?? stderrSink;
  }

  setSink(sink: LogSink): void {
    this.#sink = sink;
  }

  /** Writes one record if `level` passes `threshold` (the caller's effective level). */
  write(level: number, threshold: number, tag: string, msg: string): void {
    if (level > threshold) return;
    const text = oneLine(tag ? `${tag}: ${msg}` : msg);
    if (this.#journal) this.#sink(`<${journalPriority(level)}>${text}`);
    else this.#sink(`${new Date().toISOString()} ${NAMES[level] ?? level} ${text}`);
  }

  /**
   * One audit record, whatever the log level: `audit: k=v k=v ...` in the
   * order given; the last field may be long JSON (a command's params) and is
   * written unquoted.
   */
  audit(fields: readonly (readonly [string, string])[], json?: readonly [string, string]): void {
    const parts = fields.map(([k, v]) => field(k, v));
    if (json) parts.push(`${json[0]}=${json[1]}`);
    const text = oneLine(`audit: ${parts.join(" ")}`);
    if (this.#journal) this.#sink(`<${AUDIT_PRIORITY}>${text}`);
    else this.#sink(`${new Date().toISOString()} NOTICE ${text}`);
  }

  get journal(): boolean {
    return this.#journal;
  }

  logger(tag = ""): Logger {
    return new Logger(this, tag);
  }
}

/** A tagged logger; follows the global level unless given its own. */
export class Logger {
  readonly root: Log;
  readonly tag: string;
  /** Own level, or null to follow the global one. */
  own: number | null = null;

  constructor(root: Log, tag: string) {
    this.root = root;
    this.tag = tag;
  }

  get level(): number {
    return this.own ?? this.root.level;
  }

  enabled(level: number): boolean {
    return level <= this.level;
  }

  alert(msg: string): void {
    this.root.write(L_ALERT, this.level, this.tag, msg);
  }
  crit(msg: string): void {
    this.root.write(L_CRIT, this.level, this.tag, msg);
  }
  error(msg: string): void {
    this.root.write(L_ERR, this.level, this.tag, msg);
  }
  warn(msg: string): void {
    this.root.write(L_WARN, this.level, this.tag, msg);
  }
  notice(msg: string): void {
    this.root.write(L_NOTICE, this.level, this.tag, msg);
  }
  info(msg: string): void {
    this.root.write(L_INFO, this.level, this.tag, msg);
  }
  debug(msg: string): void {
    this.root.write(L_DBG, this.level, this.tag, msg);
  }
}
