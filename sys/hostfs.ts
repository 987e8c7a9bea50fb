// Every read and write of /proc, /sys and /etc goes through a HostFs rooted
// at `tuning.root` ("/" on a host, a fixture tree in tests), so the same code
// runs on the real host and on captured trees. Errors name the host path.

export class HostFsError extends Error {
  /** The host path (as the kernel would name it, without the root). */
  readonly path: string;
  /** The Deno error name: NotFound, PermissionDenied, ... */
  readonly kind: string;
  constructor(path: string, op: string, cause: unknown) {
    const kind = cause instanceof Error ? cause.name : "Error";
    super(`${op} ${path}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "HostFsError";
    this.path = path;
    this.kind = kind;
  }
}

export class HostFs {
  /** Absolute root directory, without a trailing slash ("" for "/"). */
  readonly root: string;

  constructor(root = "/") {
    if (!root.startsWith("/")) throw new Error(`HostFs root must be absolute, not '${root}'`);
    this.root = root.replace(/\/+$/, "");
  }

  /** The real path of a host path under the root. */
  real(path: string): string {
    if (!path.startsWith("/")) throw new Error(`HostFs paths are absolute, not '${path}'`);
    return this.root + path;
  }

  async readText(path: string): Promise<string> {
    try {
      return await Deno.readTextFile(this.real(path));
    } catch (e) {
      throw new HostFsError(path, "read", e);
    }
  }

  /** The file's text, or undefined when it does not exist. */
  async readTextIfExists(path: string): Promise<string | undefined> {
    try {
      return await Deno.readTextFile(this.real(path));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw new HostFsError(path, "read", e);
    }
  }
}

/** The host itself. */
export const hostRoot = new HostFs("/");
