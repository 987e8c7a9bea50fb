import assert from "node:assert/strict";
import { parseConfig } from "../config/load.ts";
import { defaultConfigText } from "./default_config.ts";
import { privateTmpWarnings } from "./private_tmp.ts";

Deno.test("private /tmp: the embedded defaults under systemd are named; the installed config is fine", () => {
  const embedded = parseConfig("{}");
  assert.deepEqual(privateTmpWarnings(embedded, undefined), []);
  const w = privateTmpWarnings(embedded, "/run/sipmi");
  assert.deepEqual(w.map((x) => x.split(" ").slice(0, 2).join(" ")), [
    "fifo.path /tmp/sipmi_fifo",
    "fifo.reply_dir /tmp/",
    "datagram.listen /tmp/sipmi.sock",
  ]);
  assert.match(w[0], /put it under \/run\/sipmi$/);
  assert.deepEqual(privateTmpWarnings(parseConfig(defaultConfigText()), "/run/sipmi"), []);
});
