/**
 * SIGINT / SIGTERM at the command edge. While a command runs, the first
 * signal aborts the process's interrupt signal (`lib/process/interrupt.ts`):
 * transfers, streamed writes and lock waits reject, every `finally` on the
 * way runs (temp files removed, locks released, partial downloads kept in
 * the resume area), and the command fails with one line, "interrupted;
 * nothing was installed, N MiB kept to resume", exit 130. A second signal
 * stops the process at once (still 130). Work that finishes despite the
 * signal (it came during a last step that cannot be stopped) reports its
 * real outcome.
 *
 * @module
 */

import { InterruptedError, interruptProcess, interruptSignal } from "../process/interrupt.ts";
import { EXIT_INTERRUPTED } from "./exit_codes.ts";
import { ResumeStore } from "../transfer/resume_store.ts";

const SIGNALS: Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT", "SIGBREAK"]
  : ["SIGINT", "SIGTERM"];

/** What {@linkcode runInterruptible} needs. */
export interface InterruptContext {
  /** The command's data directory (its resume area is measured for the message). */
  dataDir: string;
  /** Print one line on stderr (used only for a second signal). */
  err?(line: string): void;
}

/** The one line of an interrupted command (without the program prefix). */
export async function interruptedLine(dataDir: string): Promise<string> {
  const kept = await ResumeStore.forDataDir(dataDir).keptBytes().catch(() => 0);
  const mib = kept / 1024 / 1024;
  return `interrupted; nothing was installed, ${
    mib === 0 ? "0" : mib < 0.1 ? "<0.1" : mib.toFixed(1)
  } MiB kept to resume`;
}

/**
 * Run `work` with SIGINT / SIGTERM turned into the process's interrupt.
 * @throws InterruptedError (exit 130, the one line as its message) when it failed after a signal
 */
export async function runInterruptible<T>(
  work: () => Promise<T>,
  ctx: InterruptContext,
): Promise<T> {
  let count = 0;
  const listeners: [Deno.Signal, () => void][] = [];
  for (const sig of SIGNALS) {
    const handler = () => {
      count++;
      if (count === 1) {
        interruptProcess(sig);
        return;
      }
      (ctx.err ?? ((l: string) => console.error(l)))("interrupted again; stopping now");
      Deno.exit(EXIT_INTERRUPTED);
    };
    try {
      Deno.addSignalListener(sig, handler);
      listeners.push([sig, handler]);
    } catch {
      // not supported here (or no permission): the default action stays
    }
  }
  try {
    return await work();
  } catch (e) {
    if (interruptSignal().aborted) {
      throw new InterruptedError(await interruptedLine(ctx.dataDir), { cause: e });
    }
    throw e;
  } finally {
    for (const [sig, handler] of listeners) {
      try {
        Deno.removeSignalListener(sig, handler);
      } catch {
        // already gone
      }
    }
  }
}
