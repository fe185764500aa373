/**
 * The progress hook library code reports long transfers and notes to. It is
 * defined here, below every area that reports; how it is shown (a redrawn
 * terminal line, plain log lines, nothing) is the command edge's job
 * (`lib/cli/progress.ts`).
 *
 * @module
 */

/** How progress is shown. */
export type ProgressMode = "auto" | "plain" | "none";

/** One transfer under way. */
export interface Transfer {
  /** Bytes done so far (monotonic). */
  advance(bytes: number): void;
  /** The transfer finished (successfully or not). */
  done(ok?: boolean): void;
}

/** The hook library code reports to. */
export interface Progress {
  /** Start a transfer of `total` bytes (or unknown) named `label` (`<phase> <what>`). */
  start(label: string, total?: number): Transfer;
  /** A one-line status note. */
  note(message: string): void;
}

/** A {@linkcode Transfer} that records nothing. */
export const NOOP_TRANSFER: Transfer = { advance() {}, done() {} };

/** A {@linkcode Progress} that shows nothing. */
export const silentProgress: Progress = {
  start: () => NOOP_TRANSFER,
  note() {},
};
