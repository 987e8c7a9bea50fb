// The FIFO transport (OpenSIPS mi_fifo): one request FIFO that every client
// writes `:reply_name:{json}` into, and one reply FIFO per client that the
// server opens and writes the reply into (docs/protocol.md, "FIFO"). Framing
// is in fifo_framing.ts, reading in fifo_reader.ts, the hostile-name-proof
// reply FIFO handling in reply_fifo.ts; this file owns the request FIFO's
// life (create it with its mode and owner, recreate it when someone deletes
// it, remove it at stop) and the order of a request's steps: open the reply
// FIFO, run the command, write the reply.

import { closeSync, constants, lstatSync, openSync, unlinkSync } from "node:fs";
import type { Config } from "../config/schema.ts";
import type { ClientState, MaybePromise, Reply } from "../mi/core.ts";
import { InFlight } from "../mi/in_flight.ts";
import type { MiInstance } from "../mi/instance.ts";
import type { Counter } from "../mi/stats.ts";
import { errText } from "../sys/log.ts";
import type { FramerSink } from "./fifo_framing.ts";
import type { FifoIo, FileId, RequestReader } from "./fifo_io.ts";
import { fifoIo, type IoPath } from "./io_path.ts";
import { applyOwner, type FileOwner, resolveOwner } from "./file_owner.ts";
import {
  type Deadline,
  type EndpointSpec,
  ListenerBase,
  ListenerError,
  type Serving,
} from "./listener.ts";
import { fileKind } from "./os.ts";
import {
  badReplyName,
  type OpenResult,
  ReplyOpener,
  type WaitControl,
  writeReply,
} from "./reply_fifo.ts";

export type FifoConfig = Config["fifo"];

/** Runs a request once its client can be answered. */
type Run = (client?: ClientState) => MaybePromise<Reply>;

/** How often the request FIFO is checked (deleted or replaced → recreated). */
const CHECK_INTERVAL_MS = 1000;

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

function fileId(path: string): FileId | null {
  try {
    const st = lstatSync(path);
    return st.isFIFO() ? { dev: st.dev, ino: st.ino } : null;
  } catch {
    return null;
  }
}

/** What is at `path`: "a FIFO", "a regular file", ..., or "missing". */
function describe(path: string): string {
  try {
    return fileKind(lstatSync(path));
  } catch {
    return "missing";
  }
}

export class FifoListener extends ListenerBase {
  readonly #cfg: FifoConfig;
  readonly #replyDir: string;
  readonly #busyPollUs: number;
  #s: Serving | undefined;
  readonly #io: FifoIo;
  #reader: RequestReader | undefined;
  #owner: FileOwner | undefined;
  #watch: ReturnType<typeof setInterval> | undefined;
  #ctl: WaitControl = { cancelled: false };
  #opener: ReplyOpener | undefined;
  /** Requests waiting for their client, their command or their reply's write. */
  readonly #pending = new InFlight();
  /** Requests holding a client's reply FIFO open (running, or writing the reply). */
  #holding = 0;
  /** Readers of this listener's request FIFOs (current and draining): never a reply FIFO. */
  readonly #ownFifos = new Set<string>();
  /** Readers of FIFOs no longer at the path (deleted and recreated), served up to their marker. */
  readonly #draining = new InFlight();
  #problem = ""; // what the last check found wrong at the path, reported once
  readonly #refused: Counter;
  readonly #timeouts: Counter;
  readonly #evicted: Counter;
  readonly #garbage: Counter;
  readonly #recreated: Counter;

  constructor(
    mi: MiInstance,
    cfg: FifoConfig,
    busyPollUs = 0,
    io: FifoIo = fifoIo(cfg.io as IoPath),
  ) {
    super(mi, `fifo:${cfg.path}`, "MI FIFO", cfg.optional);
    this.#io = io;
    this.#busyPollUs = busyPollUs;
    this.#cfg = cfg;
    this.#replyDir = cfg.reply_dir.endsWith("/") ? cfg.reply_dir : cfg.reply_dir + "/";
    const st = mi.stats;
    this.#refused = st.counter("mi", "fifo_reply_refused");
    this.#timeouts = st.counter("mi", "fifo_reply_timeouts");
    this.#evicted = st.counter("mi", "fifo_reply_evicted");
    this.#garbage = st.counter("mi", "fifo_garbage");
    this.#recreated = st.counter("mi", "fifo_recreated");
  }

  protected endpointSpec(): EndpointSpec {
    return { transport: "fifo", policy: this.#cfg.commands };
  }

  protected open(s: Serving): string {
    const cfg = this.#cfg;
    try {
      this.#owner = resolveOwner(cfg.mode, cfg.user, cfg.group);
    } catch (e) {
      throw new ListenerError(this.name, errText(e));
    }
    try {
      if (!Deno.statSync(this.#replyDir).isDirectory) {
        throw new Error(`fifo.reply_dir ${this.#replyDir} is not a directory`);
      }
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound
        ? `fifo.reply_dir ${this.#replyDir} does not exist`
        : errText(e);
      throw new ListenerError(this.name, why);
    }
    this.#prepare();
    this.#s = s;
    try {
      this.#reader = this.#open(s);
    } catch (e) {
      this.#s = undefined;
      throw e;
    }
    this.#ctl = { cancelled: false };
    this.#opener = new ReplyOpener({
      io: this.#io.reply,
      timeoutMs: cfg.reply_timeout_ms,
      maxWaiting: cfg.max_pending,
      maxBytes: cfg.max_pending_bytes,
      isRequestFifo: (id) => this.#ownFifos.has(`${id.dev}:${id.ino}`),
    });
    const watch = setInterval(() => this.#check(), CHECK_INTERVAL_MS);
    Deno.unrefTimer(watch);
    this.#watch = watch;
    return `FIFO ${cfg.path} (replies in ${this.#replyDir})`;
  }

  protected async close(d: Deadline, _s: Serving): Promise<void> {
    clearInterval(this.#watch);
    const reader = this.#reader;
    this.#reader = undefined;
    // Nobody new can open the FIFO once its name is gone; what clients wrote
    // already is read up to the marker and answered.
    if (reader) {
      this.#unlinkIfOurs(reader.id);
      this.#draining.track(reader.stop(d.left));
    }
    await this.#draining.idle(d.left);
    await this.#pending.idle(d.left);
    // Waits still open give up now; writes on their next timer (within 20 ms).
    this.#ctl.cancelled = true;
    this.#opener?.cancelAll("the listener stopped");
    await this.#pending.idle(100);
    this.#s = undefined;
    this.#opener = undefined;
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
  #open(s: Serving): RequestReader {
    const path = this.#cfg.path;
    try {
      this.#io.mkfifo(path);
    } catch (e) {
      throw new ListenerError(this.name, `cannot create ${path}: ${errText(e)}`);
    }
    try {
      applyOwner(path, this.#owner!);
      const id = fileId(path);
      if (!id) throw new Error(`${path} vanished while being created`);
      const key = `${id.dev}:${id.ino}`;
      this.#ownFifos.add(key);
      const reader = this.#io.reader({
        path,
        id,
        sink: this.#sink(s),
        opts: {
          maxRequestBytes: s.ep.maxRequestBytes,
          busyPollUs: this.#busyPollUs,
          partialTimeoutMs: this.#cfg.partial_timeout_ms,
        },
        onError: (e) => s.warn.error("request", `FIFO request failed: ${errText(e)}`),
      });
      reader.done.finally(() => this.#ownFifos.delete(key));
      return reader;
    } catch (e) {
      try {
        unlinkSync(path);
      } catch {
        // Already gone.
      }
      throw new ListenerError(this.name, `cannot set up ${path}: ${errText(e)}`);
    }
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
    const reader = this.#reader, s = this.#s;
    if (!reader || !s) return;
    const log = s.task.log;
    const path = this.#cfg.path;
    const now = fileId(path);
    if (
      reader.failure !== undefined && now && now.dev === reader.id.dev && now.ino === reader.id.ino
    ) {
      // Reading stopped on its own: start over with a new FIFO.
      log.error(`reading ${path} failed (${reader.failure}); creating it again`);
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
      if (problem !== this.#problem) log.error(problem);
      this.#problem = problem;
      return;
    }
    try {
      this.#reader = this.#open(s);
    } catch (e) {
      const problem = `cannot recreate the deleted FIFO: ${errText(e)}`;
      if (problem !== this.#problem) log.error(problem);
      this.#problem = problem;
      return;
    }
    this.#problem = "";
    this.#recreated.inc();
    log.warn(`${path} was deleted; created it again`);
    // Anyone who still has the old FIFO open is served until the marker.
    this.#draining.track(reader.stop(this.#cfg.reply_timeout_ms));
  }

  // ------------------------------------------------------------ requests

  #sink(s: Serving): FramerSink {
    const ep = s.ep;
    return {
      request: (name, text) =>
        this.#serve(
          s,
          name,
          (client) => ep.handle(text, name === "" ? undefined : () => name, client),
          text.length,
        ),
      parseError: (name) => this.#serve(s, name, () => ep.parseError(), 0),
      oversize: (name, size) => this.#serve(s, name, () => ep.oversize(size), 0),
      garbage: () => {
        this.#garbage.inc();
        s.warn.warn("garbage", "ignored text on the FIFO that is not a ':name:{json}' request");
      },
      stop: () => {},
    };
  }

  /**
   * Opens the reply FIFO first, then runs the request and writes its reply:
   * a command never runs when nobody can hear its answer. `::` requests
   * want no reply and run at once.
   */
  #serve(s: Serving, name: string, run: Run, size: number): void {
    if (name === "") {
      const r = run();
      if (r instanceof Promise) this.#track(s, r);
      return;
    }
    const bad = badReplyName(name);
    if (bad !== undefined) return this.#drop(s, "name", bad);
    const max = this.#cfg.max_pending;
    if (this.#holding >= max) {
      // Clients that opened their FIFO and do not read: each holds a descriptor.
      return this.#drop(s, "busy", `more than ${max} replies wait to be read (fifo.max_pending)`);
    }
    const path = this.#replyDir + name;
    const opened = this.#opener!.open(path, size);
    if (opened instanceof Promise) this.#track(s, opened.then((o) => this.#answer(s, o, run)));
    else this.#answer(s, opened, run);
  }

  #answer(s: Serving, o: OpenResult, run: Run): void {
    if ("refused" in o) return this.#drop(s, "refused", `reply FIFO refused: ${o.refused}`);
    if ("timeout" in o) {
      if (o.timeout.startsWith("given up")) this.#evicted.inc();
      else this.#timeouts.inc();
      s.ep.report("dropped");
      s.warn.warn("timeout", `request not run: ${o.timeout}`);
      return;
    }
    const fd = o.fd;
    this.#holding++;
    // A batch stops when the client closes its end of the reply FIFO.
    const reply = this.#io.reply;
    const client: ClientState = {
      get gone() {
        return reply.peerGone(fd);
      },
    };
    let r: MaybePromise<Reply>;
    try {
      r = run(client);
    } catch (e) {
      // The core answers every request; this is a bug, but the FIFO must not stay open.
      s.warn.error("bug", `request failed: ${errText(e)}`);
      r = null;
    }
    if (r instanceof Promise) {
      this.#track(s, r.then((v) => this.#write(s, fd, v), () => this.#write(s, fd, null)));
    } else this.#write(s, fd, r);
  }

  #write(s: Serving, fd: number, reply: Reply): void {
    const bytes = reply === null ? EMPTY : encoder.encode(reply);
    const w = writeReply(this.#io.reply, fd, bytes, this.#cfg.reply_timeout_ms, this.#ctl);
    if (w instanceof Promise) {
      this.#track(s, w.then((err) => this.#wrote(s, reply, err)));
    } else this.#wrote(s, reply, w);
  }

  #wrote(s: Serving, reply: Reply, err: string | undefined): void {
    this.#holding--;
    if (err === undefined) return;
    if (reply !== null) s.ep.report("undelivered", reply);
    s.warn.warn("write", `reply not delivered: ${err}`);
  }

  /** A request refused before it ran, with nobody to answer. */
  #drop(s: Serving, kind: string, why: string): void {
    this.#refused.inc();
    s.ep.report("dropped");
    s.warn.warn(kind, `request not run: ${why}`);
  }

  #track(s: Serving, p: Promise<unknown>): void {
    this.#pending.track(
      p.catch((e) => s.warn.error("request", `FIFO request failed: ${errText(e)}`)),
    );
  }
}
