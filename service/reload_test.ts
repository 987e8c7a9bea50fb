import assert from "node:assert/strict";
import { parseConfig } from "../config/load.ts";
import { changedKeys } from "./reload.ts";

Deno.test("reload: the config keys that differ, dotted", () => {
  const a = parseConfig("{}");
  const b = parseConfig(
    '{"log_level": 4, "http": {"listen": "127.0.0.1:9"}, "tuning": {"sip": {"ports": [5060, 5080]}}, "startup": [{"method": "uptime"}]}',
  );
  assert.deepEqual(changedKeys(a, b), ["log_level", "http.listen", "tuning.sip.ports", "startup"]);
  assert.deepEqual(changedKeys(a, parseConfig("{}")), []);
});
