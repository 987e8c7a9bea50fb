// In-process: each listener can be stopped and started again on its own
// (what a config reload does), the others keep serving, `ps` follows.

import assert from "node:assert/strict";
import { buildMi } from "../app.ts";
import { parseConfig } from "../config/load.ts";
import { Daemon, listenersFrom } from "../service/daemon.ts";
import { Log } from "../sys/log.ts";
import { baseConfig, makePaths } from "./helpers/daemon.ts";
import { py, req } from "./helpers/python.ts";

Deno.test("daemon: restart one listener at a time; stop removes the files", async () => {
  const p = await makePaths();
  try {
    const config = parseConfig(JSON.stringify(baseConfig(p)));
    const lines: string[] = [];
    const mi = buildMi(config, { log: new Log(3, { journal: false, sink: (l) => lines.push(l) }) });
    const daemon = new Daemon(mi, listenersFrom(mi, config));
    await daemon.start();
    const types = () => mi.tasks.list().map((t) => t.type);
    const fifo = async (id: string) =>
      JSON.parse(
        (await py({ op: "fifo", fifo: p.fifo, reply_dir: p.replyDir, request: req("uptime", id) }))
          .reply,
      ).id;
    const udp = async (id: number) =>
      JSON.parse(
        (await py({ op: "udp", host: "127.0.0.1", port: p.udpPort, data: req("uptime", id) }))
          .reply,
      ).id;
    try {
      assert.equal(await fifo("a"), "a");
      const before = types();
      for (const name of daemon.running) {
        await daemon.restart(name, 1000);
        assert.equal(await udp(1), 1, `UDP after restarting ${name}`);
        assert.equal(await fifo("b"), "b", `FIFO after restarting ${name}`);
      }
      // One task per listener still, in a new order (restarted ones come last).
      assert.deepEqual([...types()].sort(), [...before].sort());
    } finally {
      await daemon.stop(2000);
    }
    assert.deepEqual(types(), ["attendant"]);
    assert.equal(await Deno.lstat(p.fifo).then(() => true, () => false), false);
    assert.equal(await Deno.lstat(p.sock).then(() => true, () => false), false);
    assert.ok(!lines.some((l) => / ERROR /.test(l)), lines.join("\n"));
  } finally {
    await Deno.remove(p.dir, { recursive: true });
  }
});
