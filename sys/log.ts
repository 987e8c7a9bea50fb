// Logging on the OpenSIPS level scale (-3 alert .. 4 debug, default 3) to
// stderr. Under systemd (JOURNAL_STREAM set) each line carries the journald
// priority prefix `<N>` instead of a timestamp and level word.

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
    this.#journal = opts.journal ?? Deno.env.get("JOURNAL_STREAM") !== undefined;
    this.#sink = opts.sink ?? stderrSink;
  }

  setSink(sink: LogSink): void {
    this.#sink = sink;
  }

  /** Writes one record if `level` passes `threshold` (the caller's effective level). */
  write(level: number, threshold: number, tag: string, msg: string): void {
    if (level > threshold) return;
    const text = tag ? `${tag}: ${msg}` : msg;
    if (this.#journal) {
      // journald takes one record per line: prefix every line.
      const p = `<${journalPriority(level)}>`;
      this.#sink(p + text.replaceAll("\n", "\n" + p));
    } else {
      this.#sink(`${new Date().toISOString()} ${NAMES[level] ?? level} ${text}`);
    }
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
