// The kernel of a fixture root. `--root DIR` and the tests run every write
// against a captured tree; plain files would take anything, so this HostFs
// answers writes the way a Linux kernel does (docs/tuning_changes.md):
//
//   - /proc/irq/N/smp_affinity{,_list}: a 0444 file (managed, per-CPU IRQ)
//     is EPERM (kernel 6.x, as root) or EACCES (without CAP_DAC_OVERRIDE);
//     unparsable text is EINVAL; a CPU at or beyond nr_cpu_ids is ERANGE
//     (list) or EOVERFLOW (mask); a mask without an online CPU is EINVAL;
//     otherwise both files are rewritten as the kernel prints them, offline
//     CPUs included. effective_affinity is left alone: delivery is the
//     kernel's choice, userspace can neither set nor restore it.
//   - /proc/irq/default_smp_affinity, rx-N/rps_cpus, tx-N/xps_cpus: hex
//     masks, the same checks (RPS may be empty: off).
//   - sched_setaffinity: ESRCH for a thread that is not there, EINVAL when
//     no CPU of the mask is online, offline CPUs silently dropped; the
//     task's status file (Cpus_allowed, Cpus_allowed_list) is rewritten.
//
// A hook before every write that changes the host (kernel files, /etc,
// affinity; not sipmi's own state files) lets tests fail or stall the Nth.

import { HostFs, HostFsError } from "../sys/hostfs.ts";
import { errnoNumber, SysError } from "../sys/libc.ts";
import { CpuSet, CpuSetError, parseCpuList, parseCpuMask } from "./cpuset.ts";
import { onlineCpus } from "./cpus.ts";

/** Called with the 1-based count of host writes and what is written; may throw or wait. */
export type WriteHook = (n: number, what: string) => void | Promise<void>;

export interface FakeKernelOptions {
  beforeWrite?: WriteHook;
  /** Without CAP_DAC_OVERRIDE a 0444 file cannot even be opened for writing: EACCES. */
  dacOverride?: boolean;
  /** What writing a 0444 smp_affinity gives with DAC override (EPERM on kernel 6.18). */
  readOnlyErrno?: string;
  /** IRQ -> errno for IRQs whose files are 0644 but refuse writes (older kernels: EIO). */
  failingIrqs?: Record<string, string>;
}

const IRQ_FILE = /^\/proc\/irq\/([0-9]+)\/(smp_affinity|smp_affinity_list)$/;
const QUEUE_MASK = /\/queues\/(rx-[0-9]+\/rps_cpus|tx-[0-9]+\/xps_cpus)$/;

/** An error as the kernel reports it to the write(2) or syscall that caused it. */
export function kernelError(path: string, errno: string, call = "write"): HostFsError {
  return new HostFsError(path, call, new SysError(call, errnoNumber(errno)));
}

export class FakeKernel extends HostFs {
  readonly #opts: FakeKernelOptions;
  #writes = 0;

  constructor(root: string, opts: FakeKernelOptions = {}) {
    super(root);
    if (this.isHost) throw new Error("FakeKernel models a fixture root, never the host");
    this.#opts = opts;
  }

  /** Host writes attempted so far (fault-injection tests count with it). */
  get writes(): number {
    return this.#writes;
  }

  async #before(what: string): Promise<void> {
    this.#writes++;
    await this.#opts.beforeWrite?.(this.#writes, what);
  }

  async #cpus(): Promise<{ online: CpuSet; nr: number }> {
    const online = (await onlineCpus(this)) ?? CpuSet.EMPTY;
    const possible = await this.readTextIfExists("/sys/devices/system/cpu/possible");
    const nr = possible !== undefined ? parseCpuList(possible).max + 1 : online.max + 1;
    return { online, nr };
  }

  override async writeKernel(path: string, text: string): Promise<void> {
    await this.#before(`write ${path}`);
    const irq = IRQ_FILE.exec(path);
    if (irq) return await this.#writeIrq(path, irq[1], irq[2] === "smp_affinity_list", text);
    if (path === "/proc/irq/default_smp_affinity") return await this.#writeMask(path, text, false);
    if (QUEUE_MASK.test(path)) return await this.#writeMask(path, text, true);
    return await super.writeKernel(path, text);
  }

  async #writeIrq(path: string, irq: string, list: boolean, text: string): Promise<void> {
    const st = await this.statIfExists(path);
    if (st === undefined) throw kernelError(path, "ENOENT");
    if (st.mode !== null && (st.mode & 0o222) === 0) {
      throw kernelError(
        path,
        this.#opts.dacOverride === false ? "EACCES" : this.#opts.readOnlyErrno ?? "EPERM",
      );
    }
    const failing = this.#opts.failingIrqs?.[irq];
    if (failing !== undefined) throw kernelError(path, failing);
    const { online, nr } = await this.#cpus();
    const set = this.#parse(path, text, list, nr);
    if (!set.intersects(online)) throw kernelError(path, "EINVAL");
    const dir = `/proc/irq/${irq}`;
    if (await this.exists(`${dir}/smp_affinity_list`)) {
      await super.writeKernel(`${dir}/smp_affinity_list`, `${set.toList()}\n`);
    }
    if (await this.exists(`${dir}/smp_affinity`)) {
      await super.writeKernel(`${dir}/smp_affinity`, `${set.toMask(nr)}\n`);
    }
  }

  async #writeMask(path: string, text: string, mayBeEmpty: boolean): Promise<void> {
    if (!(await this.exists(path))) throw kernelError(path, "ENOENT");
    const { online, nr } = await this.#cpus();
    const set = this.#parse(path, text, false, nr);
    if (!(mayBeEmpty && set.isEmpty) && !set.intersects(online)) {
      throw kernelError(path, "EINVAL");
    }
    await super.writeKernel(path, `${set.toMask(nr)}\n`);
  }

  #parse(path: string, text: string, list: boolean, nr: number): CpuSet {
    let set: CpuSet;
    try {
      set = list ? parseCpuList(text) : parseCpuMask(text);
    } catch (e) {
      if (e instanceof CpuSetError) throw kernelError(path, "EINVAL");
      throw e;
    }
    if (set.max >= nr) throw kernelError(path, list ? "ERANGE" : "EOVERFLOW");
    return set;
  }

  override async replaceFile(
    path: string,
    data: Uint8Array | string,
    opts: { mode?: number } = {},
  ): Promise<void> {
    if (path.startsWith("/etc/")) await this.#before(`replace ${path}`);
    return await super.replaceFile(path, data, opts);
  }

  override async removeFile(path: string): Promise<void> {
    if (path.startsWith("/etc/")) await this.#before(`remove ${path}`);
    return await super.removeFile(path);
  }

  /** sched_setaffinity(2) of one thread of the fixture, with the kernel's rules. */
  async setAffinity(tid: number, cpus: readonly number[]): Promise<void> {
    await this.#before(`sched_setaffinity ${tid}`);
    const fail = (errno: string) =>
      new SysError("sched_setaffinity", errnoNumber(errno), `tid ${tid}`);
    const status = await this.#taskStatus(tid);
    if (status === undefined) throw fail("ESRCH");
    const { online, nr } = await this.#cpus();
    const kept = CpuSet.of(cpus).intersect(online);
    if (kept.isEmpty) throw fail("EINVAL");
    for (const path of status) {
      const text = await this.readText(path);
      const next = text
        .replace(/^Cpus_allowed:.*$/m, `Cpus_allowed:\t${kept.toMask(nr)}`)
        .replace(/^Cpus_allowed_list:.*$/m, `Cpus_allowed_list:\t${kept.toList()}`);
      await super.writeKernel(path, next);
    }
  }

  /** The status files of a thread: its task's, and the process's for a main thread. */
  async #taskStatus(tid: number): Promise<string[] | undefined> {
    for (const e of await this.readDir("/proc")) {
      if (!/^[0-9]+$/.test(e.name)) continue;
      const task = `/proc/${e.name}/task/${tid}/status`;
      if (!(await this.exists(task))) continue;
      const main = `/proc/${e.name}/status`;
      return Number(e.name) === tid && (await this.exists(main)) ? [task, main] : [task];
    }
    return undefined;
  }
}
