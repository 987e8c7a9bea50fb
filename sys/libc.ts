// The only FFI file: the few libc calls Deno has no API for. The library is
// opened on first use, so commands that need none of this never dlopen.
// Every call reports failure as a SysError carrying the errno name, so
// callers can classify (EPERM vs EINVAL vs ESRCH) without parsing text.

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  6: "ENXIO",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  28: "ENOSPC",
  30: "EROFS",
  34: "ERANGE",
  36: "ENAMETOOLONG",
  24: "EMFILE",
  23: "ENFILE",
  75: "EOVERFLOW",
  88: "ENOTSOCK",
  107: "ENOTCONN",
  32: "EPIPE",
  40: "ELOOP",
  90: "EMSGSIZE",
  105: "ENOBUFS",
  111: "ECONNREFUSED",
};

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

export class SysError extends Error {
  readonly errno: number;
  /** `EPERM`, `EINVAL`, ... */
  readonly code: string;
  constructor(call: string, errno: number, detail = "") {
    super(`${call}${detail ? ` ${detail}` : ""}: ${errnoName(errno)}`);
    this.name = "SysError";
    this.errno = errno;
    this.code = errnoName(errno);
  }
}

const SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  mkfifo: { parameters: ["buffer", "u32"], result: "i32" },
  geteuid: { parameters: [], result: "u32" },
  gettid: { parameters: [], result: "i32" },
  sched_getaffinity: { parameters: ["i32", "usize", "buffer"], result: "i32" },
  sched_setaffinity: { parameters: ["i32", "usize", "buffer"], result: "i32" },
  getpwnam: { parameters: ["buffer"], result: "pointer" },
  getgrnam: { parameters: ["buffer"], result: "pointer" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  recvfrom: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "buffer"], result: "isize" },
  inet_pton: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  // Variadic in C; called without a mode (no O_CREAT), which every ABI Deno runs on allows.
  open: { parameters: ["buffer", "i32"], result: "i32" },
  // Waits in a thread of Deno's blocking pool, so the event loop runs on.
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  // The same call for a look without waiting (timeout 0), on the event loop.
  poll_now: { name: "poll", parameters: ["buffer", "u64", "i32"], result: "i32" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  // A real function since glibc 2.33 (before, a macro over __fxstat): see fdFileId.
  fstat: { parameters: ["i32", "buffer"], result: "i32", optional: true },
  // glibc only: hands freed heap memory back to the kernel (in a blocking-pool
  // thread: it walks every arena). mallopt tunes the arenas.
  malloc_trim: { parameters: ["usize"], result: "i32", nonblocking: true, optional: true },
  mallopt: { parameters: ["i32", "i32"], result: "i32", optional: true },
  setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  setpriority: { parameters: ["i32", "u32", "i32"], result: "i32" },
} as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

function libc(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return lib.symbols;
}

/**
 * Why libc cannot be used through FFI (no libc.so.6, FFI not permitted),
 * or undefined when it can: the listeners then fall back to Deno's own I/O.
 */
export function ffiProblem(): string | undefined {
  try {
    libc();
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

function errno(): number {
  const p = libc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

const enc = new TextEncoder();
function cString(s: string): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(enc.encode(s).length + 1);
  enc.encodeInto(s, b);
  return b;
}

/** mkfifo(3). The mode is filtered by the umask, so callers chmod afterwards. */
export function mkfifo(path: string, mode: number): void {
  if (libc().mkfifo(cString(path), mode) !== 0) throw new SysError("mkfifo", errno(), path);
}

export function geteuid(): number {
  return libc().geteuid();
}

/** The kernel thread id of the calling thread (the main thread's equals the pid). */
export function gettid(): number {
  return libc().gettid();
}

// cpu_set_t is 1024 bits in glibc; the kernel wants at least nr_cpu_ids bits,
// so the buffer grows on EINVAL up to 64 Ki CPUs.
const MIN_MASK_BYTES = 128;
const MAX_MASK_BYTES = 8192;

/** sched_getaffinity(2) of one thread (tid; 0 = the calling thread): its CPU numbers, ascending. */
export function schedGetaffinity(tid: number): number[] {
  for (let size = MIN_MASK_BYTES; size <= MAX_MASK_BYTES; size *= 2) {
    const buf = new Uint8Array(size);
    if (libc().sched_getaffinity(tid, BigInt(size), buf) === 0) return maskToCpus(buf);
    const e = errno();
    if (e !== 22 || size === MAX_MASK_BYTES) {
      throw new SysError("sched_getaffinity", e, `tid ${tid}`);
    }
  }
  throw new SysError("sched_getaffinity", 22, `tid ${tid}`);
}

/**
 * sched_setaffinity(2) of one thread. The kernel silently drops offline CPUs
 * from a mask that has at least one usable CPU, so callers read back.
 */
export function schedSetaffinity(tid: number, cpus: Iterable<number>): void {
  const list = [...cpus];
  const max = list.length === 0 ? 0 : Math.max(...list);
  if (list.some((c) => !Number.isInteger(c) || c < 0) || max >= MAX_MASK_BYTES * 8) {
    throw new SysError(
      "sched_setaffinity",
      22,
      `tid ${tid}: CPU numbers must be 0..${MAX_MASK_BYTES * 8 - 1}`,
    );
  }
  const size = Math.max(MIN_MASK_BYTES, Math.ceil((max + 1) / 64) * 8);
  const buf = new Uint8Array(size);
  // An array of unsigned long, little-endian on the platforms Deno ships for.
  for (const c of list) buf[c >> 3] |= 1 << (c & 7);
  if (libc().sched_setaffinity(tid, BigInt(size), buf) !== 0) {
    throw new SysError("sched_setaffinity", errno(), `tid ${tid}`);
  }
}

function maskToCpus(buf: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    if (b === 0) continue;
    for (let bit = 0; bit < 8; bit++) if (b & (1 << bit)) out.push(i * 8 + bit);
  }
  return out;
}

// struct passwd and struct group on LP64 Linux: two char* then the ids.
const ID_OFFSET = 16;

/** uid and primary gid of a user name, or undefined when there is no such user. */
export function lookupUser(name: string): { uid: number; gid: number } | undefined {
  const p = libc().getpwnam(cString(name));
  if (p === null) return undefined;
  const v = new Deno.UnsafePointerView(p);
  return { uid: v.getUint32(ID_OFFSET), gid: v.getUint32(ID_OFFSET + 4) };
}

/** gid of a group name, or undefined when there is no such group. */
export function lookupGroup(name: string): number | undefined {
  const p = libc().getgrnam(cString(name));
  if (p === null) return undefined;
  return new Deno.UnsafePointerView(p).getUint32(ID_OFFSET);
}

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;

/** struct sockaddr_un for a path; a leading `@` names the abstract namespace. */
function unixAddress(path: string): Uint8Array<ArrayBuffer> {
  const name = enc.encode(path);
  if (name.length === 0 || name.length > 107) throw new SysError("sendto", 36, path);
  const addr = new Uint8Array(2 + name.length + (path.startsWith("@") ? 0 : 1));
  addr[0] = AF_UNIX & 0xff;
  addr[1] = AF_UNIX >> 8;
  addr.set(name, 2);
  if (path.startsWith("@")) addr[2] = 0;
  return addr;
}

/**
 * Sends one datagram from an unbound AF_UNIX socket (what sd_notify does).
 * A leading `@` names the abstract namespace.
 */
export function sendUnixDatagram(path: string, message: string): void {
  const fd = unixDatagramSocket();
  try {
    unixDatagramSend(fd, path, enc.encode(message), false);
  } finally {
    closeFd(fd);
  }
}

/**
 * An unbound AF_UNIX datagram socket for sending, like OpenSIPS
 * mi_datagram's reply socket: sends never block, and unlike Deno's
 * DatagramConn, one send in progress does not make the next one fail.
 */
export function unixDatagramSocket(): number {
  const fd = libc().socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new SysError("socket", errno());
  return fd;
}

/**
 * sendto(2) of one datagram to a unix socket path. With `nonblocking`, a
 * receiver whose queue is full gives EAGAIN instead of waiting.
 */
export function unixDatagramSend(
  fd: number,
  path: string | Uint8Array<ArrayBuffer>,
  data: Uint8Array<ArrayBuffer>,
  nonblocking = true,
): void {
  const addr = typeof path === "string" ? unixAddress(path) : path;
  const flags = MSG_NOSIGNAL | (nonblocking ? MSG_DONTWAIT : 0);
  if (libc().sendto(fd, data, BigInt(data.length), flags, addr, addr.length) < 0) {
    throw new SysError("sendto", errno(), typeof path === "string" ? path : "");
  }
}

export function closeFd(fd: number): void {
  libc().close(fd);
}

// ---------------------------------------------------------------- datagram sockets
//
// The MI datagram listener owns its socket: a readiness wait in a pool
// thread (poll), then synchronous recvfrom/sendto until the queue is empty.
// Deno's DatagramConn costs an async op per datagram each way and cannot
// tell a truncated datagram from a whole one.

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_NONBLOCK = 0o4000;
const MSG_TRUNC = 0x20;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const POLLIN = 1;

/** Room for any sockaddr (sockaddr_storage is 128 bytes). */
export const SOCKADDR_MAX = 128;

/** The sockaddr of an IP literal (`127.0.0.1`, `::1`; `localhost` is 127.0.0.1). */
function inetAddress(host: string, port: number): Uint8Array<ArrayBuffer> {
  const h = host === "localhost" ? "127.0.0.1" : host;
  const v6 = h.includes(":");
  const addr = new Uint8Array(v6 ? 28 : 16);
  const view = new DataView(addr.buffer);
  view.setUint16(0, v6 ? AF_INET6 : AF_INET, true);
  view.setUint16(2, port, false);
  const ok = libc().inet_pton(v6 ? AF_INET6 : AF_INET, cString(h), addr.subarray(v6 ? 8 : 4));
  if (ok !== 1) throw new SysError("inet_pton", 22, `'${host}' is not an IP address`);
  return addr;
}

/** A non-blocking datagram socket bound to a UDP address or a unix path. */
export function datagramBind(
  addr: { kind: "udp"; host: string; port: number } | { kind: "unix"; path: string },
): number {
  const sa = addr.kind === "udp" ? inetAddress(addr.host, addr.port) : unixAddress(addr.path);
  const family = new DataView(sa.buffer).getUint16(0, true);
  const c = libc();
  const fd = c.socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new SysError("socket", errno());
  if (c.bind(fd, sa, sa.length) !== 0) {
    const e = errno();
    c.close(fd);
    throw new SysError("bind", e, addr.kind === "udp" ? `${addr.host}:${addr.port}` : addr.path);
  }
  return fd;
}

/**
 * Receives one datagram without waiting. Returns its full length (larger
 * than `buf` when it was truncated), or -1 when none is queued. The
 * sender's address is left in `from`, its length in `fromLen[0]`.
 */
export function datagramReceive(
  fd: number,
  buf: Uint8Array<ArrayBuffer>,
  from: Uint8Array<ArrayBuffer>,
  fromLen: Uint32Array<ArrayBuffer>,
): number {
  fromLen[0] = from.length;
  const n = Number(
    libc().recvfrom(fd, buf, BigInt(buf.length), MSG_TRUNC | MSG_DONTWAIT, from, fromLen),
  );
  if (n >= 0) return n;
  const e = errno();
  if (e === 11 || e === 4) return -1; // EAGAIN, EINTR
  throw new SysError("recvfrom", e);
}

/** Sends one datagram to a sockaddr without waiting (EAGAIN when the receiver's queue is full). */
export function datagramSend(
  fd: number,
  data: Uint8Array<ArrayBuffer>,
  to: Uint8Array<ArrayBuffer>,
  toLen: number,
): void {
  if (libc().sendto(fd, data, BigInt(data.length), MSG_NOSIGNAL | MSG_DONTWAIT, to, toLen) < 0) {
    throw new SysError("sendto", errno());
  }
}

const SOL_SOCKET = 1;
const SO_SNDBUF = 7;

/**
 * The send buffer of a socket in bytes, as the kernel reports it (twice the
 * value set, for its bookkeeping). A unix datagram larger than about this
 * fails with EMSGSIZE.
 */
export function socketSendBuffer(fd: number): number {
  const value = new Int32Array(1);
  const len = new Uint32Array([4]);
  const buf = new Uint8Array(value.buffer);
  if (libc().getsockopt(fd, SOL_SOCKET, SO_SNDBUF, buf, new Uint8Array(len.buffer)) !== 0) {
    throw new SysError("getsockopt", errno(), "SO_SNDBUF");
  }
  return value[0];
}

/** A sockaddr as text: `127.0.0.1:5060`, `[::1]:5060`, a unix path, or "" for an unbound unix client. */
export function sockaddrText(sa: Uint8Array, len: number): string {
  const view = new DataView(sa.buffer, sa.byteOffset, len);
  if (len < 2) return "";
  const family = view.getUint16(0, true);
  if (family === AF_INET && len >= 8) {
    return `${sa.subarray(4, 8).join(".")}:${view.getUint16(2, false)}`;
  }
  if (family === AF_INET6 && len >= 24) {
    const groups: string[] = [];
    for (let i = 0; i < 8; i++) groups.push(view.getUint16(8 + i * 2, false).toString(16));
    return `[${groups.join(":").replace(/(^|:)0(:0)+(:|$)/, "::")}]:${view.getUint16(2, false)}`;
  }
  if (family === AF_UNIX) {
    if (len <= 2) return "";
    const raw = sa.subarray(2, len);
    const end = raw[0] === 0 ? raw.length : raw.indexOf(0) < 0 ? raw.length : raw.indexOf(0);
    const name = new TextDecoder().decode(raw.subarray(raw[0] === 0 ? 1 : 0, end));
    return raw[0] === 0 ? `@${name}` : name;
  }
  return `family ${family}`;
}

/** A pipe whose read end wakes a readiness wait (both ends non-blocking). */
export function wakePipe(): { read: number; write: number } {
  const fds = new Int32Array(2);
  if (libc().pipe2(fds, O_NONBLOCK | O_CLOEXEC) !== 0) throw new SysError("pipe2", errno());
  return { read: fds[0], write: fds[1] };
}

const ONE = new Uint8Array(1);
const SINK = new Uint8Array(64);

export function wake(fd: number): void {
  libc().write(fd, ONE, 1n);
}

export function drainWake(fd: number): void {
  while (Number(libc().read(fd, SINK, 64n)) > 0) { /* empty the pipe */ }
}

/**
 * Waits until one of the fds is readable or the timeout passes (-1: no
 * timeout), in a pool thread. Resolves with poll's result; each fd's
 * readiness is in `pollfds` (see pollSet).
 */
export function pollReadable(set: PollSet, timeoutMs: number): Promise<number> {
  return libc().poll(set.buf, BigInt(set.count), timeoutMs);
}

export interface PollSet {
  readonly buf: Uint8Array<ArrayBuffer>;
  readonly count: number;
}

/** struct pollfd[] waiting for input on each fd. */
export function pollSet(fds: readonly number[]): PollSet {
  const buf = new Uint8Array(8 * fds.length);
  const view = new DataView(buf.buffer);
  fds.forEach((fd, i) => {
    view.setInt32(i * 8, fd, true);
    view.setInt16(i * 8 + 4, POLLIN, true);
  });
  return { buf, count: fds.length };
}

const O_RDWR = 2;

/**
 * Opens a FIFO read+write and non-blocking: the open never waits for a
 * writer, reads never see EOF when writers close, and an empty FIFO reads
 * as EAGAIN (so the caller waits with pollReadable).
 */
export function openFifoReadWrite(path: string): number {
  const fd = libc().open(cString(path), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw new SysError("open", errno(), path);
  return fd;
}

/** read(2) without waiting: bytes read, 0 at end of file, -1 when nothing is there yet. */
export function readNow(fd: number, buf: Uint8Array<ArrayBuffer>): number {
  const n = Number(libc().read(fd, buf, BigInt(buf.length)));
  if (n >= 0) return n;
  const e = errno();
  if (e === 11 || e === 4) return -1;
  throw new SysError("read", e);
}

// ---------------------------------------------------------------- systemd

const CLOCK_MONOTONIC = 1;

/**
 * CLOCK_MONOTONIC in microseconds: what sd_notify's `MONOTONIC_USEC=` must
 * carry next to `RELOADING=1` (performance.now() has another origin).
 */
export function monotonicUsec(): bigint {
  // struct timespec: tv_sec and tv_nsec, two 64-bit fields on LP64 Linux.
  const ts = new BigInt64Array(2);
  if (libc().clock_gettime(CLOCK_MONOTONIC, new Uint8Array(ts.buffer)) !== 0) {
    throw new SysError("clock_gettime", errno());
  }
  return ts[0] * 1_000_000n + ts[1] / 1000n;
}

// ---------------------------------------------------------------- host tuning

/**
 * Whether a process exists (kill(pid, 0)): a lock or journal whose owner
 * died is stale. EPERM means it exists but belongs to someone else.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid < 1) return false;
  if (libc().kill(pid, 0) === 0) return true;
  return errno() === 1;
}

const PRIO_PROCESS = 0;

/**
 * Lowers the calling thread's CPU priority (setpriority(2) on its thread id:
 * Linux keeps a nice value per thread, and threads it starts inherit it).
 * Raising niceness needs no privilege.
 */
export function niceThisThread(nice: number): void {
  if (libc().setpriority(PRIO_PROCESS, gettid(), nice) !== 0) {
    throw new SysError("setpriority", errno(), `nice ${nice}`);
  }
}

/** The errno number of a name (`EIO` -> 5), for errors raised by the fake kernel. */
export function errnoNumber(name: string): number {
  for (const [n, text] of Object.entries(ERRNO_NAMES)) if (text === name) return Number(n);
  throw new Error(`unknown errno name ${name}`);
}

// ---------------------------------------------------------------- own TCP connections
//
// Deno.serve offers no connection limits or timeouts (docs/architecture.md,
// "Deno facts relied on"). The HTTP listener manages its connections from
// the kernel's side instead: it finds its own sockets by their local port,
// reads TCP_INFO, and shuts down the ones it wants gone; Deno then sees the
// end of the stream and closes its descriptor itself. Nothing here closes a
// descriptor.

const SOL_TCP = 6;
const TCP_INFO = 11;
const SHUT_RDWR = 2;
/** struct tcp_info up to tcpi_bytes_sent (Linux 4.19); older kernels fill less. */
const TCP_INFO_SIZE = 232;

const nameBuf = new Uint8Array(SOCKADDR_MAX);
const nameLen = new Uint32Array(1);
const nameLenBytes = new Uint8Array(nameLen.buffer);
const infoBuf = new Uint8Array(TCP_INFO_SIZE);
const infoView = new DataView(infoBuf.buffer);
const infoLen = new Uint32Array(1);
const infoLenBytes = new Uint8Array(infoLen.buffer);

/**
 * The local port of an IPv4 or IPv6 socket, or -1 for anything else (a
 * file, a pipe, a unix socket, a closed descriptor).
 */
export function socketLocalPort(fd: number): number {
  nameLen[0] = SOCKADDR_MAX;
  if (libc().getsockname(fd, nameBuf, nameLenBytes) !== 0) return -1;
  const family = nameBuf[0] | (nameBuf[1] << 8);
  if (family !== AF_INET && family !== AF_INET6) return -1;
  return (nameBuf[2] << 8) | nameBuf[3];
}

/** The peer of a connected socket as text (`127.0.0.1:40312`, `[::1]:40312`); "" when not connected. */
export function socketPeer(fd: number): string {
  nameLen[0] = SOCKADDR_MAX;
  if (libc().getpeername(fd, nameBuf, nameLenBytes) !== 0) return "";
  return sockaddrText(nameBuf, nameLen[0]);
}

/** What the kernel knows of one TCP connection (getsockopt TCP_INFO). */
export interface TcpInfo {
  /** TCP_ESTABLISHED 1, TCP_CLOSE_WAIT 8 (the peer closed its side), ... */
  state: number;
  /** Milliseconds since data was last sent on it (since it was set up, if never). */
  lastSentMs: number;
  /** Milliseconds since data was last received (since it was set up, if never). */
  lastReceivedMs: number;
  bytesReceived: number;
  bytesSent: number;
}

export const TCP_ESTABLISHED = 1;
export const TCP_CLOSE_WAIT = 8;

/** TCP_INFO of a TCP socket, or undefined when the descriptor is not one. */
export function tcpInfo(fd: number): TcpInfo | undefined {
  infoLen[0] = TCP_INFO_SIZE;
  if (libc().getsockopt(fd, SOL_TCP, TCP_INFO, infoBuf, infoLenBytes) !== 0) return undefined;
  const v = infoView, full = infoLen[0] >= 208;
  return {
    state: infoBuf[0],
    lastSentMs: v.getUint32(44, true),
    lastReceivedMs: v.getUint32(52, true),
    bytesReceived: Number(v.getBigUint64(128, true)),
    // tcpi_bytes_sent (4.19); before it, tcpi_bytes_acked is the closest.
    bytesSent: Number(v.getBigUint64(full ? 200 : 120, true)),
  };
}

/** shutdown(fd, SHUT_RDWR): the connection ends, its owner sees end of file; the fd stays open. */
export function shutdownSocket(fd: number): boolean {
  return libc().shutdown(fd, SHUT_RDWR) === 0;
}

// ---------------------------------------------------------------- open-file limit

const RLIMIT_NOFILE = 7;

/** RLIMIT_NOFILE: the soft limit (what applies) and the hard limit (how far it may be raised). */
export function fdLimit(): { soft: number; hard: number } {
  const r = new BigUint64Array(2);
  if (libc().getrlimit(RLIMIT_NOFILE, new Uint8Array(r.buffer)) !== 0) {
    throw new SysError("getrlimit", errno(), "RLIMIT_NOFILE");
  }
  const cap = (n: bigint) => n > 1n << 40n ? Number.MAX_SAFE_INTEGER : Number(n);
  return { soft: cap(r[0]), hard: cap(r[1]) };
}

/**
 * Raises the soft open-file limit to the hard one (what systemd's default
 * LimitNOFILE leaves at 1024 of 524288), so that running out of descriptors
 * takes far more than a few hundred idle clients. Returns the limits after.
 */
export function raiseFdLimit(): { soft: number; hard: number } {
  const now = fdLimit();
  if (now.soft >= now.hard) return now;
  const r = new BigUint64Array([BigInt(now.hard), BigInt(now.hard)]);
  if (libc().setrlimit(RLIMIT_NOFILE, new Uint8Array(r.buffer)) !== 0) return now;
  return fdLimit();
}

// ---------------------------------------------------------------- reply FIFOs
//
// A client's reply FIFO is opened, checked, written and closed with these
// raw calls: a failed try (no reader yet, the reader reads slowly) returns
// an errno name instead of throwing, so a client that never opens its FIFO
// or never reads it costs a system call per try, not an exception.

const O_WRONLY = 1;
const O_NOFOLLOW = 0o400000;
const S_IFMT = 0o170000;
const S_IFIFO = 0o010000;

/** A path as the NUL-terminated bytes the calls below take; encode it once, try it many times. */
export function cPath(path: string): Uint8Array<ArrayBuffer> {
  return cString(path);
}

/**
 * open(O_WRONLY|O_NONBLOCK|O_NOFOLLOW|O_CLOEXEC): the descriptor, or the
 * errno name (ENXIO: no reader yet; ELOOP: a symbolic link; ENOENT; EMFILE).
 */
export function openFifoWriter(path: Uint8Array<ArrayBuffer>): number | string {
  const fd = libc().open(path, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  return fd >= 0 ? fd : errnoName(errno());
}

/** What fstat(2) says of an open descriptor, or undefined when it fails. */
export function fdFileId(
  fd: number,
): { dev: number; ino: number; nlink: number; fifo: boolean } | undefined {
  const fstat = libc().fstat;
  if (fstat === null) {
    // An older glibc: what the descriptor's /proc link leads to is the same file.
    try {
      const st = Deno.statSync(`/proc/self/fd/${fd}`);
      return { dev: st.dev, ino: st.ino ?? 0, nlink: st.nlink ?? 0, fifo: st.isFifo ?? false };
    } catch {
      return undefined;
    }
  }
  const buf = new Uint8Array(256);
  if (fstat(fd, buf) !== 0) return undefined;
  const v = new DataView(buf.buffer);
  // struct stat: x86_64 has st_nlink (64 bits) before st_mode; the generic
  // layout (aarch64) has st_mode, then a 32-bit st_nlink.
  const x86 = Deno.build.arch === "x86_64";
  const mode = v.getUint32(x86 ? 24 : 16, true);
  return {
    dev: Number(v.getBigUint64(0, true)),
    ino: Number(v.getBigUint64(8, true)),
    nlink: x86 ? Number(v.getBigUint64(16, true)) : v.getUint32(20, true),
    fifo: (mode & S_IFMT) === S_IFIFO,
  };
}

/** write(2) without waiting: bytes written, or the errno name (EAGAIN: the pipe is full). */
export function writeNow(fd: number, bytes: Uint8Array<ArrayBuffer>): number | string {
  const n = Number(libc().write(fd, bytes, BigInt(bytes.length)));
  return n >= 0 ? n : errnoName(errno());
}

const POLLERR = 8;
const POLLHUP = 16;
const POLLOUT = 4;

/**
 * Whether the reader of a FIFO (or the peer of a socket) we write to has
 * gone: poll(POLLOUT) without waiting reports POLLERR once no reader is left.
 */
export function writerPeerGone(fd: number): boolean {
  const buf = new Uint8Array(8);
  const view = new DataView(buf.buffer);
  view.setInt32(0, fd, true);
  view.setInt16(4, POLLOUT, true);
  if (libc().poll_now(buf, 1n, 0) < 0) return false;
  return (view.getInt16(6, true) & (POLLERR | POLLHUP)) !== 0;
}

/**
 * glibc's malloc_trim(0): returns the free pages of every malloc arena to
 * the kernel. glibc keeps memory freed by a burst of work (the runtime's
 * buffers for thousands of requests) for reuse, so the process's RSS stays
 * at its peak; this gives it back. Resolves to whether anything was
 * released (false without glibc's, or without FFI).
 */
export async function mallocTrim(): Promise<boolean> {
  if (ffiProblem() !== undefined) return false;
  const trim = libc().malloc_trim;
  return trim !== null && await trim(0n) === 1;
}

const M_ARENA_MAX = -8;

/**
 * mallopt(M_ARENA_MAX): how many malloc arenas threads share. glibc gives
 * busy threads arenas of their own (up to 8 per core), each keeping the
 * memory it once held; a few suffice for a daemon whose work is on one
 * thread. Affects arenas created after the call. False without glibc's, or without FFI.
 */
export function mallocArenaMax(n: number): boolean {
  if (ffiProblem() !== undefined) return false;
  const mallopt = libc().mallopt;
  return mallopt !== null && mallopt(M_ARENA_MAX, n) === 1;
}
