// What the transports (listeners and clients alike) rely on from the
// operating system, written once: the sizes the kernel guarantees, the errno
// name of a failed call, names nobody can guess, and the kind of a file in
// words (docs/protocol.md).

/** Writes up to this size are atomic on a pipe (POSIX PIPE_BUF on Linux). */
export const PIPE_BUF = 4096;

/**
 * The largest UDP payload over IPv4 (65,535 minus the IP and UDP headers);
 * sipmi keeps it for UDP over IPv6 too. Unix datagrams are not limited by it.
 */
export const UDP_MAX_PAYLOAD = 65507;

/** The errno name (`ENXIO`, `EAGAIN`) of a failed node:fs call, or the error's name. */
export function errorCode(e: unknown): string {
  return (e as { code?: string }).code ?? (e instanceof Error ? e.name : "error");
}

/** `bytes` random bytes as lowercase hex: names of reply FIFOs and stop markers. */
export function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** What kind of file a stat describes, in words for an error message: "a FIFO", "a symbolic link", ... */
export function fileKind(st: {
  isFIFO(): boolean;
  isSymbolicLink(): boolean;
  isFile(): boolean;
  isDirectory(): boolean;
  isSocket(): boolean;
}): string {
  if (st.isFIFO()) return "a FIFO";
  if (st.isSymbolicLink()) return "a symbolic link";
  if (st.isFile()) return "a regular file";
  if (st.isDirectory()) return "a directory";
  if (st.isSocket()) return "a socket";
  return "a special file";
}
