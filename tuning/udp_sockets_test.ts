import assert from "node:assert/strict";
import { parseUdpSockets } from "./udp_sockets.ts";

const HEAD =
  "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops";

Deno.test("udp: addresses in host byte order, drops from the last column", () => {
  const s = parseUdpSockets(
    `${HEAD}\n  996: 0100007F:13C4 00000000:0000 07 00000010:00001E00 00:00000000 00000000   106        0 15901 2 000000004bae16ec 294\n`,
    "udp",
  );
  assert.deepEqual(s, [{
    proto: "udp",
    local: "127.0.0.1:5060",
    port: 5060,
    remote: "0.0.0.0:0",
    tx_queue: 16,
    rx_queue: 7680,
    uid: 106,
    inode: 15901,
    drops: 294,
  }]);
});

Deno.test("udp6: ::1 and a full address", () => {
  const s = parseUdpSockets(
    `${HEAD}\n  1: 00000000000000000000000001000000:13C4 B80D0120000000000000000001000000:0050 07 00000000:00000000 00:00000000 00000000 0 0 1 2 0 5\n`,
    "udp6",
  );
  assert.equal(s[0].local, "[::1]:5060");
  assert.equal(s[0].remote, "[2001:db8::1]:80");
});

Deno.test("udp without a drops column (old kernels): drops null", () => {
  const s = parseUdpSockets(
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:0016 00000000:0000 0A 00000015:00000000 00:00000000 00000000     0        0 2740 1 ffff88003d3af3c0 100 0 0 10 0\n",
    "udp",
  );
  assert.equal(s[0].drops, null);
  assert.equal(s[0].port, 22);
});

Deno.test("udp: truncated and garbage lines name the line", () => {
  assert.throws(
    () => parseUdpSockets(`${HEAD}\n  1: 0100007F:13C4 00000000:0000 07\n`, "udp"),
    /^FormatError: \/proc\/net\/udp:2: expected 13 fields starting with 'N:', found 4/,
  );
  assert.throws(
    () =>
      parseUdpSockets(
        `${HEAD}\n  1: 0100007F:13C4 00000000:0000 07 0:0 00:00000000 0 0 0 1 2 0 lots\n`,
        "udp",
      ),
    /udp:2: drops 'lots' is not a number/,
  );
  assert.throws(
    () =>
      parseUdpSockets(
        `${HEAD}\n  1: 7F:13C4 00000000:0000 07 0:0 00:00000000 0 0 0 1 2 0 0\n`,
        "udp",
      ),
    /udp:2: bad address '7F:13C4'/,
  );
  assert.throws(
    () => parseUdpSockets("nonsense\n", "udp6"),
    /^FormatError: \/proc\/net\/udp6:1: expected the 'sl local_address/,
  );
});
