// The runtime's own floor for HTTP, the reference rows of `deno task bench`:
// a bare Deno.serve JSON responder. It parses the JSON body of every
// request and answers a JSON-RPC result with the request's id, and does
// nothing else — no path, method, Content-Type or size check, no auth, no
// connection limits (sipmi's protocol needs every one of them).
//
// With `--checks`, it also reads what the MI protocol makes every request
// read before answering — method and path, Content-Type, Content-Length,
// and the body as text (echoing a numeric id exactly as written needs the
// text; `req.json()` is faster but loses the spelling of numbers) — and does
// nothing more with it: what those reads cost the runtime, apart from any
// code of sipmi's.
//
//   deno run --allow-net bench/deno_serve.ts PORT [--checks]

const port = Number(Deno.args[0]);
const checks = Deno.args.includes("--checks");
const RESULT = {
  Now: "Sat Nov 28 17:33:04 2026",
  "Up since": "Sat Nov 28 17:33:01 2026",
  "Up time": "3 [sec]",
};

let sink = 0;
Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (req) => {
  if (checks) {
    const h = req.headers;
    sink += req.method.length + req.url.length + (h.get("content-type")?.length ?? 0) +
      (h.get("content-length")?.length ?? 0);
  }
  const msg = checks ? JSON.parse(await req.text()) : await req.json();
  return Response.json({ jsonrpc: "2.0", result: RESULT, id: msg.id ?? null });
});
// Keeps the reads from being optimized away.
globalThis.addEventListener("unload", () => sink > 0);
