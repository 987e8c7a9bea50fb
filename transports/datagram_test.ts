import assert from "node:assert/strict";
import { datagramName, replyIdText } from "./datagram.ts";

Deno.test("datagram: listener names as ps shows them", () => {
  assert.equal(datagramName({ kind: "udp", host: "127.0.0.1", port: 8898 }), "udp:127.0.0.1:8898");
  assert.equal(datagramName({ kind: "udp", host: "::1", port: 8898 }), "udp:[::1]:8898");
  assert.equal(datagramName({ kind: "unix", path: "/tmp/sipmi.sock" }), "unix:/tmp/sipmi.sock");
});

Deno.test("datagram: the id of an oversize reply is the request's, null for batches", () => {
  assert.equal(
    replyIdText('{"jsonrpc":"2.0","result":{"id":5},"id":"x,\\"id\\":1"}'),
    '"x,\\"id\\":1"',
  );
  assert.equal(replyIdText('{"jsonrpc":"2.0","result":[1],"id":12345678901}'), "12345678901");
  assert.equal(replyIdText('{"jsonrpc":"2.0","result":1,"id":null}'), "null");
  assert.equal(replyIdText('[{"jsonrpc":"2.0","result":1,"id":1}]'), "null");
});
