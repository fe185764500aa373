/**
 * Deadlines for everything read from the network: how long a server may
 * take to answer, how slowly a body may flow, how long a small document
 * may take as a whole, and the total budget of one command (`--timeout`).
 * A hostile or broken server therefore costs bounded time, and the first
 * failure says which host did what. Every value is a parameter (tests use
 * short ones); the clock too.
 *
 * @module
 */

import { NetworkError } from "../errors/errors.ts";

/** Timing limits of one transport; every field has a default. */
export interface NetworkTimings {
  /** Milliseconds to wait for response headers (default 30 000). */
  timeoutMs?: number;
  /** A body that sends nothing for this long is abandoned (ms, default 60 000). */
  idleTimeoutMs?: number;
  /** Slowest average rate a body may keep over {@linkcode rateWindowMs} (bytes/s, default 1024). */
  minBytesPerSecond?: number;
  /** Window the minimum rate is averaged over (ms of waiting, default 30 000). */
  rateWindowMs?: number;
  /** Longest a small document (token, manifest, index, error, signature, bundle) may take (ms, default 120 000). */
  documentTimeoutMs?: number;
  /** Total budget of the command (ms, default 3 600 000; `--timeout SECONDS`). */
  budgetMs?: number;
  /** Clock in milliseconds (default `performance.now`). */
  now?: () => number;
}

/** Defaults of {@linkcode NetworkTimings}. */
const DEFAULT_TIMINGS = {
  timeoutMs: 30_000,
  idleTimeoutMs: 60_000,
  minBytesPerSecond: 1024,
  rateWindowMs: 30_000,
  documentTimeoutMs: 120_000,
  budgetMs: 3_600_000,
} as const;

const deadlines = new WeakSet<Error>();

/**
 * A {@linkcode NetworkError} caused by a deadline: never retried (it would
 * only cost the time again); see {@linkcode isDeadline}.
 */
export function deadlineError(
  message: string,
  options?: ConstructorParameters<typeof NetworkError>[1],
): NetworkError {
  const e = new NetworkError(message, options);
  deadlines.add(e);
  return e;
}

/** Was `e` made by {@linkcode deadlineError}? */
export function isDeadline(e: unknown): boolean {
  return e instanceof Error && deadlines.has(e);
}

function seconds(ms: number): string {
  const s = ms / 1000;
  return Number.isInteger(s) ? `${s}` : s.toFixed(1);
}

/** The time budget of one command, shared by every request it makes. */
export class Budget {
  readonly totalMs: number;
  readonly now: () => number;
  readonly #end: number;

  constructor(
    totalMs: number = DEFAULT_TIMINGS.budgetMs,
    now: () => number = performance.now.bind(performance),
  ) {
    this.totalMs = totalMs;
    this.now = now;
    this.#end = now() + totalMs;
  }

  /** Milliseconds left (0 when spent). */
  remaining(): number {
    return Math.max(0, this.#end - this.now());
  }

  /** The error for a budget that ran out while `host` was doing `what`. */
  error(host: string, what: string): NetworkError {
    return deadlineError(
      `${host}: the ${seconds(this.totalMs)} s time budget ran out during ${what}`,
      { hint: "raise it with --timeout SECONDS if the network is just slow" },
    );
  }

  /** Throw {@linkcode Budget.error} when the budget is spent. */
  check(host: string, what: string): void {
    if (this.remaining() <= 0) throw this.error(host, what);
  }
}

/** Resolved timings (defaults filled in) plus the budget they share. */
export interface Timings {
  timeoutMs: number;
  idleTimeoutMs: number;
  minBytesPerSecond: number;
  rateWindowMs: number;
  documentTimeoutMs: number;
  budget: Budget;
}

/** Fill in defaults and start the budget. */
export function resolveTimings(t: NetworkTimings = {}): Timings {
  return {
    timeoutMs: t.timeoutMs ?? DEFAULT_TIMINGS.timeoutMs,
    idleTimeoutMs: t.idleTimeoutMs ?? DEFAULT_TIMINGS.idleTimeoutMs,
    minBytesPerSecond: t.minBytesPerSecond ?? DEFAULT_TIMINGS.minBytesPerSecond,
    rateWindowMs: t.rateWindowMs ?? DEFAULT_TIMINGS.rateWindowMs,
    documentTimeoutMs: t.documentTimeoutMs ?? DEFAULT_TIMINGS.documentTimeoutMs,
    budget: new Budget(t.budgetMs ?? DEFAULT_TIMINGS.budgetMs, t.now),
  };
}

/** Format milliseconds as seconds for messages. */
export function formatSeconds(ms: number): string {
  return `${seconds(ms)} s`;
}
