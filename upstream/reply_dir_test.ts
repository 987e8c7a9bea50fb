import assert from "node:assert/strict";
import { ensureReplyDir } from "./reply_dir.ts";

Deno.test("ensureReplyDir: made private; a dir others can enter, a symlink or a file are refused and left alone", async () => {
  const root = await Deno.makeTempDir({ prefix: "sipmi_reply_dir_" });
  try {
    const fifo = `${root}/server_fifo`; // absent: the router is down
    const made = `${root}/a/b/`;
    assert.equal(await ensureReplyDir(made, fifo), undefined);
    assert.equal((await Deno.stat(made)).mode! & 0o777, 0o700);
    // Again: nothing to change.
    assert.equal(await ensureReplyDir(made, fifo), undefined);

    const open = `${root}/open`;
    await Deno.mkdir(open);
    await Deno.chmod(open, 0o755);
    await assert.rejects(
      () => ensureReplyDir(open, fifo),
      /open is not private \(mode 0755, owner uid \d+\): .*name another reply_dir/,
    );
    assert.equal((await Deno.stat(open)).mode! & 0o777, 0o755, "left as it was");

    await Deno.symlink(made, `${root}/link`);
    await assert.rejects(() => ensureReplyDir(`${root}/link`, fifo), /link is not a directory/);
    await Deno.writeTextFile(`${root}/file`, "");
    await assert.rejects(() => ensureReplyDir(`${root}/file`, fifo), /file is not a directory/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("ensureReplyDir: reply FIFOs a crashed sipmi left behind go, fresh ones and other files stay", async () => {
  const root = await Deno.makeTempDir({ prefix: "sipmi_reply_dir_" });
  try {
    await Deno.chmod(root, 0o700);
    const mk = async (name: string) => {
      const r = await new Deno.Command("mkfifo", { args: [`${root}/${name}`] }).output();
      assert.ok(r.success);
    };
    await mk("sipmi_mi_reply_4242_0123abcd");
    await mk("sipmi_mi_reply_4243_89abcdef");
    await mk("someone_else");
    const old = new Date(Date.now() - 10 * 60_000);
    await Deno.utime(`${root}/sipmi_mi_reply_4242_0123abcd`, old, old);
    await Deno.utime(`${root}/someone_else`, old, old);
    await ensureReplyDir(root, `${root}/none`);
    const left = [...Deno.readDirSync(root)].map((e) => e.name).sort();
    assert.deepEqual(left, ["sipmi_mi_reply_4243_89abcdef", "someone_else"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
