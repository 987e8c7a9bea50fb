import assert from "node:assert/strict";
import { crossSiteReason, FORM_TOKEN, isFormToken } from "./cross_site.ts";

Deno.test("the form token: random, compared whole", () => {
  assert.match(FORM_TOKEN, /^[0-9a-f]{48}$/);
  assert.equal(isFormToken(FORM_TOKEN), true);
  assert.equal(isFormToken(FORM_TOKEN.slice(1)), false);
  assert.equal(isFormToken(FORM_TOKEN.replace(/.$/, (c) => (c === "0" ? "1" : "0"))), false);
  assert.equal(isFormToken(""), false);
  assert.equal(isFormToken(null), false);
});

Deno.test("browser headers from another site are refused; clients without them pass", () => {
  const at = (headers: Record<string, string>) =>
    crossSiteReason(new Request("http://127.0.0.1:8899/html/core/log_level", { headers }));
  assert.equal(at({}), undefined);
  assert.equal(at({ "sec-fetch-site": "same-origin", origin: "http://127.0.0.1:8899" }), undefined);
  assert.equal(at({ host: "sip1.example:8899", origin: "http://sip1.example:8899" }), undefined);
  assert.match(at({ "sec-fetch-site": "cross-site" })!, /another site/);
  // Another port of the same host is "same-site" for a browser, and still another origin.
  assert.match(at({ "sec-fetch-site": "same-site" })!, /another site/);
  assert.match(at({ origin: "http://127.0.0.1:8888" })!, /http:\/\/127.0.0.1:8888/);
  assert.match(at({ origin: "null" })!, /not a URL/);
});
