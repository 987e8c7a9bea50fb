import assert from "node:assert/strict";
import { effectiveIo } from "./io_path.ts";

Deno.test("io path: deno stays deno; ffi falls back to deno when FFI is unavailable, said once", () => {
  const said: string[] = [];
  const log = { warn: (m: string) => said.push(m) };
  assert.equal(effectiveIo("deno", log, () => "no libc"), "deno");
  assert.equal(effectiveIo("ffi", log, () => undefined), "ffi");
  assert.deepEqual(said, []);
  assert.equal(effectiveIo("ffi", log, () => "no libc.so.6"), "deno");
  assert.equal(effectiveIo("ffi", log, () => "no libc.so.6"), "deno");
  assert.equal(said.length, 1);
  assert.match(said[0], /^FFI is unavailable \(no libc\.so\.6\): the FIFO and datagram listeners/);
});
