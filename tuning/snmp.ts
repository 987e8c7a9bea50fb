// /proc/net/snmp: pairs of lines, `Udp: Name1 Name2 ...` then
// `Udp: v1 v2 ...`. Older kernels print fewer Udp fields (7 before
// IgnoredMulti and MemErrors), so values are always looked up by header
// name. /proc/net/snmp6 is one `Udp6RcvbufErrors  123` pair per line.

import { FormatError } from "./format_error.ts";

/** Protocol (`Udp`, `Tcp`, ...) -> field name -> value. */
export type SnmpTables = Map<string, Record<string, number>>;

const INT = /^-?[0-9]+$/;

export function parseSnmp(text: string, path = "/proc/net/snmp"): SnmpTables {
  const out: SnmpTables = new Map();
  const lines = text.split("\n");
  let i = 0;
  const next = () => {
    while (i < lines.length && lines[i].trim() === "") i++;
    return i < lines.length ? { text: lines[i], no: ++i } : undefined;
  };
  for (let header = next(); header !== undefined; header = next()) {
    const h = header.text.trim().split(/\s+/);
    const proto = h[0].endsWith(":") ? h[0].slice(0, -1) : "";
    if (proto === "") {
      throw new FormatError(path, header.no, `expected 'Proto: Field ...', found '${h[0]}'`);
    }
    const values = next();
    if (values === undefined) {
      throw new FormatError(path, header.no, `${proto}: header line without a value line`);
    }
    const v = values.text.trim().split(/\s+/);
    if (v[0] !== h[0]) {
      throw new FormatError(path, values.no, `expected the ${proto}: value line, found '${v[0]}'`);
    }
    if (v.length !== h.length) {
      throw new FormatError(
        path,
        values.no,
        `${proto}: ${h.length - 1} field names but ${v.length - 1} values (truncated line?)`,
      );
    }
    const table: Record<string, number> = {};
    for (let k = 1; k < h.length; k++) {
      if (!INT.test(v[k])) {
        throw new FormatError(path, values.no, `${proto} ${h[k]}: '${v[k]}' is not a number`);
      }
      table[h[k]] = Number(v[k]);
    }
    out.set(proto, table);
  }
  return out;
}

/** /proc/net/snmp6 fields starting with `prefix` (`Udp6`), prefix removed: `RcvbufErrors` -> n. */
export function parseSnmp6(
  text: string,
  prefix: string,
  path = "/proc/net/snmp6",
): Record<string, number> {
  const out: Record<string, number> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    const f = line.split(/\s+/);
    if (f.length !== 2 || !INT.test(f[1])) {
      throw new FormatError(path, i + 1, `expected 'Name value', found '${line.slice(0, 60)}'`);
    }
    // Udp6 must not also pick up UdpLite6.
    const rest = f[0].startsWith(prefix) ? f[0].slice(prefix.length) : "";
    if (rest !== "" && /^[A-Z]/.test(rest)) out[rest] = Number(f[1]);
  }
  return out;
}
