// The HTTP bearer token of a config: the daemon checks it, the CLI sends it.

import { hostRoot } from "../sys/hostfs.ts";
import { errText } from "../sys/log.ts";
import type { Config } from "./schema.ts";

/** The token (`http.auth.token`, or the first line of `http.auth.token_file`); "" for none. */
export function configToken(cfg: Config["http"]): string {
  if (cfg.auth.token_file !== "") {
    let text: string;
    try {
      text = hostRoot.readTextSync(cfg.auth.token_file);
    } catch (e) {
      throw new Error(`cannot read http.auth.token_file ${cfg.auth.token_file}: ${errText(e)}`);
    }
    const token = text.split("\n")[0].trim();
    if (token === "") throw new Error(`http.auth.token_file ${cfg.auth.token_file} is empty`);
    return token;
  }
  return cfg.auth.token;
}

/**
 * Whether `got` equals the secret `want`, in time that depends only on the
 * secret's length: every byte is compared, whatever differs first. (Written
 * here rather than taken from node:crypto, whose load alone costs the daemon
 * about 7 MB of RSS.)
 */
export function sameSecret(got: Uint8Array, want: Uint8Array): boolean {
  let diff = got.length ^ want.length;
  for (let i = 0; i < want.length; i++) diff |= want[i] ^ (got[i] ?? 0);
  return diff === 0;
}
