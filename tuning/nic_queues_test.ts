import assert from "node:assert/strict";
import { classifyIrqName, nameMentions } from "./nic_queues.ts";

Deno.test("queue names of the common drivers", () => {
  const cases: [string, unknown][] = [
    ["virtio2-input.0", { role: "queue", kind: "rx", queue: 0 }],
    ["virtio2-output.3", { role: "queue", kind: "tx", queue: 3 }],
    ["i40e-enp195s0f3-TxRx-59", { role: "queue", kind: "rxtx", queue: 59 }],
    ["mlx5_comp7@pci:0002:00:00.0", { role: "queue", kind: "rxtx", queue: 7 }],
    ["mlx4-3@0000:04:00.0", { role: "queue", kind: "rxtx", queue: 3 }],
    ["mana_q2@pci:7870:00:00.0", { role: "queue", kind: "rxtx", queue: 2 }],
    ["eth0-Tx-Rx-5", { role: "queue", kind: "rxtx", queue: 5 }],
    ["eth0-fp-1", { role: "queue", kind: "rxtx", queue: 1 }],
    ["eth0-rx-2", { role: "queue", kind: "rx", queue: 2 }],
    ["eth0-tx-2", { role: "queue", kind: "tx", queue: 2 }],
  ];
  for (const [name, want] of cases) assert.deepEqual(classifyIrqName(name), want, name);
});

Deno.test("non-queue vectors are never queues", () => {
  const cases: [string, string][] = [
    ["i40e-0000:c3:00.3:fdir-TxRx-0", "fdir"],
    ["i40e-0000:c3:00.3:misc", "misc"],
    ["mlx5_async@pci:0002:00:00.0", "async"],
    ["virtio2-config", "config"],
    ["ena-mgmnt@pci:0000:00:05.0", "control"],
    ["virtio3-event", "control"],
    ["virtio1-req.0", "other"],
    ["enp0s25", "other"],
  ];
  for (const [name, kind] of cases) {
    assert.deepEqual(classifyIrqName(name), { role: "other", kind }, name);
  }
});

Deno.test("name mentions the interface as a whole word or the PCI address", () => {
  assert.ok(nameMentions("i40e-eth0-TxRx-3", "eth0", null));
  assert.ok(!nameMentions("i40e-eth01-TxRx-3", "eth0", null));
  assert.ok(nameMentions("eth0", "eth0", null));
  assert.ok(nameMentions("mlx5_comp0@pci:0000:08:00.0", "ens1", "0000:08:00.0"));
  assert.ok(!nameMentions("mlx5_comp0@pci:0000:08:00.1", "ens1", "0000:08:00.0"));
  assert.ok(nameMentions("a.b-TxRx-0", "a.b", null));
  assert.ok(!nameMentions("axb-TxRx-0", "a.b", null));
});
