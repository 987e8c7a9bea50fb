// The FFI I/O path of the FIFO listener: the request FIFO read in bursts
// (fifo_reader.ts), reply FIFOs opened and written through libc.

import {
  closeFd,
  cPath,
  fdFileId,
  mkfifo,
  openFifoWriter,
  writeNow,
  writerPeerGone,
} from "../sys/libc.ts";
import type { FifoIo } from "./fifo_io.ts";
import { FifoReader } from "./fifo_reader.ts";

export const ffiFifoIo: FifoIo = {
  mkfifo: (path) => mkfifo(path, 0o600),
  reader: (setup) => new FifoReader(setup),
  reply: {
    prepare: (path) => cPath(path),
    open: (p) => openFifoWriter(p as Uint8Array<ArrayBuffer>),
    fileId: fdFileId,
    write: writeNow,
    close: closeFd,
    peerGone: writerPeerGone,
  },
};
