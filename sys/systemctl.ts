// systemctl, the one external program the tuning side runs: irqbalance
// reads its settings only at start, so a changed config needs
// `systemctl try-restart irqbalance.service` (restarts only a running
// unit). Never run on a fixture root; the caller decides (tuning/services.ts).

export interface CommandOutcome {
  /** Exit status; 127 when systemctl is not installed, -1 on timeout. */
  code: number;
  /** stdout and stderr, trimmed. */
  output: string;
}

export async function systemctl(
  args: readonly string[],
  timeoutMs = 30_000,
): Promise<CommandOutcome> {
  const dec = new TextDecoder();
  try {
    const out = await new Deno.Command("systemctl", {
      args: [...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    return { code: out.code, output: `${dec.decode(out.stdout)}${dec.decode(out.stderr)}`.trim() };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return { code: 127, output: "systemctl is not installed" };
    }
    if (e instanceof DOMException && e.name === "TimeoutError") {
      return {
        code: -1,
        output: `systemctl ${args.join(" ")} did not finish within ${timeoutMs} ms`,
      };
    }
    throw e;
  }
}
