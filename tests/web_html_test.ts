// The HTML interface over a real socket: pages, statuses with their own
// pages, GET runs read-only, state changes only from this page's forms
// (POST with the form token, not cross-site), every reply escaped, the
// bearer token (or a Basic login carrying it) and the listener's policy.

import assert from "node:assert/strict";
import { MiError } from "../mi/jsonrpc.ts";
import type { MiModule } from "../mi/registry.ts";
import { formToken, get, postForm, textOf, webListener } from "./web_support.ts";

const XSS = "<script>alert(1)</script>";
const BREAKOUT = '"><img src=x onerror=alert(1)>';

/** A module whose replies, help and errors are full of markup. */
const hostile: MiModule = {
  name: "hostile",
  commands: [{
    name: "hostile_echo",
    help: `echoes ${XSS}`,
    recipes: [[], ["text"]],
    handler: (p) => {
      if (p.has("text")) throw new MiError(500, `no ${p.str("text")}`, p.str("text"));
      return { [XSS]: BREAKOUT, list: [XSS, BREAKOUT] };
    },
  }],
};

Deno.test("pages: modules, a module's commands, a command's forms; GET ?arg= runs it", async () => {
  await using w = await webListener();
  const home = await get(`${w.base}/html`);
  assert.equal(home.status, 200);
  assert.match(home.headers.get("content-type")!, /^text\/html/);
  assert.match(home.headers.get("content-security-policy")!, /default-src 'none'/);
  assert.ok(home.text.startsWith("<!DOCTYPE html>"));
  for (const m of ["statistics", "core", "tuning"]) {
    assert.match(home.text, new RegExp(`href="/html/${m}"`));
  }
  assert.match(home.text, /href="\/html\/host"/);
  assert.equal((await get(`${w.base}/html/`)).status, 200);

  const core = await get(`${w.base}/html/core`);
  assert.match(core.text, /<a href="\/html\/core\/uptime">uptime<\/a>/);
  assert.match(core.text, /log_level<\/a><span class="tag">may change state/);

  const form = await get(`${w.base}/html/core/log_level`);
  assert.equal(textOf(form.text, "reply"), undefined);
  // The recipe without params reads (GET); the others change state (POST with the token).
  assert.match(
    form.text,
    /<form method="get" action="\/html\/core\/log_level"><input type="hidden" name="recipe" value="0"\/>/,
  );
  assert.match(
    form.text,
    /<form method="post" action="\/html\/core\/log_level"><input type="hidden" name="token" value="[0-9a-f]{48}"\/><input type="hidden" name="recipe" value="1"\/><label>level/,
  );

  const up = await get(`${w.base}/html/core/uptime?arg=`);
  assert.equal(up.status, 200);
  assert.match(JSON.parse(textOf(up.text, "result")!)["Up time"], /^[0-9]+ \[sec\]$/);
  const which = await get(`${w.base}/html/core/which?arg=${encodeURIComponent('["log_level"]')}`);
  assert.deepEqual(JSON.parse(textOf(which.text, "result")!), [[], ["level"], ["level", "pid"]]);
  const help = await get(`${w.base}/html/core/help?recipe=1&p.mi_cmd=uptime`);
  assert.equal(JSON.parse(textOf(help.text, "result")!)["Exported by"], "core");
  // A command's own error is shown in the page, as mi_html does.
  const nope = await get(`${w.base}/html/core/which?arg=${encodeURIComponent('["nope"]')}`);
  assert.equal(nope.status, 200);
  assert.match(nope.text, /Error 404: unknown MI command/);
  const badType = await get(`${w.base}/html/core/which?arg=${encodeURIComponent('{"command":5}')}`);
  assert.match(badType.text, /Error -32602: Invalid params/);
  assert.equal(textOf(badType.text, "error-data"), "Bad type for parameter 'command'");
});

Deno.test("statuses: 406 unknown module or command, 500 bad arg, 405 other methods, each a page", async () => {
  await using w = await webListener();
  const before = w.mi.stats.counter("mi", "http_requests").v;
  const cases: [string, RequestInit, number, RegExp][] = [
    ["/html/nope", {}, 406, /there is no module &#39;nope&#39;/],
    ["/html/core/nope", {}, 406, /module &#39;core&#39; has no command &#39;nope&#39;/],
    ["/html/tuning/uptime", {}, 406, /module &#39;tuning&#39; has no command &#39;uptime&#39;/],
    ["/html/core/uptime/x", {}, 406, /nothing is at \/html\/core\/uptime\/x/],
    ["/html/core/uptime?arg=%5B1", {}, 500, /arg is not JSON/],
    ["/html/core/uptime", { method: "PUT" }, 405, /PUT is not served here/],
    ["/html", { method: "DELETE" }, 405, /DELETE is not served here/],
    ["/html/core", { method: "POST" }, 405, /POST is not served here/],
  ];
  for (const [path, init, status, body] of cases) {
    const r = await get(`${w.base}${path}`, init);
    assert.equal(r.status, status, path);
    assert.match(r.headers.get("content-type")!, /^text\/html/, path);
    assert.match(r.text, body, path);
    assert.match(r.text, /Back to the modules/, path);
  }
  // Each was refused before the core: one request each on this transport's count.
  assert.equal(w.mi.stats.counter("mi", "http_requests").v - before, cases.length);
});

Deno.test("state changes only on POST from this page's form; GET and cross-site posts change nothing", async () => {
  await using w = await webListener({ http: { body_limit: 256 } });
  const url = `${w.base}/html/core/log_level`;
  const token = formToken((await get(url)).text);
  const level = () => w.mi.log.level;
  const start = level();

  // GET never changes the host, whatever it asks.
  for (
    const q of ["arg=%5B4%5D", "recipe=1&p.level=4", `arg=${encodeURIComponent('{"level":4}')}`]
  ) {
    const r = await get(`${url}?${q}`);
    assert.equal(r.status, 200);
    assert.match(r.text, /Error 403: Forbidden/);
    assert.match(r.text, /A GET never changes anything/);
  }
  // Reading through the same command is fine.
  assert.ok(JSON.parse(textOf((await get(`${url}?arg=`)).text, "result")!).Processes);
  assert.equal(level(), start);

  const same = { origin: w.base, "sec-fetch-site": "same-origin" };
  const refusals: [Record<string, string>, Record<string, string>, number, RegExp][] = [
    [{ recipe: "1", "p.level": "4" }, same, 403, /form token/],
    [{ token: "0".repeat(48), recipe: "1", "p.level": "4" }, same, 403, /form token/],
    [
      { token, recipe: "1", "p.level": "4" },
      { "sec-fetch-site": "cross-site" },
      403,
      /another site/,
    ],
    [
      { token, recipe: "1", "p.level": "4" },
      { "sec-fetch-site": "same-site" },
      403,
      /another site/,
    ],
    [
      { token, recipe: "1", "p.level": "4" },
      { origin: "http://127.0.0.1:1" },
      403,
      /came from a page of/,
    ],
    [
      { token, arg: "[4]" },
      { ...same, "content-type": "text/plain" },
      415,
      /one of the page&#39;s forms/,
    ],
    [{ token, arg: "[4]" }, { ...same, "content-type": "application/json" }, 415, /forms/],
    [
      { token, arg: `[4, "${"x".repeat(300)}"]` },
      same,
      413,
      /exceeds the limit of 256 bytes \(http.body_limit\)/,
    ],
  ];
  for (const [fields, headers, status, body] of refusals) {
    const r = await postForm(url, fields, headers);
    assert.equal(r.status, status, JSON.stringify([fields, headers]));
    assert.match(r.text, body);
    assert.equal(level(), start, "nothing was run");
  }
  // The other ways a cross-site page could try: /mi and /RPC2 without their content types.
  const mi = await get(`${w.base}/mi`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: '{"jsonrpc":"2.0","method":"log_level","params":[4],"id":1}',
  });
  assert.equal(mi.status, 415);
  const rpc = await get(`${w.base}/RPC2`, {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: '<?xml version="1.0"?><methodCall><methodName>log_level</methodName>' +
      "<params><param><value><int>4</int></value></param></params></methodCall><!-- =x -->",
  });
  assert.equal(rpc.status, 415);
  assert.equal(level(), start);

  // From the page itself: it runs.
  const ok = await postForm(url, { token, recipe: "1", "p.level": "4" }, same);
  assert.equal(ok.status, 200);
  assert.deepEqual(JSON.parse(textOf(ok.text, "result")!), { "New global log level": 4 });
  assert.equal(level(), 4);
  // Without browser headers (curl with the token from the page) too; the arg box as well.
  const raw = await postForm(url, { token, arg: "[2]" });
  assert.deepEqual(JSON.parse(textOf(raw.text, "result")!), { "New global log level": 2 });
  assert.equal(level(), 2);
  // The value sent is shown again in its field.
  assert.match(ok.text, /name="p.level" required="" value="4"/);
});

Deno.test("XSS: replies, help, errors and echoed input render as text", async () => {
  await using w = await webListener({ modules: [hostile] });
  const pages = [
    await get(`${w.base}/html/hostile/hostile_echo?arg=`),
    await get(`${w.base}/html/hostile`),
    await get(
      `${w.base}/html/hostile/hostile_echo?arg=${
        encodeURIComponent(JSON.stringify([`</textarea>${XSS}`]))
      }`,
    ),
    await get(
      `${w.base}/html/hostile/hostile_echo?recipe=1&p.text=${encodeURIComponent(BREAKOUT + XSS)}`,
    ),
    await get(`${w.base}/html/${encodeURIComponent(XSS)}`),
    await get(`${w.base}/html/hostile/${encodeURIComponent(BREAKOUT)}`),
  ];
  for (const p of pages) {
    assert.doesNotMatch(p.text, /<script/i);
    assert.doesNotMatch(p.text, /<img/i);
  }
  const [reply, module, echoed, error, badModule] = pages;
  assert.match(error.text, /Error 500: no &quot;&gt;&lt;img/);
  assert.deepEqual(JSON.parse(textOf(reply.text, "result")!), {
    [XSS]: BREAKOUT,
    list: [XSS, BREAKOUT],
  });
  assert.match(reply.text, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(reply.text, /&quot;&gt;&lt;img src=x onerror=alert\(1\)&gt;/);
  assert.match(module.text, /echoes &lt;script&gt;/);
  assert.match(echoed.text, /<textarea name="arg">\[&quot;&lt;\/textarea&gt;&lt;script&gt;/);
  // The field echoes its value inside an attribute: the quote is escaped.
  assert.match(error.text, /value="&quot;&gt;&lt;img src=x onerror=alert\(1\)&gt;&lt;script&gt;/);
  assert.equal(badModule.status, 406);
});

Deno.test("auth: every page needs the token; a browser gets a Basic login that carries it", async () => {
  await using w = await webListener({ http: { auth: { token: "s3cret", token_file: "" } } });
  const page = `${w.base}/html/core/uptime?arg=`;
  const browser = { accept: "text/html,application/xhtml+xml" };
  const none = await get(page, { headers: browser });
  assert.equal(none.status, 401);
  assert.equal(none.headers.get("www-authenticate"), 'Basic realm="sipmi", Bearer realm="sipmi"');
  assert.equal((await get(page)).headers.get("www-authenticate"), 'Bearer realm="sipmi"');
  const basic = (user: string, pass: string) => ({
    ...browser,
    authorization: `Basic ${btoa(`${user}:${pass}`)}`,
  });
  assert.equal((await get(page, { headers: basic("admin", "wrong") })).status, 401);
  assert.equal((await get(page, { headers: basic("admin", "s3cret2") })).status, 401);
  assert.equal((await get(page, { headers: { authorization: "Basic !!!" } })).status, 401);
  const ok = await get(page, { headers: basic("admin", "s3cret") });
  assert.equal(ok.status, 200);
  assert.match(textOf(ok.text, "result")!, /Up time/);
  assert.equal((await get(page, { headers: basic("", "s3cret") })).status, 200);
  assert.equal((await get(page, { headers: { authorization: "Bearer s3cret" } })).status, 200);
  for (const path of ["/html/host", "/RPC2", "/metrics", "/html/core/log_level"]) {
    assert.equal((await get(`${w.base}${path}`)).status, 401, path);
  }
  // The login alone does not let a form post: the form token is still needed.
  const url = `${w.base}/html/core/log_level`;
  const token = formToken((await get(url, { headers: basic("a", "s3cret") })).text);
  const start = w.mi.log.level;
  const cross = await postForm(url, { recipe: "1", "p.level": "4" }, basic("a", "s3cret"));
  assert.equal(cross.status, 403);
  assert.equal(w.mi.log.level, start);
  const own = await postForm(url, { token, recipe: "1", "p.level": "4" }, basic("a", "s3cret"));
  assert.equal(own.status, 200);
  assert.equal(w.mi.log.level, 4);
});

Deno.test("the listener's command policy applies to the page as to /mi", async () => {
  await using w = await webListener({
    http: { commands: { allow: [], deny: ["uptime"], read_only: true } },
  });
  const denied = await get(`${w.base}/html/core/uptime?arg=`);
  assert.match(denied.text, /Error 403: Forbidden/);
  assert.match(
    textOf(denied.text, "error-data")!,
    /command 'uptime' is denied on http:127\.0\.0\.1:/,
  );
  const url = `${w.base}/html/core/log_level`;
  const token = formToken((await get(url)).text);
  const start = w.mi.log.level;
  const post = await postForm(url, { token, arg: "[4]" });
  assert.match(
    textOf(post.text, "error-data")!,
    /changes state; http:127\.0\.0\.1:[0-9]+ is read-only/,
  );
  assert.equal(w.mi.log.level, start);
});
