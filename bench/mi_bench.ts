// Micro-benchmarks of the MI hot path (`deno task bench micro`, or
// `deno bench -A bench/`): decode, recipe matching, encode, and a whole
// request through the core.

import { decodeRequest, resultReply } from "../mi/jsonrpc.ts";
import { matchRecipe } from "../mi/params.ts";
import { testMi } from "../mi/testkit.ts";

const LIMITS = { maxDepth: 64, maxBatch: 256 };
const UPTIME = '{"jsonrpc":"2.0","method":"uptime","id":1}';
const PYTHON = '{"jsonrpc": "2.0", "id": "12345", "method": "log_level", "params": {"level": 3}}';
const FLOAT_ID = '{"jsonrpc":"2.0","method":"uptime","id":1.50}';
const LOG_LEVEL = [[], ["level"], ["level", "pid"]];

Deno.bench("decode: uptime, numeric id", { group: "decode", baseline: true }, () => {
  decodeRequest(UPTIME, LIMITS);
});
Deno.bench("decode: python opensips style, named params", { group: "decode" }, () => {
  decodeRequest(PYTHON, LIMITS);
});
Deno.bench("decode: id 1.50 echoed exactly", { group: "decode" }, () => {
  decodeRequest(FLOAT_ID, LIMITS);
});

Deno.bench("recipe: positional [3]", { group: "recipe", baseline: true }, () => {
  matchRecipe(LOG_LEVEL, [3]);
});
Deno.bench("recipe: named {level, pid}", { group: "recipe" }, () => {
  matchRecipe(LOG_LEVEL, { pid: 1, level: 3 });
});

const RESULT = {
  Now: "Mon Nov 23 07:54:49 2026",
  "Up since": "Mon Nov 23 07:52:27 2026",
  "Up time": "142 [sec]",
};
Deno.bench("encode: uptime result", { group: "encode" }, () => {
  resultReply(JSON.stringify(RESULT), "1");
});

const mi = testMi();
Deno.bench("core: uptime request to reply text", { group: "core", baseline: true }, () => {
  mi.ep.handle(UPTIME);
});
Deno.bench("core: get_statistics mi: (async handler)", { group: "core" }, async () => {
  await mi.ep.handle('{"jsonrpc":"2.0","method":"get_statistics","params":[["mi:"]],"id":1}');
});
const peer = () => "127.0.0.1:5060";
Deno.bench("core: uptime with a peer (as the datagram and HTTP listeners call it)", {
  group: "core",
}, () => {
  mi.ep.handle(UPTIME, peer);
});
