// /proc/net/softnet_stat: one line per online CPU, hex columns whose number
// grew with kernel versions (9 in 2.6, 10 with received_rps, 11 with
// flow_limit_count, 13 with backlog length and the CPU index in 5.10, 15
// with input/process queue lengths in 6.x). Columns are read by position;
// a row without the CPU column (before 5.10) is the n-th online CPU, not
// CPU n, because offline CPUs have no row.

import { FormatError } from "./format_error.ts";

export interface SoftnetRow {
  cpu: number;
  /** Packets processed by this CPU's NET_RX softirq. */
  processed: number;
  /** Dropped because the backlog queue was full (netdev_max_backlog). */
  dropped: number;
  /** The softirq ran out of budget with work left (netdev_budget{,_usecs}). */
  time_squeeze: number;
  received_rps: number | null;
  flow_limit_count: number | null;
  backlog_len: number | null;
  input_qlen: number | null;
  process_qlen: number | null;
}

export interface Softnet {
  /** Column count of the widest row (9, 10, 11, 13, 15, ...). */
  columns: number;
  rows: SoftnetRow[];
}

const HEX = /^[0-9a-fA-F]{1,16}$/;
/** The fewest columns any kernel printed (2.6: processed..cpu_collision). */
const MIN_COLUMNS = 9;

/**
 * Parses softnet_stat. `onlineCpus` maps row n to its CPU when the row has
 * no CPU column; without it, row n is taken as CPU n.
 */
export function parseSoftnet(
  text: string,
  path = "/proc/net/softnet_stat",
  onlineCpus?: readonly number[],
): Softnet {
  const rows: SoftnetRow[] = [];
  let columns = 0;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    const f = line.split(/\s+/);
    if (f.length < MIN_COLUMNS) {
      throw new FormatError(
        path,
        i + 1,
        `expected at least ${MIN_COLUMNS} hex columns, found ${f.length} (truncated line?)`,
      );
    }
    const v = f.map((x, col) => {
      if (!HEX.test(x)) {
        throw new FormatError(path, i + 1, `column ${col + 1} '${x}' is not a hex counter`);
      }
      return parseInt(x, 16);
    });
    columns = Math.max(columns, f.length);
    const n = rows.length;
    const cpu = v.length >= 13 ? v[12] : (onlineCpus?.[n] ?? n);
    const at = (col: number) => v.length > col ? v[col] : null;
    rows.push({
      cpu,
      processed: v[0],
      dropped: v[1],
      time_squeeze: v[2],
      received_rps: at(9),
      flow_limit_count: at(10),
      backlog_len: at(11),
      input_qlen: at(13),
      process_qlen: at(14),
    });
  }
  return { columns, rows };
}
