// The host picture as SVG, rendered on the server: one cell per CPU,
// grouped by NUMA node, the hyperthreads of a core stacked in one column.
// A cell's fill is its NET_RX (per second since the previous view, else
// since boot); marks on it: the SIP NIC's queue IRQs firing there (orange
// dot) or only allowed there (orange ring), SIP router threads (green bar;
// pale when not pinned), isolated CPUs (purple frame), CPUs irqbalance
// leaves alone (black corner), softnet drops (red corner when rising since
// the last view, amber when only since boot). An IRQ firing where no SIP
// thread may run gets a red frame: the mismatch to see at a glance.
//
// Small hosts get cells with text; large ones small cells whose details are
// in tooltips (<title>).

import type { FC } from "hono/jsx";
import type { CpuCell, HostModel, NodeBlock } from "./host_model.ts";

/**
 * The size budget of the picture on the 1152-CPU capture: 256 KiB (about
 * 230 bytes per CPU, tooltip included). Checked by tests/web_host_test.ts
 * and measured by `deno task bench micro` (docs/web.md, "The host picture").
 */
export const SVG_BUDGET_1152 = 256 * 1024;

interface Geometry {
  cell: number;
  gap: number;
  text: boolean;
  coresPerRow: number;
}

function geometry(cpus: number): Geometry {
  if (cpus <= 16) return { cell: 86, gap: 8, text: true, coresPerRow: 8 };
  if (cpus <= 128) return { cell: 34, gap: 4, text: true, coresPerRow: 16 };
  return { cell: 12, gap: 2, text: false, coresPerRow: 36 };
}

const CSS = `
text{font:11px system-ui,sans-serif;fill:#1d2329}
.t{font-weight:600}.m{fill:#66727e}.h{font-weight:700;font-size:12px}
.c{stroke:#b8c2cc;stroke-width:1}
.h0{fill:#f4f6f8}.h1{fill:#d6e6f5}.h2{fill:#a9cbeb}.h3{fill:#6fa7da}.h4{fill:#3b7fc4}
.off{fill:#e1e1e1;stroke-dasharray:2 2}
.iso{stroke:#7b3fa0;stroke-width:2}
.bad{stroke:#d0021b;stroke-width:3}
.q{fill:#f08c00}.qa{fill:none;stroke:#f08c00;stroke-width:1.5}
.s{fill:#2e9d4f}.su{fill:#a8dcb5}
.b{fill:#1d2329}.d{fill:#d0021b}.d0{fill:#f5a623}
text.w{fill:#fff}
.q,.qa,.s,.su,.b,.d,.d0,.n{pointer-events:none}
`;

const MARGIN = 8, NODE_HEAD = 18, LEGEND_COL = 170, LEGEND_ROW = 16;

/** `1234567` → `1.2M`: fits a cell. */
export function compact(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  if (a >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

function heat(c: CpuCell, m: HostModel): string {
  const v = m.interval === null ? c.netRx : c.netRxRate;
  if (v === null || m.netRxMax <= 0) return "h0";
  const level = Math.min(4, Math.ceil((v / m.netRxMax) * 4));
  return `h${level}`;
}

function tooltip(c: CpuCell, m: HostModel): string {
  const parts = [`CPU ${c.cpu}`];
  if (c.node !== null) parts.push(`node ${c.node}`);
  parts.push(`core ${c.core}`);
  if (!c.online) parts.push("offline");
  if (c.isolated) parts.push("isolated");
  if (c.banned) parts.push("banned by irqbalance");
  if (c.irqs.length) parts.push(`IRQ ${c.irqs.join(",")} fire here`);
  if (c.allowed.length) parts.push(`IRQ ${c.allowed.join(",")} allowed here`);
  if (m.sipFound !== null) {
    parts.push(
      c.sipAll === 0
        ? "no SIP thread"
        : `SIP threads ${c.sipAll}${c.sipPinned ? ` (${c.sipPinned} pinned)` : " (unpinned)"}`,
    );
  }
  if (m.interval !== null) {
    parts.push(`NET_RX ${c.netRxRate === null ? "?" : compact(c.netRxRate)}/s`);
    parts.push(`drops ${c.dropRate === null ? "?" : compact(c.dropRate)}/s`);
  } else {
    if (c.netRx !== null) parts.push(`NET_RX ${compact(c.netRx)} since boot`);
    if (c.dropped !== null) parts.push(`drops ${c.dropped} since boot`);
  }
  if (c.irqWithoutSip) parts.push("MISMATCH: IRQ here, no SIP thread");
  if (c.dropsRising) parts.push("drops rising");
  return parts.join(" · ");
}

const Cell: FC<{ c: CpuCell; m: HostModel; g: Geometry; x: number; y: number }> = (
  { c, m, g, x, y },
) => {
  const s = g.cell;
  const cls = ["c", c.online ? heat(c, m) : "off"];
  if (c.irqWithoutSip) cls.push("bad");
  else if (c.isolated) cls.push("iso");
  const sipClass = c.sipPinned > 0 ? "s" : c.sipAll > 0 ? "su" : null;
  const dropClass = c.dropsRising ? "d" : m.interval === null && (c.dropped ?? 0) > 0 ? "d0" : null;
  // Corner marks and the IRQ dot scale with the cell, within limits.
  const k = Math.min(12, Math.max(4, Math.round(s / 4)));
  const r = Math.min(6, Math.max(2.5, s / 9));
  // On a cell with text the dot sits right of the CPU number; else top left.
  const dotX = g.text ? x + s - k - r - 3 : x + r + 2;
  return (
    <>
      <rect x={x} y={y} width={s} height={s} class={cls.join(" ")}>
        <title>{tooltip(c, m)}</title>
      </rect>
      {c.banned ? <path class="b" d={`M${x + s - k} ${y}h${k}v${k}z`} /> : null}
      {dropClass ? <path class={dropClass} d={`M${x + s} ${y + s}h-${k}l${k}-${k}z`} /> : null}
      {c.irqs.length
        ? <circle class="q" cx={dotX} cy={y + r + 3} r={r} />
        : c.allowed.length
        ? <circle class="qa" cx={dotX} cy={y + r + 3} r={r} />
        : null}
      {sipClass
        ? (
          <rect
            class={sipClass}
            x={x + 1}
            y={y + s - Math.max(3, s / 8)}
            width={s - 2}
            height={Math.max(3, s / 8) - 1}
          />
        )
        : null}
      {g.text ? <CellText c={c} m={m} g={g} x={x} y={y} /> : null}
    </>
  );
};

const CellText: FC<{ c: CpuCell; m: HostModel; g: Geometry; x: number; y: number }> = (
  { c, m, g, x, y },
) => {
  const big = g.cell >= 60;
  // White on the two darkest fills.
  const w = c.online && ["h3", "h4"].includes(heat(c, m)) ? " w" : "";
  const lines: string[] = [];
  if (big) {
    if (c.irqs.length) lines.push(`IRQ ${c.irqs.join(",")}`);
    else if (c.allowed.length) lines.push(`(IRQ ${c.allowed.join(",")})`);
    if (m.sipFound !== null && c.sipAll > 0) lines.push(`SIP ${c.sipAll}`);
    const rx = m.interval === null ? c.netRx : c.netRxRate;
    if (rx !== null) lines.push(`rx ${compact(rx)}${m.interval === null ? "" : "/s"}`);
    if (c.dropsRising && c.dropRate !== null) lines.push(`drop ${compact(c.dropRate)}/s`);
  }
  return (
    <>
      <text class={`t n${w}`} x={x + (big ? 6 : 3)} y={y + (big ? 15 : 13)}>
        {big ? `CPU ${c.cpu}` : String(c.cpu)}
      </text>
      {lines.slice(0, 4).map((l, i) => (
        <text key={i} class={`n${w}`} x={x + 6} y={y + 29 + i * 12}>{l}</text>
      ))}
    </>
  );
};

const LEGEND: [string, string][] = [
  ["q", "queue IRQ fires here"],
  ["qa", "IRQ allowed here"],
  ["s", "SIP threads (pinned)"],
  ["su", "SIP threads (unpinned)"],
  ["iso", "isolated / nohz_full"],
  ["b", "banned by irqbalance"],
  ["bad", "IRQ without SIP thread"],
  ["d", "drops rising"],
  ["d0", "drops since boot"],
];

/** Legend entries per row, and the legend's height, for a picture `width` wide. */
function legendShape(width: number): { per: number; height: number } {
  const per = Math.max(1, Math.floor((width - 2 * MARGIN) / LEGEND_COL));
  return { per, height: MARGIN + Math.ceil(LEGEND.length / per) * LEGEND_ROW + 18 };
}

const Legend: FC<{ m: HostModel; width: number }> = ({ m, width }) => {
  const { per, height } = legendShape(width);
  const rx = m.interval === null
    ? "fill: NET_RX since boot"
    : `fill: NET_RX per second over the last ${m.interval.toFixed(1)} s`;
  return (
    <>
      {LEGEND.map(([cls, label], i) => {
        const x = MARGIN + (i % per) * LEGEND_COL, y = MARGIN + Math.floor(i / per) * LEGEND_ROW;
        const mark = cls === "q" || cls === "qa"
          ? <circle class={cls} cx={x + 6} cy={y + 6} r={4.5} />
          : cls === "iso" || cls === "bad"
          ? <rect class={`c h0 ${cls}`} x={x + 1} y={y + 1} width={10} height={10} />
          : <rect class={cls} x={x} y={y} width={12} height={12} />;
        return (
          <>
            {mark}
            <text key={cls} class="m" x={x + 17} y={y + 10}>{label}</text>
          </>
        );
      })}
      <text class="m" x={MARGIN} y={height - 6}>{rx}</text>
    </>
  );
};

/** Width and height of the picture, and where each node block starts. */
function layout(m: HostModel, g: Geometry) {
  const pitch = g.cell + g.gap;
  const cols = Math.min(
    g.coresPerRow,
    Math.max(1, ...m.nodes.map((n) => n.cores.length)),
  );
  const width = Math.max(2 * MARGIN + cols * pitch, 3 * LEGEND_COL + 2 * MARGIN);
  let y = legendShape(width).height + MARGIN;
  const blocks = m.nodes.map((n) => {
    const threads = Math.max(1, ...n.cores.map((c) => c.length));
    const coreH = threads * g.cell + (threads - 1) * 1 + g.gap;
    const rows = Math.ceil(n.cores.length / cols);
    const top = y;
    y += NODE_HEAD + rows * coreH + g.gap;
    return { n, top, coreH, cols };
  });
  return { width, height: y + MARGIN, blocks, pitch };
}

function nodeTitle(n: NodeBlock, m: HostModel): string {
  const head = n.node === null ? "CPUs without a NUMA node" : `NUMA node ${n.node}`;
  const nic = m.nic !== null && m.nic.node !== null && m.nic.node === n.node
    ? ` · ${m.nic.name} is on this node`
    : "";
  return `${head} · CPUs ${n.cpus}${nic}`;
}

export const HostSvg: FC<{ model: HostModel }> = ({ model: m }) => {
  const g = geometry(m.cells.length);
  const { width, height, blocks, pitch } = layout(m, g);
  return (
    <svg
      xmlns="http://www.w3.org/2000/svg"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label="CPUs, NIC queue IRQs and SIP threads"
    >
      <style dangerouslySetInnerHTML={{ __html: CSS }} />
      <Legend m={m} width={width} />
      {blocks.map(({ n, top, coreH, cols }) => (
        <>
          <text key={`n${n.node}`} class="h" x={MARGIN} y={top + 13}>{nodeTitle(n, m)}</text>
          {n.cores.map((core, i) =>
            core.map((c, t) => (
              <Cell
                key={c.cpu}
                c={c}
                m={m}
                g={g}
                x={MARGIN + (i % cols) * pitch}
                y={top + NODE_HEAD + Math.floor(i / cols) * coreH + t * (g.cell + 1)}
              />
            ))
          )}
        </>
      ))}
    </svg>
  );
};
