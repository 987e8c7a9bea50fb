import assert from "node:assert/strict";
import { opensipsConfig } from "./peers.ts";

const CFG = new URL("./opensips.cfg", import.meta.url).pathname;

Deno.test("bench: every @MPATH@ of opensips.cfg is replaced, the comment's and mpath's", async () => {
  const template = await Deno.readTextFile(CFG);
  assert.ok(template.split("@MPATH@").length > 2, "the template names the placeholder twice");
  const text = opensipsConfig(template, "/opt/opensips/lib64/opensips/modules");
  assert.ok(!text.includes("@MPATH@"), text);
  assert.match(text, /^mpath="\/opt\/opensips\/lib64\/opensips\/modules\/"$/m);
  // A trailing slash is not doubled.
  assert.match(opensipsConfig(template, "/m/"), /^mpath="\/m\/"$/m);
});

const BIN = Deno.env.get("SIPMI_BENCH_OPENSIPS");
const MPATH = Deno.env.get("SIPMI_BENCH_OPENSIPS_MPATH");
if (!BIN || !MPATH) {
  console.log(
    "bench/peers_test.ts: opensips -c skipped: SIPMI_BENCH_OPENSIPS and SIPMI_BENCH_OPENSIPS_MPATH are not set",
  );
}

Deno.test({
  name: "bench: OpenSIPS accepts the substituted opensips.cfg (opensips -c)",
  ignore: !BIN || !MPATH,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "sipmi_opensips_cfg_" });
    try {
      const cfg = `${dir}/opensips.cfg`;
      await Deno.writeTextFile(cfg, opensipsConfig(await Deno.readTextFile(CFG), MPATH!));
      const out = await new Deno.Command(BIN!, {
        args: ["-c", "-f", cfg],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      assert.ok(out.success, dec.decode(out.stderr) + dec.decode(out.stdout));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
