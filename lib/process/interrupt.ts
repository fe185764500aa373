/**
 * The process's interrupt: one {@linkcode AbortSignal} that the command edge
 * aborts on SIGINT / SIGTERM (`lib/cli/interrupt.ts`) and that long-running
 * library work observes by default (blob transfers, streamed file writes,
 * waiting for a lock). Aborting makes the awaited work reject with
 * {@linkcode InterruptedError}, so every `finally` on the way runs: temp
 * files are removed, locks released, partial downloads kept in the resume
 * area. Library functions still take an explicit `signal` parameter; this
 * is only their default.
 *
 * @module
 */

import { DzError } from "../errors/errors.ts";

/** The work was interrupted (Ctrl-C, SIGTERM): the `interrupted` category. */
export class InterruptedError extends DzError {
  constructor(message = "interrupted", options: { cause?: unknown } = {}) {
    super("INTERRUPTED", message, options);
  }
}

const controller = new AbortController();

/** The process-wide interrupt signal (aborted once a SIGINT / SIGTERM arrived). */
export function interruptSignal(): AbortSignal {
  return controller.signal;
}

/** Abort the process-wide signal with an {@linkcode InterruptedError} (idempotent). */
export function interruptProcess(signalName = "SIGINT"): void {
  if (!controller.signal.aborted) {
    controller.abort(new InterruptedError(`interrupted (${signalName})`));
  }
}

/** Was `e` caused by an interrupt (the error itself, or an abort whose reason is one)? */
export function isInterrupt(e: unknown): boolean {
  for (let c = e, i = 0; c !== undefined && c !== null && i < 8; i++) {
    if (c instanceof InterruptedError) return true;
    c = (c as { cause?: unknown }).cause;
  }
  return false;
}

/** `signal` together with the process's interrupt: aborted when either is. */
export function withInterrupt(signal?: AbortSignal): AbortSignal {
  return signal ? AbortSignal.any([signal, interruptSignal()]) : interruptSignal();
}
