import assert from "node:assert/strict";
import { parseSnmp, parseSnmp6 } from "./snmp.ts";

Deno.test("snmp: fields by header name, whatever their number", () => {
  const t = parseSnmp(
    "Tcp: RtoAlgorithm MaxConn\nTcp: 1 -1\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors\nUdp: 1 2 3 4 5 6 7\n",
  );
  assert.equal(t.get("Udp")!.RcvbufErrors, 5);
  assert.equal(t.get("Udp")!.MemErrors, undefined);
  assert.equal(t.get("Tcp")!.MaxConn, -1);
});

Deno.test("snmp: mismatched and truncated lines name the line", () => {
  assert.throws(
    () => parseSnmp("Udp: A B C\nUdp: 1 2\n"),
    /^FormatError: \/proc\/net\/snmp:2: Udp: 3 field names but 2 values \(truncated line\?\)/,
  );
  assert.throws(
    () => parseSnmp("Udp: A B\nTcp: 1 2\n"),
    /snmp:2: expected the Udp: value line, found 'Tcp:'/,
  );
  assert.throws(() => parseSnmp("Udp: A B\n"), /snmp:1: Udp: header line without a value line/);
  assert.throws(() => parseSnmp("Udp: A B\nUdp: 1 x\n"), /snmp:2: Udp B: 'x' is not a number/);
  assert.throws(() => parseSnmp("garbage\n"), /snmp:1: expected 'Proto: Field \.\.\.'/);
});

Deno.test("snmp6: Udp6 fields without UdpLite6", () => {
  const t = parseSnmp6("Udp6InErrors   4\nUdp6RcvbufErrors 3\nUdpLite6InErrors 9\n", "Udp6");
  assert.deepEqual(t, { InErrors: 4, RcvbufErrors: 3 });
  assert.throws(
    () => parseSnmp6("Udp6InErrors\n", "Udp6"),
    /^FormatError: \/proc\/net\/snmp6:1: expected 'Name value'/,
  );
});
