/**
 * Exit statuses (see `docs/cli.md#exit-status`): the one place that maps an
 * error's category (`lib/errors/codes.ts`) to the status the process ends
 * with. Library code never sees these numbers.
 *
 * @module
 */

import type { ErrorCategory, ErrorCode } from "../errors/codes.ts";
import { categoryOf } from "../errors/codes.ts";
import { DzError } from "../errors/errors.ts";

/** Exit status of a success. */
export const EXIT_OK = 0;
/** Exit status when a check refused the input (bad signature, rollback, tampered data). */
export const EXIT_REFUSED = 1;
/** Exit status for a usage error (bad flags, bad reference syntax, a missing named file). */
export const EXIT_USAGE = 2;
/** Exit status for everything else: network, registry, runtime, I/O, not built yet. */
export const EXIT_OTHER = 3;
/** Exit status of an interrupted command (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

/** The exit status of each category. */
export const EXIT_STATUS: Readonly<Record<ErrorCategory, number>> = {
  refused: EXIT_REFUSED,
  usage: EXIT_USAGE,
  failure: EXIT_OTHER,
  interrupted: EXIT_INTERRUPTED,
};

/** The exit status of a catalogue code. */
export function exitStatusOfCode(code: ErrorCode): number {
  return EXIT_STATUS[categoryOf(code)];
}

/**
 * The exit status for an error already made user-facing (see
 * `asUserError` in `error_output.ts`): its code's, else a failure.
 */
export function exitStatusOf(error: unknown): number {
  return error instanceof DzError ? exitStatusOfCode(error.code) : EXIT_OTHER;
}
