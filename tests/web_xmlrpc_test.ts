// XML-RPC with python's xmlrpc.client.ServerProxy as the real client:
// results as python values, faults with OpenSIPS's codes and strings,
// hostile bodies refused fast, the token (a Basic login in the URL, as
// ServerProxy sends it) and the listener's policy.

import assert from "node:assert/strict";
import type { Json } from "./helpers/python.ts";
import { get, runWithInput, webListener } from "./web_support.ts";

const SCRIPT = new URL("./helpers/xmlrpc_client.py", import.meta.url).pathname;

async function python(job: Record<string, unknown>): Promise<Json> {
  const r = await runWithInput("python3", [SCRIPT], JSON.stringify(job));
  if (r.code !== 0) throw new Error(`xmlrpc_client.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const NOT_FOUND = [-32601, "server error. requested method not found"];
const BAD_PARAMS = [-32602, "server error. invalid method parameters"];
const INVALID = [-32600, "server error. invalid xml-rpc. not conforming to spec."];
const PARSE = [32700, "parse error. not well formed"];

Deno.test("ServerProxy: uptime, help, log_level, named params, listMethods; faults exact", async () => {
  await using w = await webListener();
  const r = await python({
    url: `${w.base}/RPC2`,
    calls: [
      ["uptime", []],
      ["help", ["uptime"]],
      ["log_level", [4]],
      ["log_level", [{ level: 2 }]],
      ["log_level", []],
      ["which", ["log_level"]],
      ["get_statistics", [["mi:requests", "mi:xx"]]],
      ["system.listMethods", []],
      ["system.methodHelp", ["log_level"]],
      ["system.methodHelp", ["system.listMethods"]],
      ["nope", []],
      ["log_level", ["x"]],
      ["log_level", [1, 2, 3]],
      ["log_level", [{ level: 1, nope: 2 }]],
      ["log_level", [99]],
      ["which", ["nope"]],
      ["system.methodHelp", ["nope"]],
    ],
  });
  const [
    uptime,
    help,
    set4,
    named,
    read,
    which,
    stats,
    list,
    methodHelp,
    systemHelp,
    unknown,
    badType,
    tooMany,
    badNames,
    badLevel,
    whichNope,
    helpNope,
  ] = r.calls;
  assert.match(uptime.result["Up time"], /^[0-9]+ \[sec\]$/);
  assert.deepEqual(Object.keys(uptime.result), ["Now", "Up since", "Up time"]);
  assert.deepEqual(help.result, {
    Help:
      "prints various time information about sipmi - when it started to run, for how long it runs",
    "Exported by": "core",
  });
  assert.deepEqual(set4.result, { "New global log level": 4 });
  assert.deepEqual(named.result, { "New global log level": 2 });
  assert.equal(w.mi.log.level, 2);
  assert.ok(Array.isArray(read.result.Processes));
  assert.deepEqual(which.result, [[], ["level"], ["level", "pid"]]);
  assert.equal(typeof stats.result["mi:requests"], "number");
  assert.ok(list.result.includes("uptime") && list.result.includes("system.listMethods"));
  assert.equal(methodHelp.result, "gets/sets the per task or global log level of sipmi");
  assert.match(systemHelp.result, /lists every method/);
  assert.deepEqual(unknown.fault, NOT_FOUND);
  assert.deepEqual(badType.fault, BAD_PARAMS);
  assert.deepEqual(tooMany.fault, BAD_PARAMS);
  assert.deepEqual(badNames.fault, BAD_PARAMS);
  assert.deepEqual(badLevel.fault, BAD_PARAMS);
  assert.deepEqual(whichNope.fault, [404, "unknown MI command"]);
  assert.deepEqual(helpNope.fault, [404, "unknown MI command"]);
  assert.equal(w.mi.log.level, 2, "the refused calls changed nothing");
});

Deno.test("hostile and broken bodies: refused fast with a fault, nothing run", async () => {
  await using w = await webListener();
  const laughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 ${
    [...Array(9).keys()].map((i) =>
      `<!ENTITY lol${i + 2} "${`&lol${i === 0 ? "" : i + 1};`.repeat(10)}">`
    ).join("\n ")
  }
]>
<methodCall><methodName>log_level</methodName><params><param><value><string>&lol10;</string></value></param></params></methodCall>`;
  const external = `<?xml version="1.0"?>
<!DOCTYPE methodCall [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<methodCall><methodName>log_level</methodName><params><param><value>&xxe;</value></param></params></methodCall>`;
  const deep = `<methodCall><methodName>log_level</methodName><params><param><value>${
    "<array><data><value>".repeat(5000)
  }1${"</value></data></array>".repeat(5000)}</value></param></params></methodCall>`;
  const start = w.mi.log.level;
  const r = await python({
    url: `${w.base}/RPC2`,
    raw: [
      { body: laughs },
      { body: external },
      { body: deep },
      { body: "<methodCall><methodName>uptime</methodName>" },
      { body: "<methodCall><params/></methodCall>" },
      {
        body: "<methodCall><methodName>uptime</methodName></methodCall>",
        content_type: "text/plain",
      },
      { body: "" },
    ],
  });
  const [b, x, d, cut, noName, plain, empty] = r.raw;
  for (const e of [b, x, d]) {
    assert.equal(e.status, 200);
    assert.deepEqual(e.fault, INVALID);
    assert.ok(e.ms < 2000, `answered in ${e.ms} ms`);
  }
  assert.deepEqual(cut.fault, PARSE);
  assert.deepEqual(noName.fault, INVALID);
  assert.equal(plain.status, 415);
  assert.match(plain.body, /Content-Type 'text\/plain': send text\/xml/);
  assert.equal(empty.status, 400);
  assert.equal(w.mi.log.level, start);
  assert.equal((await get(`${w.base}/RPC2`)).status, 405);
});

Deno.test("XML-RPC behind the token (ServerProxy's user:password URL) and the policy", async () => {
  await using w = await webListener({
    http: {
      auth: { token: "s3cret", token_file: "" },
      commands: { allow: [], deny: ["log_level"], read_only: false },
    },
  });
  const host = w.base.replace("http://", "");
  const r = await python({
    url: `http://sipmi:s3cret@${host}/RPC2`,
    calls: [["uptime", []], ["log_level", [4]]],
  });
  assert.ok(r.calls[0].result["Up time"]);
  assert.deepEqual(r.calls[1].fault, [403, "Forbidden"]);
  const anon = await python({ url: `${w.base}/RPC2`, calls: [["uptime", []]] });
  assert.equal(anon.calls[0].error, "HTTP 401 Unauthorized");
});
