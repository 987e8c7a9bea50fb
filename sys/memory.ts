// Giving memory back after a burst. V8 collects its old generation only
// when a program allocates, and glibc keeps what the runtime freed (buffers
// of hundreds of connections, large replies): a daemon that goes quiet after
// an attack would keep its peak resident for good. `reclaim` runs one full
// collection and then trims the allocator; it costs some milliseconds, so
// the daemon calls it rarely and only when memory is well above its level
// after start (service/memory.ts).

import { mallocTrim } from "./libc.ts";

let gc: (() => void) | null | undefined;

/** A full V8 collection, through the flag Node programs use for it; null when unavailable. */
async function collector(): Promise<(() => void) | null> {
  if (gc !== undefined) return gc;
  try {
    const v8 = await import("node:v8");
    const vm = await import("node:vm");
    v8.setFlagsFromString("--expose-gc");
    const fn = vm.runInNewContext("gc");
    gc = typeof fn === "function" ? fn as () => void : null;
  } catch {
    gc = null;
  }
  return gc;
}

/** A full collection, then the allocator's free memory back to the system; true when some was. */
export async function reclaim(): Promise<boolean> {
  (await collector())?.();
  return await mallocTrim();
}
