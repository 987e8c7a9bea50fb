// Every read and write of /proc, /sys and /etc goes through a HostFs rooted
// at `tuning.root` ("/" on a host, a fixture tree in tests), so the same code
// runs on the real host and on captured trees. Errors name the host path.
//
// Symlinks (/sys/class/net/IF -> ../../devices/...) are resolved inside the
// root: on a fixture tree an absolute or escaping link must never reach the
// real /sys. On "/" the kernel resolves them, which is the same thing.
//
// Writes come in two kinds (docs/tuning_changes.md): kernel files (/proc,
// /sys) are written in place with one write(2), because the kernel parses
// each write on its own and there is nothing to rename; ordinary files
// (/etc, sipmi's state directory) are replaced atomically, keeping their
// mode and owner. Every write error carries the errno name.

import { errnoName, SysError } from "./libc.ts";

export class HostFsError extends Error {
  /** The host path (as the kernel would name it, without the root). */
  readonly path: string;
  /** The Deno error name: NotFound, PermissionDenied, NotCapable, ... */
  readonly kind: string;
  /** The errno name (`EIO`, `EPERM`, `EINVAL`, ...), or null when the cause had none. */
  readonly errno: string | null;
  constructor(path: string, op: string, cause: unknown) {
    const kind = cause instanceof Error ? cause.name : "Error";
    let text = cause instanceof Error ? cause.message : String(cause);
    // Deno 2.9 wants --allow-all for any /proc or /sys access (docs/architecture.md,
    // "Deno facts relied on").
    if (kind === "NotCapable") text += " (sipmi needs --allow-all to read /proc and /sys)";
    super(`cannot ${op} ${path}: ${text}`);
    this.name = "HostFsError";
    this.path = path;
    this.kind = kind;
    this.errno = errnoOf(cause);
  }

  get notFound(): boolean {
    return this.kind === "NotFound" || this.errno === "ENOENT";
  }
}

/**
 * The errno name of a failed call: a SysError carries it; Deno's errors
 * end their message with `(os error N)`.
 */
export function errnoOf(cause: unknown): string | null {
  if (cause instanceof SysError) return cause.code;
  if (!(cause instanceof Error)) return null;
  const m = /\(os error ([0-9]+)\)/.exec(cause.message);
  if (m) return errnoName(Number(m[1]));
  const code = (cause as { code?: unknown }).code;
  if (typeof code === "string" && /^E[A-Z0-9]+$/.test(code)) return code;
  return cause instanceof Deno.errors.NotFound ? "ENOENT" : null;
}

export interface HostDirEntry {
  name: string;
  isFile: boolean;
  isDirectory: boolean;
  isSymlink: boolean;
}

export interface HostStat {
  isFile: boolean;
  isDirectory: boolean;
  isSymlink: boolean;
  /** Permission bits (0o777 part); null when the platform gives none. */
  mode: number | null;
  uid: number | null;
  gid: number | null;
}

/** Symlink hops allowed while resolving one path (the kernel's MAXSYMLINKS). */
const MAX_HOPS = 40;

export class HostFs {
  /** Absolute root directory, without a trailing slash ("" for "/"). */
  readonly root: string;

  constructor(root = "/") {
    if (!root.startsWith("/")) throw new Error(`HostFs root must be absolute, not '${root}'`);
    this.root = root.replace(/\/+$/, "");
  }

  /** Whether this is the host itself rather than a captured tree. */
  get isHost(): boolean {
    return this.root === "";
  }

  /** The real path of a host path under the root (symlinks not resolved). */
  real(path: string): string {
    if (!path.startsWith("/")) throw new Error(`HostFs paths are absolute, not '${path}'`);
    return this.root + path;
  }

  /**
   * The host path with every symlink resolved inside the root, like
   * `readlink -f` would on the host. A missing component ends resolution: the
   * rest is kept as written (lexically normalized), so the caller's read
   * fails with NotFound naming a sensible path.
   */
  async resolve(path: string): Promise<string> {
    this.real(path);
    if (this.isHost) {
      try {
        return await Deno.realPath(path);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return normalize(path);
        throw new HostFsError(path, "resolve", e);
      }
    }
    const todo = path.split("/").filter((p) => p !== "");
    const done: string[] = [];
    let hops = 0;
    while (todo.length > 0) {
      const part = todo.shift()!;
      if (part === ".") continue;
      if (part === "..") {
        done.pop();
        continue;
      }
      const here = "/" + [...done, part].join("/");
      let info: Deno.FileInfo;
      try {
        info = await Deno.lstat(this.root + here);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return normalize([here, ...todo].join("/"));
        throw new HostFsError(here, "resolve", e);
      }
      if (!info.isSymlink) {
        done.push(part);
        continue;
      }
      if (++hops > MAX_HOPS) {
        throw new HostFsError(path, "resolve", new Error("too many levels of symbolic links"));
      }
      const target = await Deno.readLink(this.root + here);
      // An absolute target restarts at the fake root, never at the real one.
      if (target.startsWith("/")) done.length = 0;
      todo.unshift(...target.split("/").filter((p) => p !== ""));
    }
    return "/" + done.join("/");
  }

  // Resolved directories of a fixture tree, by host path. Resolving walks
  // every component with lstat; a 1152-CPU tree has thousands of files in
  // a few hundred directories. Only directories that exist are cached, and
  // a fixture's directory layout does not change under a running command.
  readonly #dirs = new Map<string, string>();

  /** The real path to hand to Deno for a host path. */
  async #open(path: string): Promise<string> {
    if (this.isHost) return this.real(path);
    const slash = path.lastIndexOf("/");
    const dir = path.slice(0, slash) || "/";
    const name = path.slice(slash + 1);
    if (name === "" || name === "." || name === "..") return this.root + await this.resolve(path);
    let real = this.#dirs.get(dir);
    if (real === undefined) {
      real = await this.resolve(dir);
      const info = await Deno.lstat(this.root + real).catch(() => undefined);
      if (info?.isDirectory) this.#dirs.set(dir, real);
    }
    const full = `${real === "/" ? "" : real}/${name}`;
    // Only the last component is left to check; a symlink there resolves in full.
    const last = await Deno.lstat(this.root + full).catch(() => undefined);
    return this.root + (last?.isSymlink ? await this.resolve(full) : full);
  }

  // Reads are synchronous on purpose: /proc and /sys files are generated in
  // memory by the kernel, and a synchronous read costs 12-65 µs where the
  // async one costs 60-110 µs (a pool-thread round trip per file). The event
  // loop waits that long; a 1152-CPU /proc/interrupts takes milliseconds
  // either way.
  async readText(path: string): Promise<string> {
    try {
      return Deno.readTextFileSync(await this.#open(path));
    } catch (e) {
      if (e instanceof HostFsError) throw e;
      throw new HostFsError(path, "read", e);
    }
  }

  /**
   * A synchronous read for the daemon's own small files on the host (a
   * token file under /etc/sipmi): callers that cannot wait, on "/" only.
   */
  readTextSync(path: string): string {
    if (!this.isHost) {
      throw new Error("HostFs.readTextSync reads the host itself, not a fixture root");
    }
    try {
      return Deno.readTextFileSync(this.real(path));
    } catch (e) {
      throw new HostFsError(path, "read", e);
    }
  }

  /**
   * The file's text, or undefined when it does not exist. Some sysfs files
   * exist but fail to read with ENOENT (a single-queue NIC's xps_cpus); they
   * count as absent too.
   */
  async readTextIfExists(path: string): Promise<string | undefined> {
    try {
      return Deno.readTextFileSync(await this.#open(path));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      if (e instanceof HostFsError) throw e;
      throw new HostFsError(path, "read", e);
    }
  }

  /** Entries of a directory, sorted by name (numbers numerically). */
  async readDir(path: string): Promise<HostDirEntry[]> {
    const out: HostDirEntry[] = [];
    try {
      for await (const e of Deno.readDir(await this.#open(path))) {
        out.push({
          name: e.name,
          isFile: e.isFile,
          isDirectory: e.isDirectory,
          isSymlink: e.isSymlink,
        });
      }
    } catch (e) {
      if (e instanceof HostFsError) throw e;
      throw new HostFsError(path, "list", e);
    }
    return out.sort((a, b) => compareNames(a.name, b.name));
  }

  /** Entries of a directory, or undefined when it does not exist. */
  async readDirIfExists(path: string): Promise<HostDirEntry[] | undefined> {
    try {
      return await this.readDir(path);
    } catch (e) {
      if (e instanceof HostFsError && e.notFound) return undefined;
      throw e;
    }
  }

  /** The target of a symlink as stored (`../../../bus/pci/drivers/virtio-pci`). */
  async readLink(path: string): Promise<string> {
    try {
      const dir = await this.resolve(dirname(path));
      return await Deno.readLink(
        this.real(dir === "/" ? `/${basename(path)}` : `${dir}/${basename(path)}`),
      );
    } catch (e) {
      if (e instanceof HostFsError) throw e;
      throw new HostFsError(path, "read link", e);
    }
  }

  /** The symlink target, or undefined when there is no such link. */
  async readLinkIfExists(path: string): Promise<string | undefined> {
    try {
      return await this.readLink(path);
    } catch (e) {
      if (e instanceof HostFsError && e.notFound) return undefined;
      throw e;
    }
  }

  /** Follows symlinks (inside the root). */
  async stat(path: string): Promise<HostStat> {
    try {
      return toStat(await Deno.stat(await this.#open(path)));
    } catch (e) {
      if (e instanceof HostFsError) throw e;
      throw new HostFsError(path, "stat", e);
    }
  }

  async statIfExists(path: string): Promise<HostStat | undefined> {
    try {
      return await this.stat(path);
    } catch (e) {
      if (e instanceof HostFsError && e.notFound) return undefined;
      throw e;
    }
  }

  async exists(path: string): Promise<boolean> {
    return (await this.statIfExists(path)) !== undefined;
  }

  /** The raw bytes of an ordinary file (an /etc file kept byte for byte in a snapshot). */
  async readBytes(path: string): Promise<Uint8Array> {
    try {
      return Deno.readFileSync(await this.#open(path));
    } catch (e) {
      if (e instanceof HostFsError) throw e;
      throw new HostFsError(path, "read", e);
    }
  }

  // ------------------------------------------------------------------ writes

  /**
   * Writes a kernel file (/proc, /sys) in place with a single write(2): the
   * kernel parses each write on its own and answers EINVAL, EIO, EPERM ...
   * there and then. The file must exist. Callers read the value back, since
   * the kernel may keep something else than was written.
   */
  async writeKernel(path: string, text: string): Promise<void> {
    try {
      Deno.writeTextFileSync(await this.#open(path), text, { create: false });
    } catch (e) {
      if (e instanceof HostFsError) throw e;
      throw new HostFsError(path, "write", e);
    }
  }

  /**
   * Replaces an ordinary file atomically: a temporary file in the same
   * directory, written and fsynced, given the old file's mode and owner (or
   * `mode` for a new file), renamed over the old one, then the directory
   * fsynced. A reader sees the old file or the new one, never a mix, even
   * after a crash.
   */
  async replaceFile(path: string, data: Uint8Array | string, opts: { mode?: number } = {}) {
    const real = await this.#open(path);
    const slash = real.lastIndexOf("/");
    const dir = real.slice(0, slash) || "/";
    const tmp = `${dir}/.${real.slice(slash + 1)}.sipmi-${crypto.randomUUID().slice(0, 8)}`;
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    try {
      let mode = opts.mode ?? 0o644, owner: { uid: number; gid: number } | null = null;
      try {
        const old = Deno.statSync(real);
        if (old.mode !== null) mode = old.mode & 0o7777;
        if (old.uid !== null && old.gid !== null) owner = { uid: old.uid, gid: old.gid };
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      const f = Deno.openSync(tmp, { write: true, createNew: true, mode });
      try {
        let done = 0;
        while (done < bytes.length) done += f.writeSync(bytes.subarray(done));
        // The umask may have cleared bits of `mode`.
        Deno.chmodSync(tmp, mode);
        if (owner !== null && (owner.uid !== Deno.uid() || owner.gid !== Deno.gid())) {
          Deno.chownSync(tmp, owner.uid, owner.gid);
        }
        f.syncSync();
      } finally {
        f.close();
      }
      Deno.renameSync(tmp, real);
      syncDir(dir);
    } catch (e) {
      try {
        Deno.removeSync(tmp);
      } catch { /* never created, or already renamed */ }
      throw new HostFsError(path, "replace", e);
    }
  }

  /** Removes an ordinary file (a config file a rollback takes back); absent is fine. */
  async removeFile(path: string): Promise<void> {
    const real = await this.#open(path);
    try {
      Deno.removeSync(real);
      syncDir(real.slice(0, real.lastIndexOf("/")) || "/");
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw new HostFsError(path, "remove", e);
    }
  }

  /** Creates a directory and its parents (sipmi's state directory). */
  async makeDir(path: string, mode = 0o750): Promise<void> {
    try {
      Deno.mkdirSync(this.root + await this.resolve(path), { recursive: true, mode });
    } catch (e) {
      if (e instanceof HostFsError) throw e;
      throw new HostFsError(path, "create directory", e);
    }
  }

  /**
   * Creates a file that must not exist yet (O_EXCL), e.g. a lock file;
   * false when it already exists.
   */
  async createExclusive(path: string, text: string): Promise<boolean> {
    const real = await this.#open(path);
    let f: Deno.FsFile;
    try {
      f = Deno.openSync(real, { write: true, createNew: true, mode: 0o640 });
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) return false;
      throw new HostFsError(path, "create", e);
    }
    try {
      f.writeSync(new TextEncoder().encode(text));
      f.syncSync();
    } finally {
      f.close();
    }
    return true;
  }

  /**
   * One request on a unix stream socket under the root (irqbalance's
   * `/run/irqbalance/irqbalance<PID>.sock`): send the text, read the reply
   * until the peer closes. Rejects with a HostFsError when nothing listens
   * or the peer does not close within the timeout.
   */
  async askUnixSocket(path: string, request: string, timeoutMs: number): Promise<string> {
    const real = await this.#open(path);
    let conn: Deno.UnixConn | undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      conn?.close();
    }, timeoutMs);
    try {
      conn = await Deno.connect({ transport: "unix", path: real });
      await conn.write(new TextEncoder().encode(request));
      const chunks: Uint8Array[] = [];
      const buf = new Uint8Array(16384);
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        chunks.push(buf.slice(0, n));
      }
      return new TextDecoder().decode(concat(chunks));
    } catch (e) {
      const cause = timedOut ? new Error(`no reply within ${timeoutMs} ms`) : e;
      throw new HostFsError(path, "talk to", cause);
    } finally {
      clearTimeout(timer);
      try {
        conn?.close();
      } catch { /* closed by the timeout */ }
    }
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** fsync of a directory, so a rename or unlink in it survives a crash. */
function syncDir(dir: string): void {
  const d = Deno.openSync(dir, { read: true });
  try {
    d.syncSync();
  } finally {
    d.close();
  }
}

function toStat(i: Deno.FileInfo): HostStat {
  return {
    isFile: i.isFile,
    isDirectory: i.isDirectory,
    isSymlink: i.isSymlink,
    mode: i.mode === null ? null : i.mode & 0o7777,
    uid: i.uid,
    gid: i.gid,
  };
}

/** Lexical normalization of an absolute path (`.`, `..`, double slashes). */
export function normalize(path: string): string {
  const out: string[] = [];
  for (const p of path.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") out.pop();
    else out.push(p);
  }
  return "/" + out.join("/");
}

export function dirname(path: string): string {
  const n = normalize(path);
  const i = n.lastIndexOf("/");
  return i <= 0 ? "/" : n.slice(0, i);
}

export function basename(path: string): string {
  const n = normalize(path);
  return n.slice(n.lastIndexOf("/") + 1);
}

/** Name order with digit runs compared as numbers: `rx-2` before `rx-10`, IRQ 9 before 10. */
export function compareNames(a: string, b: string): number {
  const ra = a.split(/(\d+)/), rb = b.split(/(\d+)/);
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    if (ra[i] === rb[i]) continue;
    if (i % 2 === 1) return Number(ra[i]) - Number(rb[i]) || (ra[i] < rb[i] ? -1 : 1);
    return ra[i] < rb[i] ? -1 : 1;
  }
  return ra.length - rb.length;
}

/** The host itself. */
export const hostRoot = new HostFs("/");
