// Cross-site request checks for the routes a browser can be made to call
// from another site's page. A browser sends the page's credentials (a
// remembered Basic login) along with a cross-site form post, so a form that
// runs a command must prove it came from sipmi's own page:
//
// - the form carries this daemon's form token, a random secret made at
//   start and written only into sipmi's own pages (another site cannot read
//   them: the same-origin policy);
// - a browser's Sec-Fetch-Site header, when present, says same-origin;
// - a browser's Origin header, when present, names this server.
//
// XML-RPC needs no token: it requires Content-Type text/xml, which a form
// cannot send and a cross-site script cannot send without a CORS preflight
// that sipmi never grants; the header checks apply to it as well.

import { sameSecret } from "../config/token.ts";

const encoder = new TextEncoder();

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The form token of this daemon process; every page form carries it. */
export const FORM_TOKEN = randomToken();
const FORM_TOKEN_BYTES = encoder.encode(FORM_TOKEN);

/** Whether `given` is the form token, compared in constant time. */
export function isFormToken(given: string | null): boolean {
  return sameSecret(encoder.encode(given ?? ""), FORM_TOKEN_BYTES);
}

/**
 * Why a browser's headers show the request came from another site's page,
 * or undefined when they do not (non-browser clients send neither header).
 */
export function crossSiteReason(req: Request): string | undefined {
  const site = req.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none") {
    return `the browser says the request came from another site (Sec-Fetch-Site: ${site})`;
  }
  const origin = req.headers.get("origin");
  if (origin !== null) {
    const host = req.headers.get("host") ?? new URL(req.url).host;
    let from: string;
    try {
      from = new URL(origin).host;
    } catch {
      return `the request's Origin '${origin}' is not a URL`;
    }
    if (from !== host) return `the request came from a page of ${origin}, not of this server`;
  }
  return undefined;
}
