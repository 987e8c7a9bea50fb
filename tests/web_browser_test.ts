// The HTML interface in a real browser: Debian's Chromium driven by
// playwright-core, against `sipmi serve` on the 16-CPU fixture root. It
// follows the links to uptime and runs it, submits a log_level form, opens
// the host picture, and saves screenshots in tests/output/ (git-ignored).
// Then a page of another origin tries the cross-site attacks a browser
// allows (a form post to the page, a text/plain form to /RPC2, a form to
// /mi): none changes anything. Markup in a reply runs no script.

import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { freeTcpPort, startDaemon } from "./helpers/daemon.ts";
import { buildSixteenRoot, unitProcess, writeFiles } from "./web_sixteen_root.ts";

const CHROMIUM = "/usr/bin/chromium";
const OUTPUT = new URL("./output/", import.meta.url).pathname;
// Without the background-networking flags Chromium opens connections of its own.
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const MARKUP = "<img src=x onerror=alert(1)>";

function chromiumMissing(): string | undefined {
  try {
    Deno.statSync(CHROMIUM);
    return undefined;
  } catch {
    return `${CHROMIUM} is not installed (Debian package chromium; .ci/run installs it)`;
  }
}

Deno.test({
  name:
    "browser: modules → uptime, a log_level form, the host picture; cross-site pages change nothing",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const missing = chromiumMissing();
    if (missing) {
      console.log(`SKIP browser test: ${missing}`);
      return;
    }
    await Deno.mkdir(OUTPUT, { recursive: true });
    const root = await Deno.makeTempDir({ prefix: "sipmi_browser_root_" });
    const profile = await Deno.makeTempDir({ prefix: "sipmi_chromium_" });
    let attacker: Deno.HttpServer | undefined;
    try {
      await buildSixteenRoot(root);
      // A process whose name is markup, for affinity_get to show.
      await writeFiles(
        root,
        unitProcess("evil.service", 4444, ["/bin/evil", MARKUP], [[4444, MARKUP, "0-15"]]),
      );
      await using d = await startDaemon((c) => ({ ...c, tuning: { root } }));
      const base = `http://127.0.0.1:${d.httpPort}`;
      const ctx = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: FLAGS,
        viewport: { width: 1280, height: 900 },
      });
      try {
        const page = await ctx.newPage();
        page.setDefaultTimeout(20000);
        const dialogs: string[] = [];
        page.on("dialog", (dlg) => {
          dialogs.push(dlg.message());
          dlg.dismiss().catch(() => {});
        });

        // Modules → core → uptime → run.
        await page.goto(`${base}/html`);
        await page.click('main a[href="/html/core"]');
        await page.click('a[href="/html/core/uptime"]');
        await page.click("text=Run uptime: (no parameters)");
        const up = JSON.parse((await page.textContent("#result"))!);
        assert.match(up["Up time"], /^[0-9]+ \[sec\]$/);
        assert.match(page.url(), /\/html\/core\/uptime\?recipe=0$/);
        await page.screenshot({ path: `${OUTPUT}html_uptime.png`, fullPage: true });

        // A log_level form: it posts, with the page's form token.
        await page.goto(`${base}/html/core/log_level`);
        await page.fill('form[method="post"] input[name="p.level"] >> nth=0', "4");
        await page.click("text=Run log_level: level");
        assert.deepEqual(JSON.parse((await page.textContent("#result"))!), {
          "New global log level": 4,
        });
        await page.screenshot({ path: `${OUTPUT}html_log_level.png`, fullPage: true });
        const level = async () => {
          const r = await fetch(`${base}/html/core/log_level?arg=`);
          const html = await r.text();
          const m = /&quot;Log level&quot;: (-?[0-9]+)/.exec(html);
          return Number(m![1]);
        };
        assert.equal(await level(), 4);

        // Markup from the host (a process name) is text, and runs nothing.
        const arg = encodeURIComponent(JSON.stringify({ name: "onerror", threads: true }));
        await page.goto(`${base}/html/tuning/affinity_get?arg=${arg}`);
        assert.match(
          (await page.textContent("#result"))!,
          /"comm": "<img src=x onerror=alert\(1\)>"/,
        );
        assert.equal(await page.locator("main img").count(), 0);

        // The host picture.
        await page.goto(`${base}/html/host`);
        assert.ok(await page.locator("#picture svg").isVisible());
        assert.match((await page.textContent("#mismatch"))!, /where no SIP thread runs/);
        await page.screenshot({ path: `${OUTPUT}html_host.png`, fullPage: true });
        await page.screenshot({ path: `${OUTPUT}html_host_view.png` });
        await page.locator("#picture svg").screenshot({ path: `${OUTPUT}host_picture.png` });

        // Another origin's page tries what a browser lets it do.
        const evilPort = freeTcpPort();
        const forms = {
          "/page": `<form method="post" action="${base}/html/core/log_level">` +
            `<input name="recipe" value="1"><input name="p.level" value="-3"></form>`,
          "/rpc": `<form method="post" enctype="text/plain" action="${base}/RPC2">` +
            `<input name='<?xml version="1.0"?><methodCall><methodName>log_level</methodName><params><param><value><int>-3</int></value></param></params></methodCall><!-- ' value=" -->"></form>`,
          "/mi": `<form method="post" enctype="text/plain" action="${base}/mi">` +
            `<input name='{"jsonrpc":"2.0","method":"log_level","params":[-3],"id":1,"x":"' value='"}'></form>`,
        };
        attacker = Deno.serve({ hostname: "127.0.0.1", port: evilPort, onListen() {} }, (req) => {
          const body = forms[new URL(req.url).pathname as keyof typeof forms];
          if (!body) return new Response("no", { status: 404 });
          return new Response(
            `<!DOCTYPE html><body>${body}<script>document.forms[0].submit()</script></body>`,
            { headers: { "content-type": "text/html" } },
          );
        });
        const statuses: number[] = [];
        for (const path of Object.keys(forms)) {
          const [response] = await Promise.all([
            page.waitForResponse((r) => r.url().startsWith(base)),
            page.goto(`http://127.0.0.1:${evilPort}${path}`),
          ]);
          statuses.push(response.status());
        }
        assert.deepEqual(statuses, [403, 415, 415]);
        assert.equal(await level(), 4, "no cross-site page changed the log level");
        assert.deepEqual(dialogs, [], "no script ran");
      } finally {
        await ctx.close();
      }
    } finally {
      await attacker?.shutdown();
      await Deno.remove(root, { recursive: true }).catch(() => {});
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  },
});
