import assert from "node:assert/strict";
import {
  CpuSet,
  CpuSetError,
  formatCpuMask,
  MAX_CPUS,
  parseCpuList,
  parseCpuMask,
} from "./cpuset.ts";

Deno.test("cpulist: plain, ranges, whitespace, empty", () => {
  assert.deepEqual(parseCpuList("0-3,8,10-11\n").toArray(), [0, 1, 2, 3, 8, 10, 11]);
  assert.deepEqual(parseCpuList("5").toArray(), [5]);
  assert.deepEqual(parseCpuList("").toArray(), []);
  assert.deepEqual(parseCpuList("\n").toArray(), []);
  assert.deepEqual(parseCpuList("3,1,2,1").toArray(), [1, 2, 3]);
  assert.equal(parseCpuList("3,1,2,1").toList(), "1-3");
});

Deno.test("cpulist: kernel stride form A-B:USED/GROUP", () => {
  assert.deepEqual(parseCpuList("0-15:2/4").toArray(), [0, 1, 4, 5, 8, 9, 12, 13]);
  assert.deepEqual(parseCpuList("0-7:1/1").toArray(), [0, 1, 2, 3, 4, 5, 6, 7]);
});

Deno.test("cpulist: malformed input says what is wrong", () => {
  const bad: [string, RegExp][] = [
    ["0-", /cannot read '0-'/],
    ["a", /'a' is not a CPU number/],
    ["1,,2", /empty item/],
    ["3-1", /ends before it starts/],
    ["0-7:3/2", /0 < USED <= GROUP/],
    ["8192", /beyond the 8192-CPU limit/],
    ["-1", /cannot read/],
    ["0x3", /'0x3' is not a CPU number/],
  ];
  for (const [text, re] of bad) {
    assert.throws(() => parseCpuList(text), (e: unknown) => {
      assert.ok(e instanceof CpuSetError, text);
      assert.match(e.message, re, text);
      assert.match(e.message, /bad cpulist/);
      return true;
    });
  }
});

Deno.test("mask: groups, omitted leading groups, padding", () => {
  assert.deepEqual(parseCpuMask("3").toArray(), [0, 1]);
  assert.deepEqual(parseCpuMask("00000000,00000003").toArray(), [0, 1]);
  assert.deepEqual(parseCpuMask("ffffffff,00000000").toList(), "32-63");
  // irqbalance man page example: cpu0 + cpu56-63.
  assert.equal(parseCpuMask("ff000000,00000001").toList(), "0,56-63");
  // tuned issue #98: differently padded strings are the same set.
  assert.ok(parseCpuMask("000c00,f000c00f").equals(parseCpuMask("00000c00,f000c00f")));
  assert.deepEqual(parseCpuMask("0").toArray(), []);
  assert.equal(parseCpuMask("80000000").toList(), "31");
});

Deno.test("mask: malformed input says what is wrong", () => {
  const bad: [string, RegExp][] = [
    ["", /empty/],
    ["0x3", /no '0x' prefix/],
    ["zz", /group 1 'zz' is not 1-8 hex digits/],
    ["1,123456789", /group 2 '123456789'/],
    ["3,", /group 2 ''/],
    ["1" + ",00000000".repeat(256), /more than 8192 CPUs/],
  ];
  for (const [text, re] of bad) {
    assert.throws(() => parseCpuMask(text), (e: unknown) => {
      assert.ok(e instanceof CpuSetError, text);
      assert.match(e.message, re, text);
      return true;
    });
  }
  // All-zero padding beyond the limit is only padding.
  assert.equal(parseCpuMask("0" + ",00000001".repeat(1) + ",00000000".repeat(255)).size, 1);
});

Deno.test("mask: formatting as the kernel prints it", () => {
  assert.equal(formatCpuMask([0, 1], 2), "3");
  assert.equal(formatCpuMask([1], 2), "2");
  assert.equal(formatCpuMask([32], 64), "00000001,00000000");
  assert.equal(formatCpuMask([0], 64), "00000000,00000001");
  assert.equal(formatCpuMask([], 8), "00");
  assert.equal(formatCpuMask([], undefined), "0");
  assert.equal(formatCpuMask([35]), "8,00000000");
  // 1152 CPUs: 36 groups of 8 digits.
  const all = formatCpuMask([...Array(1152).keys()], 1152);
  assert.equal(all.split(",").length, 36);
  assert.ok(all.split(",").every((g) => g === "ffffffff"));
});

/** A deterministic PRNG so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

Deno.test("round trips mask <-> list <-> set up to 8192 CPUs", () => {
  const rand = rng(42);
  const sizes = [1, 2, 31, 32, 33, 63, 64, 65, 255, 256, 1024, 1152, 4096, MAX_CPUS];
  for (const nbits of sizes) {
    for (let trial = 0; trial < 20; trial++) {
      const density = [0, 0.01, 0.5, 0.99, 1][trial % 5];
      const cpus: number[] = [];
      for (let c = 0; c < nbits; c++) if (rand() < density) cpus.push(c);
      const set = CpuSet.of(cpus);
      const mask = set.toMask(nbits);
      const list = set.toList();
      assert.deepEqual(parseCpuMask(mask).toArray(), cpus, `mask ${nbits}/${trial}`);
      assert.deepEqual(parseCpuList(list).toArray(), cpus, `list ${nbits}/${trial}`);
      assert.ok(parseCpuMask(set.toMask()).equals(set), `minimal mask ${nbits}/${trial}`);
      assert.equal(mask.split(",").length, Math.ceil(nbits / 32));
    }
  }
});

Deno.test("set operations", () => {
  const a = parseCpuList("0-3"), b = parseCpuList("2-5");
  assert.equal(a.union(b).toList(), "0-5");
  assert.equal(a.intersect(b).toList(), "2-3");
  assert.equal(a.minus(b).toList(), "0-1");
  assert.ok(parseCpuList("1-2").isSubsetOf(a));
  assert.ok(!b.isSubsetOf(a));
  assert.ok(a.intersects(b));
  assert.ok(!a.intersects(parseCpuList("8")));
  assert.equal(JSON.stringify({ cpus: a }), '{"cpus":"0-3"}');
  assert.throws(() => CpuSet.of([8192]), CpuSetError);
  assert.throws(() => CpuSet.of([-1]), CpuSetError);
});
