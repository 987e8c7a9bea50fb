import assert from "node:assert/strict";
import type { TuneShowResult } from "./host_data.ts";
import { buildModel, cpusOf, sampleOf } from "./host_model.ts";

function show(over: Partial<TuneShowResult> = {}): TuneShowResult {
  return {
    cpus: {
      online: "0-3",
      isolated: "3",
      nohz_full: "",
      nodes: [{ node: 0, cpus: "0-1" }, { node: 1, cpus: "2-3" }],
      cpus: [0, 1, 2, 3].map((cpu) => ({
        cpu,
        online: true,
        node: cpu < 2 ? 0 : 1,
        core: cpu >> 1,
        thread_siblings: cpu < 2 ? "0-1" : "2-3",
      })),
    },
    nic: {
      name: "eth0",
      numa_node: 1,
      local_cpulist: "2-3",
      queue_irqs: [
        { irq: "40", name: "q0", smp_affinity_list: "0-3", effective_affinity_list: "1" },
        { irq: "41", name: "q1", smp_affinity_list: "2-3", effective_affinity_list: "2" },
      ],
    },
    irqbalance: { running: true, banned_cpus: "2-3" },
    sip: {
      found_by: "unit opensips.service",
      affinity: {
        processes: [{ pid: 9, comm: "opensips", threads: 3, thread_cpus: { "2": 2, "0-3": 1 } }],
      },
    },
    ...over,
  };
}

const counters = (dropped: number[], rx: number[]) =>
  dropped.map((d, cpu) => ({ cpu, net_rx: rx[cpu], dropped: d, time_squeeze: 0 }));

Deno.test("cells: IRQs fire / allowed, SIP threads pinned or not, isolated, banned, nodes", () => {
  const c = counters([0, 0, 0, 0], [10, 20, 30, 40]);
  const m = buildModel(show(), c, null, sampleOf(c, 0));
  const by = (n: number) => m.cells[n];
  assert.deepEqual(by(1).irqs, ["40"]);
  assert.deepEqual(by(2).irqs, ["41"]);
  // q1 may also run on 3 (requested 2-3): allowed there; q0 may run anywhere: not drawn per cell.
  assert.deepEqual(by(3).allowed, ["41"]);
  assert.deepEqual(by(0).allowed, []);
  assert.equal(m.requestedEverywhere, 1);
  assert.deepEqual([by(2).sipPinned, by(2).sipAll, by(1).sipPinned, by(1).sipAll], [2, 3, 0, 1]);
  assert.deepEqual(m.cells.map((x) => [x.isolated, x.banned]), [
    [false, false],
    [false, false],
    [false, true],
    [true, true],
  ]);
  assert.deepEqual(m.nodes.map((n) => [n.node, n.cores.map((core) => core.map((x) => x.cpu))]), [
    [0, [[0, 1]]],
    [1, [[2, 3]]],
  ]);
  assert.equal(m.interval, null);
  assert.equal(m.netRxMax, 40);
  assert.deepEqual(m.nic, { name: "eth0", node: 1, local: "2-3", queues: 2 });
});

Deno.test("an IRQ where no SIP thread may run is a mismatch; drops rising need a previous view", () => {
  // The only SIP thread is pinned to 2: IRQ 40 fires on 1 without one.
  const s = show({
    sip: {
      found_by: "name opensips",
      affinity: { processes: [{ pid: 9, comm: "opensips", threads: 1, thread_cpus: { "2": 1 } }] },
    },
  });
  const first = counters([5, 0, 0, 0], [100, 100, 100, 100]);
  const m1 = buildModel(s, first, null, sampleOf(first, 1000));
  assert.deepEqual(m1.cells.map((c) => c.irqWithoutSip), [false, true, false, false]);
  assert.deepEqual(m1.cells.map((c) => c.dropsRising), [false, false, false, false]);
  const second = counters([5, 0, 3, 0], [100, 300, 100, 50]);
  const m2 = buildModel(s, second, sampleOf(first, 1000), sampleOf(second, 3000));
  assert.equal(m2.interval, 2);
  assert.deepEqual(m2.cells.map((c) => c.dropRate), [0, 0, 1.5, 0]);
  assert.deepEqual(m2.cells.map((c) => c.dropsRising), [false, false, true, false]);
  // A counter that went down (a reboot) has no rate.
  assert.deepEqual(m2.cells.map((c) => c.netRxRate), [0, 100, 0, null]);
  assert.deepEqual(m2.mismatches, { irqWithoutSip: 1, dropsRising: 1 });
  // No SIP router found: nothing to judge against.
  const none = buildModel(
    show({ sip: { found_by: null, affinity: null } }),
    first,
    null,
    sampleOf(first, 0),
  );
  assert.equal(none.mismatches.irqWithoutSip, 0);
});

Deno.test("no NIC: the section's error is kept, no IRQ is drawn", () => {
  const c = counters([0, 0, 0, 0], [0, 0, 0, 0]);
  const m = buildModel(
    show({ nic: { error: "no network interface 'x'" } }),
    c,
    null,
    sampleOf(c, 0),
  );
  assert.equal(m.nic, null);
  assert.equal(m.nicError, "no network interface 'x'");
  assert.ok(m.cells.every((x) => x.irqs.length === 0));
});

Deno.test("cpusOf: the cpulists MI results write; anything else is no CPU", () => {
  assert.deepEqual([...cpusOf("0-3,8,10-11")], [0, 1, 2, 3, 8, 10, 11]);
  assert.deepEqual([...cpusOf("")], []);
  assert.deepEqual([...cpusOf(null)], []);
  assert.deepEqual([...cpusOf("5, x, 7")], [5, 7]);
});
