import assert from "node:assert/strict";
import { FormatError } from "./format_error.ts";
import { parseInterrupts, parseSoftirqs } from "./interrupts.ts";

const X86 = `           CPU0       CPU1
 16:          0         12  IR-IO-APIC   16-fasteoi   ehci_hcd:usb3, mmc0
 38:          0       7315  PCI-MSIX-0000:00:03.0   1-edge      virtio2-input.0
 40:          5          0  IR-PCI-MSI-edge      eth0-TxRx-0
 41:          1          2  xen-pirq    -ioapic-level  acpi
 42:          0          0  IO-APIC   7-fasteoi
NMI:          0          0   Non-maskable interrupts
ERR:          3
`;

Deno.test("x86 rows: chip, hwirq-handler, names with spaces and commas, old and Xen layouts", () => {
  const r = parseInterrupts(X86);
  assert.deepEqual(r.cpus, [0, 1]);
  const by = Object.fromEntries(r.rows.map((row) => [row.irq, row]));
  assert.deepEqual(
    [by["16"].chip, by["16"].hwirq, by["16"].trigger, by["16"].name],
    ["IR-IO-APIC", "16", "fasteoi", "ehci_hcd:usb3, mmc0"],
  );
  assert.deepEqual(by["38"].counts, [0, 7315]);
  assert.equal(by["38"].total, 7315);
  assert.deepEqual([by["40"].chip, by["40"].hwirq, by["40"].name], [
    "IR-PCI-MSI-edge",
    null,
    "eth0-TxRx-0",
  ]);
  assert.deepEqual([by["41"].chip, by["41"].trigger, by["41"].name], [
    "xen-pirq",
    "ioapic-level",
    "acpi",
  ]);
  assert.deepEqual([by["42"].name, by["42"].trigger], ["", "fasteoi"]);
  assert.deepEqual([by.NMI.numeric, by.NMI.chip, by.NMI.name], [
    false,
    null,
    "Non-maskable interrupts",
  ]);
  assert.deepEqual([by.ERR.counts, by.ERR.total], [[3], 3]);
  assert.equal(by["38"].line, 3);
});

Deno.test("online CPUs with gaps keep their numbers", () => {
  const r = parseInterrupts("   CPU0  CPU2  CPU5\n  1:  1  2  3  IO-APIC 1-edge i8042\n");
  assert.deepEqual(r.cpus, [0, 2, 5]);
  assert.deepEqual(r.rows[0].counts, [1, 2, 3]);
});

Deno.test("arm64 label glued to the first count (IPI0:2768808080)", () => {
  const r = parseInterrupts("  CPU0  CPU1\nIPI0:2768808080 1   Rescheduling interrupts\n");
  assert.deepEqual(r.rows[0].counts, [2768808080, 1]);
  assert.equal(r.rows[0].name, "Rescheduling interrupts");
});

function assertFormatError(fn: () => unknown, line: number, re: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FormatError, String(e));
    assert.equal(e.path, "/proc/interrupts");
    assert.equal(e.line, line);
    assert.match(e.message, new RegExp(`^/proc/interrupts:${line}: `));
    assert.match(e.message, re);
    return true;
  });
}

Deno.test("malformed /proc/interrupts names the line", () => {
  assertFormatError(() => parseInterrupts(""), 1, /header of CPU columns/);
  assertFormatError(() => parseInterrupts("CPU0 CPUx\n"), 1, /found 'CPUx'/);
  assertFormatError(() => parseInterrupts("CPU1 CPU0\n"), 1, /out of order/);
  assertFormatError(
    () => parseInterrupts("  CPU0 CPU1\n 38:   0\n"),
    2,
    /IRQ 38: expected 2 per-CPU counts, found 1/,
  );
  assertFormatError(
    () => parseInterrupts("  CPU0 CPU1\n 38:   0 1 chip x\n 39 0 1\n"),
    3,
    /expected 'NAME:'/,
  );
  assertFormatError(
    () => parseInterrupts("  CPU0 CPU1\n 38:   zz 1 chip x\n"),
    2,
    /found 0 \('zz' is not a count\)/,
  );
  assertFormatError(() => parseInterrupts("  CPU0\nLOC:\n"), 2, /LOC: no counts/);
  assertFormatError(
    () => parseInterrupts("  CPU0\n 1: 1 a b\n 1: 2 a b\n"),
    3,
    /listed twice \(first on line 2\)/,
  );
  assertFormatError(() => parseInterrupts("  CPU0\n 1: 99999999999999999999 a\n"), 2, /too large/);
});

Deno.test("softirqs: rows by name, truncation named", () => {
  const s = parseSoftirqs("    CPU0  CPU1\n  NET_RX:  5  7\n  NET_TX: 1 2\n");
  assert.deepEqual(s.rows.get("NET_RX"), [5, 7]);
  assert.throws(
    () => parseSoftirqs("    CPU0  CPU1\n  NET_RX:  5\n", "/proc/softirqs"),
    /^FormatError: \/proc\/softirqs:2: NET_RX: expected 2 per-CPU counts, found 1/,
  );
  assert.throws(
    () => parseSoftirqs("    CPU0\n  NET_RX:  5 junk\n", "/proc/softirqs"),
    /\/proc\/softirqs:2: NET_RX: .* and 'junk'/,
  );
});
