import assert from "node:assert/strict";
import { notifyMessage } from "./notify.ts";
import { watchdogPeriodMs } from "./watchdog.ts";

Deno.test("watchdog: half of WATCHDOG_USEC, only for the process WATCHDOG_PID names", () => {
  assert.equal(watchdogPeriodMs("30000000", undefined, 42), 15000);
  assert.equal(watchdogPeriodMs("200000", "42", 42), 100);
  assert.equal(watchdogPeriodMs("200000", "43", 42), undefined);
  assert.equal(watchdogPeriodMs(undefined, undefined, 42), undefined);
  const warned: string[] = [];
  const log = { warn: (m: string) => warned.push(m) } as unknown as Parameters<
    typeof watchdogPeriodMs
  >[3];
  assert.equal(watchdogPeriodMs("soon", undefined, 42, log), undefined);
  assert.equal(watchdogPeriodMs("0", undefined, 42, log), undefined);
  assert.equal(warned.length, 2);
});

Deno.test("notify: KEY=VALUE lines; a value never spans lines", () => {
  assert.equal(notifyMessage({ READY: 1, STATUS: "a\nb" }), "READY=1\nSTATUS=a b");
  assert.equal(notifyMessage({ MONOTONIC_USEC: 12n }), "MONOTONIC_USEC=12");
});
