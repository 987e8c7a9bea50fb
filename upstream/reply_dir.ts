// The private directory where a FIFO upstream writes its replies to sipmi.
// OpenSIPS and Kamailio take a bare reply FIFO name and open it in their
// configured reply dir, so that dir is this one: set the router's reply dir
// to it, and nobody but sipmi (and root) can hear what the router's FIFO
// answers. Mode 0700, owned by sipmi, or by the router's user when sipmi
// runs as root (the router must create nothing here, but it opens our
// FIFOs for writing and has to enter the directory to do so).

import { geteuid } from "../sys/libc.ts";
import { errText } from "../sys/log.ts";

const REPLY_FIFO = /^sipmi_mi_reply_\d+_[0-9a-f]+$/;

/**
 * Makes sure `dir` exists and is private; throws an Error that says what is
 * wrong when it cannot be made so (nothing is changed then). Returns a
 * warning when the router, as far as the owner of its FIFO tells, will not
 * be able to write there.
 */
export async function ensureReplyDir(dir: string, serverFifo: string): Promise<string | undefined> {
  const euid = geteuid();
  const serverUid = await Deno.lstat(serverFifo).then((s) => s.uid ?? undefined, () => undefined);
  let st: Deno.FileInfo;
  try {
    st = await Deno.lstat(dir);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw new Error(`cannot use ${dir}: ${errText(e)}`);
    try {
      await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
      await Deno.chmod(dir, 0o700);
      st = await Deno.lstat(dir);
    } catch (e) {
      throw new Error(`cannot create the reply directory ${dir}: ${errText(e)}`);
    }
  }
  if (!st.isDirectory) throw new Error(`${dir} is not a directory`);
  const mode = (st.mode ?? 0) & 0o777;
  const owners = new Set([euid, serverUid]);
  if ((mode & 0o077) !== 0 || !owners.has(st.uid ?? -1)) {
    throw new Error(
      `${dir} is not private (mode ${mode.toString(8).padStart(4, "0")}, owner uid ${st.uid}): ` +
        `sipmi keeps the router's replies where only it and the router can reach them; ` +
        `remove it or name another reply_dir`,
    );
  }
  if (euid === 0 && serverUid !== undefined && st.uid !== serverUid) {
    await Deno.chown(dir, serverUid, null).catch((e) => {
      throw new Error(`cannot give ${dir} to the router's uid ${serverUid}: ${errText(e)}`);
    });
  }
  await removeStaleFifos(dir);
  if (serverUid !== undefined && euid !== 0 && serverUid !== 0 && serverUid !== euid) {
    return `the router (uid ${serverUid}, the owner of ${serverFifo}) cannot write into ${dir} ` +
      `(mode 0700, uid ${euid}): run sipmi as root or as the router's user`;
  }
  return undefined;
}

/**
 * Reply FIFOs a sipmi that is gone left behind (a crash between create and
 * remove). A call lasts at most a minute (timeout_ms), so older ones are stale.
 */
async function removeStaleFifos(dir: string): Promise<void> {
  const before = Date.now() - 5 * 60_000;
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!REPLY_FIFO.test(e.name)) continue;
      const path = `${dir.replace(/\/+$/, "")}/${e.name}`;
      const st = await Deno.lstat(path).catch(() => undefined);
      if (st?.isFifo && (st.mtime?.getTime() ?? 0) < before) {
        await Deno.remove(path).catch(() => {});
      }
    }
  } catch {
    // Unreadable: nothing to tidy.
  }
}
