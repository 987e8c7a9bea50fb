// What the running daemon says about itself: the one-line STATUS= systemd
// shows in `systemctl status`, and the `service_status` MI result behind
// `sipmi service status` — what listens, the boot profile (the tuning
// state this daemon applied), the last reload.

import { NAME, REVISION, VERSION } from "../mi/version.ts";
import type { Daemon } from "./daemon.ts";
import type { Reloader, ReloadResult } from "./reload.ts";
import { type StartupResult, startupSummary } from "./startup.ts";

export type Phase = "starting" | "ready" | "reloading" | "stopping";

export class ServiceState {
  readonly startedAt = new Date();
  phase: Phase = "starting";
  startup: StartupResult[] = [];
  readonly #daemon: Daemon;
  readonly #reloader: () => Reloader | undefined;
  readonly #startupCalls: () => number;

  constructor(daemon: Daemon, reloader: () => Reloader | undefined, startupCalls: () => number) {
    this.#daemon = daemon;
    this.#reloader = reloader;
    this.#startupCalls = startupCalls;
  }

  get lastReload(): ReloadResult | undefined {
    return this.#reloader()?.last;
  }

  get startupFailed(): boolean {
    return this.startup.some((r) => !r.ok);
  }

  /** STATUS= text: one line. */
  statusLine(): string {
    const running = this.#daemon.running;
    const parts = [
      running.length > 0 ? `serving ${running.join(", ")}` : "no listener running",
      startupSummary(this.#startupCalls(), this.startup),
    ];
    const last = this.lastReload;
    if (last) parts.push(`last reload ${last.ok ? "ok" : "FAILED"} at ${last.at}`);
    return parts.join("; ");
  }

  /** The `service_status` MI result. */
  report(): Record<string, unknown> {
    const reloader = this.#reloader();
    const now = Date.now();
    return {
      version: `${NAME} ${VERSION}`,
      revision: REVISION,
      pid: Deno.pid,
      phase: this.phase,
      started: this.startedAt.toISOString(),
      uptime_s: Math.floor((now - this.startedAt.getTime()) / 1000),
      config: reloader?.source ?? null,
      listeners: this.#daemon.listeners.map((l) => ({
        name: l.name,
        running: this.#daemon.running.includes(l.name),
        optional: l.optional,
      })),
      tuning: {
        profile: reloader?.config.tuning.profile || null,
        startup: {
          summary: startupSummary(this.#startupCalls(), this.startup),
          calls: this.startup,
        },
      },
      last_reload: this.lastReload ?? null,
      status: this.statusLine(),
    };
  }
}
