// Mode, owner and group of the files a listener creates (the FIFO, unix
// sockets), as OpenSIPS's fifo_mode/fifo_user/fifo_group: a user name also
// sets the group to the user's primary group unless a group is given.

import { lookupGroup, lookupUser } from "../sys/libc.ts";

export interface FileOwner {
  /** Permission bits, e.g. 0o660; applied with chmod because mkfifo/bind honour the umask. */
  mode: number;
  uid: number | null;
  gid: number | null;
}

const NUMERIC = /^[0-9]+$/;

/** Resolves the config's `mode`, `user` and `group`; throws an Error naming what is unknown. */
export function resolveOwner(mode: string, user: string, group: string): FileOwner {
  let uid: number | null = null, gid: number | null = null;
  if (user !== "") {
    if (NUMERIC.test(user)) uid = Number(user);
    else {
      const u = lookupUser(user);
      if (u === undefined) throw new Error(`unknown user '${user}'`);
      uid = u.uid;
      gid = u.gid;
    }
  }
  if (group !== "") {
    if (NUMERIC.test(group)) gid = Number(group);
    else {
      const g = lookupGroup(group);
      if (g === undefined) throw new Error(`unknown group '${group}'`);
      gid = g;
    }
  }
  return { mode: parseInt(mode, 8), uid, gid };
}

/** Applies mode and owner to a file this listener just created. */
export function applyOwner(path: string, o: FileOwner): void {
  Deno.chmodSync(path, o.mode);
  if (o.uid !== null || o.gid !== null) Deno.chownSync(path, o.uid, o.gid);
}
