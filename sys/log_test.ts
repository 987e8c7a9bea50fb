import assert from "node:assert/strict";
import { Log, oneLine, stderrIsJournal } from "./log.ts";

Deno.test("log: one record per line; control characters escaped", () => {
  assert.equal(oneLine("a\nb\r\x1bc\td"), "a\\nb\\r\\x1bc\td");
  const lines: string[] = [];
  const plain = new Log(3, { journal: false, sink: (l) => lines.push(l) });
  plain.logger("t").error("first\nforged line");
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^\d{4}-\d\d-\d\dT[\d:.]+Z ERROR t: first\\nforged line$/);
  const journal = new Log(3, { journal: true, sink: (l) => lines.push(l) });
  journal.logger("t").warn("x\ny");
  journal.logger("t").debug("hidden at level 3");
  journal.audit([["transport", "udp"], ["peer", "a b"]], ["params", "[1]"]);
  assert.deepEqual(lines.slice(1), [
    "<4>t: x\\ny",
    '<5>audit: transport=udp peer="a b" params=[1]',
  ]);
});

Deno.test("log: JOURNAL_STREAM counts only when it names this process's stderr", () => {
  assert.equal(stderrIsJournal(undefined), false);
  assert.equal(stderrIsJournal(""), false);
  assert.equal(stderrIsJournal("garbage"), false);
  const st = Deno.statSync("/proc/self/fd/2");
  assert.equal(stderrIsJournal(`${st.dev}:${st.ino}`), true);
  assert.equal(stderrIsJournal(`${st.dev}:${(st.ino ?? 0) + 1}`), false);
});
