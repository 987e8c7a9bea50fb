import assert from "node:assert/strict";
import { parseSoftnet } from "./softnet.ts";

const Z = "00000000";

Deno.test("softnet: column 13 is the CPU; older rows are the n-th online CPU", () => {
  const row15 = [
    "0000000a",
    "00000001",
    "00000002",
    Z,
    Z,
    Z,
    Z,
    Z,
    Z,
    "00000003",
    "00000004",
    "00000005",
    "00000007",
    "00000008",
    "00000009",
  ];
  const row11 = ["0000000b", "00000000", "00000001", Z, Z, Z, Z, Z, Z, Z, Z];
  const s = parseSoftnet(
    [row15.join(" "), row11.join(" "), ""].join("\n"),
    "/proc/net/softnet_stat",
    [0, 4],
  );
  assert.equal(s.columns, 15);
  assert.deepEqual(s.rows[0], {
    cpu: 7,
    processed: 10,
    dropped: 1,
    time_squeeze: 2,
    received_rps: 3,
    flow_limit_count: 4,
    backlog_len: 5,
    input_qlen: 8,
    process_qlen: 9,
  });
  // Row 2 without a CPU column: the second online CPU, 4, not CPU 1.
  assert.equal(s.rows[1].cpu, 4);
  assert.equal(s.rows[1].backlog_len, null);
});

Deno.test("softnet: truncated rows and garbage name the line and column", () => {
  assert.throws(
    () => parseSoftnet(`${Z} ${Z} ${Z} ${Z} ${Z} ${Z} ${Z} ${Z} ${Z}\n${Z} ${Z}\n`),
    /^FormatError: \/proc\/net\/softnet_stat:2: expected at least 9 hex columns, found 2/,
  );
  assert.throws(
    () => parseSoftnet(`${Z} xyz ${Z} ${Z} ${Z} ${Z} ${Z} ${Z} ${Z}\n`),
    /softnet_stat:1: column 2 'xyz' is not a hex counter/,
  );
});
