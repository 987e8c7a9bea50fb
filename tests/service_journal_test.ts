// Logging as journald receives it: when JOURNAL_STREAM names the daemon's
// own stderr (as systemd sets it), each record is one line with a `<N>`
// priority and no timestamp; a JOURNAL_STREAM inherited by a process whose
// stderr goes elsewhere is ignored.

import assert from "node:assert/strict";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** `sipmi serve` with no listeners and a startup call that fails: a few log lines, exit 1. */
async function serveBriefly(journalStream: "own" | string): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "sipmi_journal_" });
  try {
    const config = `${dir}/sipmi.jsonc`;
    await Deno.writeTextFile(
      config,
      JSON.stringify({
        fifo: { enabled: false },
        datagram: { enabled: false },
        http: { enabled: false },
        startup: [{ method: "log_level", params: [99] }],
        startup_failure: "exit",
      }),
    );
    // The shell sets JOURNAL_STREAM to its stderr's device:inode, then
    // becomes deno with that same stderr, as systemd hands it over.
    const own = 'export JOURNAL_STREAM="$(stat -L -c %d:%i /proc/self/fd/2)"; ';
    const r = await new Deno.Command("bash", {
      args: [
        "-c",
        `${journalStream === "own" ? own : ""}exec "$0" run -A "$1" serve --config "$2"`,
        Deno.execPath(),
        MAIN,
        config,
      ],
      env: { NO_COLOR: "1", ...(journalStream === "own" ? {} : { JOURNAL_STREAM: journalStream }) },
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(r.code, 1);
    return new TextDecoder().decode(r.stderr).trim().split("\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("journald: <N> prefixes and no timestamps when JOURNAL_STREAM is this stderr", async () => {
  const lines = await serveBriefly("own");
  assert.ok(lines.length >= 4, lines.join("\n"));
  for (const l of lines) assert.match(l, /^<[1-7]>\S/, l);
  assert.ok(lines.some((l) => l.startsWith("<6>attendant: sipmi starting")), lines.join("\n"));
  assert.ok(
    lines.some((l) => l.startsWith("<4>attendant: no listener is running")),
    lines.join("\n"),
  );
  assert.ok(lines.some((l) => l.startsWith("<5>audit: transport=startup ")), lines.join("\n"));
  assert.ok(lines.some((l) => l.startsWith("<3>attendant: startup call 1 log_level failed")));
});

Deno.test("journald: a JOURNAL_STREAM that is not this stderr is ignored", async () => {
  const lines = await serveBriefly("1:1");
  for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\S+Z (INFO|NOTICE|WARNING|ERROR) /, l);
});
