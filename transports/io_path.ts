// Which I/O path the datagram and FIFO listeners use (`datagram.io`,
// `fifo.io`: docs/architecture.md, "Two I/O paths"). "ffi" owns descriptors
// through libc and is the fastest; "deno" uses only Deno's own APIs. When
// FFI cannot be used at start (no libc.so.6, --allow-ffi not granted), the
// listeners use "deno" instead of failing, and the daemon says so once.

import { ffiProblem } from "../sys/libc.ts";
import { denoDatagramIo } from "./datagram_deno.ts";
import { ffiDatagramIo } from "./datagram_ffi.ts";
import type { DatagramIo } from "./datagram_io.ts";
import { denoFifoIo } from "./fifo_deno.ts";
import { ffiFifoIo } from "./fifo_ffi.ts";
import type { FifoIo } from "./fifo_io.ts";

export type IoPath = "ffi" | "deno";

let told = false;

/**
 * The path a listener configured with `wanted` uses: "deno" when FFI is
 * unavailable, logged once per process. `probe` says why FFI cannot be used.
 */
export function effectiveIo(
  wanted: IoPath,
  log: { warn(msg: string): void },
  probe: () => string | undefined = ffiProblem,
): IoPath {
  if (wanted === "deno") return "deno";
  const problem = probe();
  if (problem === undefined) return "ffi";
  if (!told) {
    told = true;
    log.warn(`FFI is unavailable (${problem}): the FIFO and datagram listeners use Deno's own I/O`);
  }
  return "deno";
}

export function datagramIo(path: IoPath): DatagramIo {
  return path === "ffi" ? ffiDatagramIo : denoDatagramIo;
}

export function fifoIo(path: IoPath): FifoIo {
  return path === "ffi" ? ffiFifoIo : denoFifoIo;
}
