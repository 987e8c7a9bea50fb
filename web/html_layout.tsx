// The frame of every HTML page: title, the server string, the module menu,
// small CSS, no script. hono/jsx escapes every string it renders, in text
// and in attributes; the only raw text is the CSS below, a constant.

import type { Child, FC } from "hono/jsx";
import { raw } from "hono/html";
import { serverString } from "../mi/core_cmds.ts";

/** The headers of every page: nothing runs, nothing is cached, no framing, no referrer to other sites. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null`
  // on the page's own form posts, which the cross-site check must refuse.
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
};

const CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2329;background:#f6f7f9}
header{background:#22303c;color:#fff;padding:10px 20px}
header a{color:#fff;text-decoration:none;font-weight:600}
header .server{color:#b9c6d2;font-size:12px;margin-left:12px}
nav{background:#e4e8ec;padding:6px 20px}
nav a{margin-right:14px;color:#22303c}
nav a.cur{font-weight:700;text-decoration:none}
main{padding:14px 20px;max-width:1500px}
h1{font-size:20px;margin:6px 0 12px}
h2{font-size:16px;margin:18px 0 8px}
table{border-collapse:collapse;background:#fff}
td,th{border:1px solid #d4dae0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4}
pre{background:#fff;border:1px solid #d4dae0;padding:10px;overflow:auto;max-height:70vh;margin:0}
form{background:#fff;border:1px solid #d4dae0;padding:8px 10px;margin:0 0 10px;display:inline-block;vertical-align:top;margin-right:10px}
label{display:block;margin:2px 0}
input[type=text]{width:16em}
textarea{width:28em;height:4em;font-family:monospace}
button{margin-top:4px}
.muted{color:#66727e}
.tag{font-size:11px;border:1px solid #c98a00;color:#8a5d00;border-radius:3px;padding:0 4px;margin-left:6px}
.ok{border-left:4px solid #2e8540;padding-left:8px}
.err{border-left:4px solid #c0392b;padding-left:8px}
.err h2{color:#c0392b}
.findings li{margin-bottom:6px}
.warning{color:#b03a2e;font-weight:600}
.info{color:#2c5f8a;font-weight:600}
.cols{display:flex;gap:18px;align-items:flex-start;flex-wrap:wrap}
.cols > div{min-width:320px;flex:1 1 360px}
.cols > div.pic{flex:0 1 auto;background:#fff;border:1px solid #d4dae0;padding:6px;overflow:auto;max-width:100%}
`;

export interface LayoutProps {
  title: string;
  /** The HTML root without slashes (`html`). */
  root: string;
  modules: readonly string[];
  /** The module (or `host`) whose menu entry is the current one. */
  current?: string;
  children?: Child;
}

export const Layout: FC<LayoutProps> = (p) => (
  <>
    {raw("<!DOCTYPE html>")}
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{p.title} · sipmi</title>
        <style dangerouslySetInnerHTML={{ __html: CSS }} />
      </head>
      <body>
        <header>
          <a href={`/${p.root}`}>sipmi management interface</a>
          <span class="server">{serverString()}</span>
        </header>
        <nav>
          {p.modules.map((m) => (
            <a
              key={m}
              href={`/${p.root}/${encodeURIComponent(m)}`}
              class={m === p.current ? "cur" : undefined}
            >
              {m}
            </a>
          ))}
          <a href={`/${p.root}/host`} class={p.current === "host" ? "cur" : undefined}>
            host picture
          </a>
        </nav>
        <main>{p.children}</main>
      </body>
    </html>
  </>
);
