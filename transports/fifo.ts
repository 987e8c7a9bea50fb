// The FIFO transport (OpenSIPS mi_fifo): one request FIFO that every client
// writes `:reply_name:{json}` into, and one reply FIFO per client that the
// server opens and writes the reply into. Framing is in fifo_framing.ts,
// the hostile-name-proof reply FIFO handling in reply_fifo.ts; this file
// owns the request FIFO's life: create it (mode, owner), read it, recreate
// it when someone deletes it, remove it at stop.
//
// The request FIFO is opened read+write so the reader never sees EOF when
// clients close (DENO-NOTES §4); reads block in a worker thread, not the
// event loop. A second, write-only descriptor lets the listener stop its own
// reader with a marker that arrives after every request already written.

import { closeSync, constants, lstatSync, openSync, unlinkSync, writeSync } from "node:fs";
import type { Config } from "../config/schema.ts";
import type { Endpoint, MaybePromise, Reply } from "../mi/core.ts";
import type { MiInstance } from "../mi/instance.ts";
import type { Task } from "../mi/tasks.ts";
import type { Counter } from "../mi/stats.ts";
import { closeFd, mkfifo, openFifoReadWrite, pollReadable, pollSet, readNow } from "../sys/libc.ts";
import { FifoFramer, type FramerSink } from "./fifo_framing.ts";
import { applyOwner, type FileOwner, resolveOwner } from "./file_owner.ts";
import { type Listener, ListenerError, toPolicy, WarnThrottle, within } from "./listener.ts";
import { errText } from "../sys/log.ts";
import {
  badReplyName,
  openReplyFifo,
  type OpenResult,
  type WaitControl,
  writeReply,
} from "./reply_fifo.ts";

export type FifoConfig = Config["fifo"];

/** How often the request FIFO is checked (deleted or replaced → recreated). */
const CHECK_INTERVAL_MS = 1000;
/** Requests waiting for their client or their command at once; more are refused. */
const MAX_PENDING = 1024;
const READ_BUFFER = 64 * 1024;
/** Continuous reading before the loop yields to the event loop (datagrams and HTTP wait meanwhile). */
const MAX_BURST_MS = 2;
/** The longest a readiness wait lasts before the loop checks whether it was closed. */
const POLL_TIMEOUT_MS = 500;

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

interface FileId {
  dev: number;
  ino: number;
}

function fileId(path: string): FileId | null {
  try {
    const st = lstatSync(path);
    return st.isFIFO() ? { dev: st.dev, ino: st.ino } : null;
  } catch {
    return null;
  }
}

function describe(path: string): string {
  try {
    const st = lstatSync(path);
    if (st.isFIFO()) return "a FIFO";
    if (st.isSymbolicLink()) return "a symbolic link";
    if (st.isFile()) return "a regular file";
    if (st.isDirectory()) return "a directory";
    if (st.isSocket()) return "a socket";
    return "a special file";
  } catch {
    return "missing";
  }
}

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** One open request FIFO and the loop reading it. */
class FifoReader {
  readonly id: FileId;
  readonly done: Promise<void>;
  readonly #fd: number;
  readonly #ctl: number;
  readonly #marker: Uint8Array;
  #closed = false;
  #stopping = false;
  /** Why the loop ended without being asked to: the listener reopens the FIFO. */
  failure: string | undefined;

  constructor(
    path: string,
    id: FileId,
    sink: FramerSink,
    opts: { maxRequestBytes: number; busyPollUs: number },
    onError: (e: unknown) => void,
  ) {
    this.id = id;
    this.#fd = openFifoReadWrite(path);
    try {
      // Succeeds at once: we are a reader of this FIFO now.
      this.#ctl = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (e) {
      closeFd(this.#fd);
      throw e;
    }
    this.#marker = encoder.encode("\0" + randomHex(16) + "\n");
    const framer = new FifoFramer(sink, {
      maxRequestBytes: opts.maxRequestBytes,
      marker: this.#marker,
    });
    this.done = this.#loop(framer, opts.busyPollUs / 1000, onError);
  }

  /**
   * Waits for input in a pool thread, then reads synchronously until the
   * FIFO stays empty for spinMs (the next request of a client that just got
   * its reply is read without another wake-up) or MAX_BURST_MS pass.
   */
  async #loop(framer: FifoFramer, spinMs: number, onError: (e: unknown) => void): Promise<void> {
    const buf = new Uint8Array(READ_BUFFER);
    const set = pollSet([this.#fd]);
    try {
      while (!framer.stopped && !this.#closed) {
        // A timeout, so a FIFO closed by a stop's deadline never strands the wait.
        if (await pollReadable(set, POLL_TIMEOUT_MS) <= 0 || this.#closed) continue;
        const start = performance.now();
        let idleSince = -1;
        while (!framer.stopped && !this.#closed) {
          const n = readNow(this.#fd, buf);
          if (n < 0) {
            const t = performance.now();
            if (spinMs <= 0) break;
            if (idleSince < 0) idleSince = t;
            else if (t - idleSince >= spinMs || t - start >= MAX_BURST_MS) break;
            continue;
          }
          if (n === 0) {
            if (!this.#stopping) this.failure = "unexpected end of file";
            return;
          }
          idleSince = -1;
          try {
            // The framer copies what it keeps, so the buffer is reused.
            framer.push(buf.subarray(0, n));
          } catch (e) {
            // A bug in handling one request must not stop the FIFO.
            onError(e);
          }
          if (performance.now() - start >= MAX_BURST_MS) break;
        }
      }
    } catch (e) {
      // A read error.
      if (!this.#stopping) this.failure = errText(e);
    } finally {
      this.#close();
    }
  }

  /**
   * Asks the loop to stop after everything already in the pipe: writes the
   * marker (retrying while the pipe is full) and resolves when the loop ended
   * or the time is up, then closes the FIFO either way.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed) {
      try {
        writeSync(this.#ctl, this.#marker);
        break;
      } catch {
        // EAGAIN: the pipe is full of requests still to be read.
        if (Date.now() >= deadline) break;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    await within(this.done, deadline - Date.now());
    this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeFd(this.#fd);
    try {
      closeSync(this.#ctl);
    } catch {
      // Already closed.
    }
  }
}

export class FifoListener implements Listener {
  readonly name: string;
  readonly type = "MI FIFO";
  readonly optional: boolean;
  readonly #mi: MiInstance;
  readonly #cfg: FifoConfig;
  readonly #replyDir: string;
  #task: Task | undefined;
  #ep: Endpoint | undefined;
  #reader: FifoReader | undefined;
  #owner: FileOwner | undefined;
  #watch: ReturnType<typeof setInterval> | undefined;
  #warn: WarnThrottle | undefined;
  #ctl: WaitControl = { cancelled: false };
  readonly #pending = new Set<Promise<unknown>>();
  readonly #draining = new Set<Promise<void>>();
  #problem = ""; // what the last check found wrong at the path, reported once
  readonly #refused: Counter;
  readonly #timeouts: Counter;
  readonly #garbage: Counter;
  readonly #recreated: Counter;
  readonly #busyPollUs: number;

  constructor(mi: MiInstance, cfg: FifoConfig, busyPollUs = 0) {
    this.#busyPollUs = busyPollUs;
    this.#mi = mi;
    this.#cfg = cfg;
    this.name = `fifo:${cfg.path}`;
    this.optional = cfg.optional;
    this.#replyDir = cfg.reply_dir.endsWith("/") ? cfg.reply_dir : cfg.reply_dir + "/";
    const s = mi.stats;
    this.#refused = s.counter("mi", "fifo_reply_refused");
    this.#timeouts = s.counter("mi", "fifo_reply_timeouts");
    this.#garbage = s.counter("mi", "fifo_garbage");
    this.#recreated = s.counter("mi", "fifo_recreated");
  }

  start(): Promise<void> {
    if (this.#task) return Promise.resolve();
    const cfg = this.#cfg;
    try {
      this.#owner = resolveOwner(cfg.mode, cfg.user, cfg.group);
    } catch (e) {
      return Promise.reject(new ListenerError(this.name, errText(e)));
    }
    try {
      if (!Deno.statSync(this.#replyDir).isDirectory) {
        throw new Error(`fifo.reply_dir ${this.#replyDir} is not a directory`);
      }
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound
        ? `fifo.reply_dir ${this.#replyDir} does not exist`
        : errText(e);
      return Promise.reject(new ListenerError(this.name, why));
    }
    try {
      this.#prepare();
      this.#reader = this.#open();
    } catch (e) {
      return Promise.reject(
        e instanceof ListenerError ? e : new ListenerError(this.name, errText(e)),
      );
    }
    this.#ctl = { cancelled: false };
    this.#task = this.#mi.tasks.add(this.type);
    this.#warn = new WarnThrottle(this.#task.log);
    this.#ep = this.#mi.core.endpoint({
      transport: "fifo",
      listener: this.name,
      policy: toPolicy(cfg.commands),
      log: this.#task.log,
    });
    const watch = setInterval(() => this.#check(), CHECK_INTERVAL_MS);
    Deno.unrefTimer(watch);
    this.#watch = watch;
    this.#task.log.info(`listening on FIFO ${cfg.path} (replies in ${this.#replyDir})`);
    return Promise.resolve();
  }

  async stop(timeoutMs: number): Promise<void> {
    if (!this.#task) return;
    const deadline = Date.now() + timeoutMs;
    clearInterval(this.#watch);
    const reader = this.#reader;
    this.#reader = undefined;
    // Nobody new can open the FIFO once its name is gone; what clients wrote
    // already is read up to the marker and answered.
    if (reader) this.#unlinkIfOurs(reader.id);
    if (reader) this.#draining.add(reader.stop(timeoutMs));
    await within(Promise.all(this.#draining), deadline - Date.now());
    await within(Promise.all(this.#pending), deadline - Date.now());
    // Waits still open give up on their next timer (within 20 ms) and close their FIFOs.
    this.#ctl.cancelled = true;
    await within(Promise.all(this.#pending), 100);
    this.#draining.clear();
    this.#mi.tasks.remove(this.#task);
    this.#task.log.info(`stopped listening on FIFO ${this.#cfg.path}`);
    this.#task = undefined;
    this.#ep = undefined;
  }

  // ------------------------------------------------------------ the FIFO file

  /** Clears the way for a new FIFO: a stale one goes, anything else is an error. */
  #prepare(): void {
    const path = this.#cfg.path;
    const what = describe(path);
    if (what === "missing") return;
    if (what !== "a FIFO") {
      throw new ListenerError(this.name, `${path} exists and is ${what}; not replacing it`);
    }
    // A FIFO someone still reads belongs to a running daemon (sipmi or OpenSIPS).
    let fd: number | undefined;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (e) {
      if ((e as { code?: string }).code !== "ENXIO") {
        throw new ListenerError(this.name, `cannot check ${path}: ${errText(e)}`);
      }
    }
    if (fd !== undefined) {
      closeSync(fd);
      throw new ListenerError(this.name, `${path} is in use: another process reads it`);
    }
    unlinkSync(path);
  }

  /** Creates the FIFO with its mode and owner and starts reading it. */
  #open(): FifoReader {
    const path = this.#cfg.path;
    try {
      mkfifo(path, 0o600);
    } catch (e) {
      throw new ListenerError(this.name, `cannot create ${path}: ${errText(e)}`);
    }
    try {
      applyOwner(path, this.#owner!);
      const id = fileId(path);
      if (!id) throw new Error(`${path} vanished while being created`);
      return new FifoReader(
        path,
        id,
        this.#sink(),
        { maxRequestBytes: this.#max(), busyPollUs: this.#busyPollUs },
        (e) => this.#task?.log.error(`FIFO request failed: ${errText(e)}`),
      );
    } catch (e) {
      try {
        unlinkSync(path);
      } catch {
        // Already gone.
      }
      throw new ListenerError(this.name, `cannot set up ${path}: ${errText(e)}`);
    }
  }

  #max(): number {
    return this.#mi.core.limits.maxRequestBytes;
  }

  #unlinkIfOurs(id: FileId): void {
    const now = fileId(this.#cfg.path);
    if (now && now.dev === id.dev && now.ino === id.ino) {
      try {
        unlinkSync(this.#cfg.path);
      } catch {
        // Removed meanwhile.
      }
    }
  }

  /** Runs every second: recreates the FIFO when it was deleted; never replaces other files. */
  #check(): void {
    const reader = this.#reader;
    if (!reader || !this.#task) return;
    const path = this.#cfg.path;
    const now = fileId(path);
    if (
      reader.failure !== undefined && now && now.dev === reader.id.dev && now.ino === reader.id.ino
    ) {
      // Reading stopped on its own: start over with a new FIFO.
      this.#task.log.error(`reading ${path} failed (${reader.failure}); creating it again`);
      this.#unlinkIfOurs(reader.id);
      return this.#check();
    }
    if (now && now.dev === reader.id.dev && now.ino === reader.id.ino) {
      this.#problem = "";
      return;
    }
    const what = describe(path);
    if (what !== "missing") {
      const problem = `${path} is now ${what} that sipmi did not create; not replacing it`;
      if (problem !== this.#problem) this.#task.log.error(problem);
      this.#problem = problem;
      return;
    }
    try {
      this.#reader = this.#open();
    } catch (e) {
      const problem = `cannot recreate the deleted FIFO: ${errText(e)}`;
      if (problem !== this.#problem) this.#task.log.error(problem);
      this.#problem = problem;
      return;
    }
    this.#problem = "";
    this.#recreated.inc();
    this.#task.log.warn(`${path} was deleted; created it again`);
    // Anyone who still has the old FIFO open is served until the marker.
    const d = reader.stop(this.#cfg.reply_timeout_ms);
    this.#draining.add(d);
    d.finally(() => this.#draining.delete(d));
  }

  // ------------------------------------------------------------ requests

  #sink(): FramerSink {
    return {
      request: (name, text) => this.#serve(name, () => this.#ep!.handle(text)),
      // The core answers an empty text with the standard -32700 reply and counts it.
      parseError: (name) => this.#serve(name, () => this.#ep!.handle("")),
      oversize: (name, size) => this.#serve(name, () => this.#ep!.oversize(size)),
      garbage: () => {
        this.#garbage.inc();
        this.#warn?.warn(
          "garbage",
          "ignored text on the FIFO that is not a ':name:{json}' request",
        );
      },
      stop: () => {},
    };
  }

  /**
   * Opens the reply FIFO first, then runs the request and writes its reply:
   * a command never runs when nobody can hear its answer. `::` requests
   * want no reply and run at once.
   */
  #serve(name: string, run: () => MaybePromise<Reply>): void {
    const ep = this.#ep;
    if (!ep) return;
    if (name === "") {
      const r = run();
      if (r instanceof Promise) this.#track(r);
      return;
    }
    const bad = badReplyName(name);
    if (bad !== undefined) return this.#refuse("name", bad);
    if (this.#pending.size >= MAX_PENDING) {
      return this.#refuse("busy", `more than ${MAX_PENDING} requests wait for their clients`);
    }
    const path = this.#replyDir + name;
    const timeout = this.#cfg.reply_timeout_ms;
    const opened = openReplyFifo(path, timeout, this.#ctl);
    if (opened instanceof Promise) this.#track(opened.then((o) => this.#answer(o, run)));
    else this.#answer(opened, run);
  }

  #answer(o: OpenResult, run: () => MaybePromise<Reply>): void {
    if ("refused" in o) return this.#refuse("refused", `reply FIFO refused: ${o.refused}`);
    if ("timeout" in o) {
      this.#timeouts.inc();
      this.#ep?.requests.inc();
      this.#ep?.errors.inc();
      this.#warn?.warn("timeout", `request not run: ${o.timeout}`);
      return;
    }
    const fd = o.fd;
    let r: MaybePromise<Reply>;
    try {
      r = run();
    } catch (e) {
      // The core answers every request; this is a bug, but the FIFO must not stay open.
      this.#task?.log.error(`request failed: ${errText(e)}`);
      r = null;
    }
    if (r instanceof Promise) {
      this.#track(r.then((v) => this.#write(fd, v), () => this.#write(fd, null)));
    } else this.#write(fd, r);
  }

  #write(fd: number, reply: Reply): void {
    const bytes = reply === null ? EMPTY : encoder.encode(reply);
    const w = writeReply(fd, bytes, this.#cfg.reply_timeout_ms, this.#ctl);
    if (w instanceof Promise) this.#track(w.then((err) => this.#wrote(err)));
    else this.#wrote(w);
  }

  #wrote(err: string | undefined): void {
    if (err === undefined) return;
    this.#ep?.errors.inc();
    this.#warn?.warn("write", `reply not delivered: ${err}`);
  }

  #refuse(kind: string, why: string): void {
    this.#refused.inc();
    this.#ep?.requests.inc();
    this.#ep?.errors.inc();
    this.#warn?.warn(kind, `request not run: ${why}`);
  }

  #track(p: Promise<unknown>): void {
    const t = p.catch((e) => this.#task?.log.error(`FIFO request failed: ${errText(e)}`));
    this.#pending.add(t);
    t.finally(() => this.#pending.delete(t));
  }
}
