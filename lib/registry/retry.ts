/**
 * The registry retry policy: which failures are retried (429, 5xx,
 * connection errors; never a deadline), how often, and how long to wait
 * between attempts (exponential backoff with jitter, or the server's
 * `Retry-After`, capped). Every value, the sleep and the randomness are
 * parameters, so tests run the real loop without waiting.
 *
 * @module
 */

import { isDeadline } from "./timing.ts";

/** How a transport retries a failing, replayable request. */
export interface RetryPolicy {
  /** Retries after the first attempt (default 4). */
  retries: number;
  /** First backoff in milliseconds (default 250), doubled each retry, plus up to half of it as jitter. */
  baseMs: number;
  /** Longest `Retry-After` honoured, in milliseconds (default 30 000). */
  maxRetryAfterMs: number;
  /** Waits this many milliseconds (default: a real timer). */
  sleep: (ms: number) => Promise<void>;
  /** A number in [0, 1) for the jitter (default `Math.random`). */
  random: () => number;
}

/** The policy commands use (README "Time": Retry-After capped at 30 s). */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  retries: 4,
  baseMs: 250,
  maxRetryAfterMs: 30_000,
  sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
  random: Math.random,
});

/** The older flat option names, still accepted by {@linkcode resolveRetryPolicy}. */
export interface RetryOptions {
  /** Retries after the first attempt (default 4). */
  retries?: number;
  /** First backoff in milliseconds (default 250), doubled each retry. */
  retryBaseMs?: number;
  /** Longest `Retry-After` honoured, in milliseconds (default 30 000). */
  maxRetryAfterMs?: number;
  /** The policy, field by field (the flat names above win when both are given). */
  retry?: Partial<RetryPolicy>;
}

/** Fill in the defaults of a retry policy. */
export function resolveRetryPolicy(o: RetryOptions = {}): RetryPolicy {
  const p = { ...DEFAULT_RETRY_POLICY, ...(o.retry ?? {}) };
  return {
    ...p,
    retries: o.retries ?? p.retries,
    baseMs: o.retryBaseMs ?? p.baseMs,
    maxRetryAfterMs: o.maxRetryAfterMs ?? p.maxRetryAfterMs,
  };
}

/** Statuses worth another attempt. */
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

/** Is an HTTP status worth another attempt? */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

/** Is a thrown fetch error a connection failure worth another attempt? */
export function isRetryableError(e: unknown): boolean {
  if (isDeadline(e)) return false; // retrying would only cost the time again
  return e instanceof TypeError || e instanceof Deno.errors.ConnectionReset ||
    e instanceof Deno.errors.ConnectionRefused || e instanceof Deno.errors.ConnectionAborted ||
    (e instanceof DOMException && e.name === "TimeoutError");
}

/** The backoff before retry number `attempt + 1` (0-based `attempt`). */
export function backoffMs(policy: RetryPolicy, attempt: number): number {
  const delay = policy.baseMs * 2 ** attempt;
  return delay + Math.floor(policy.random() * delay / 2);
}

/** Retry-After in ms (seconds or HTTP date), or undefined. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const t = Date.parse(header);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/**
 * The wait before the next attempt: the answer's `Retry-After` (capped), or
 * else backoff number `backoffs` (0-based; `backoff` says it was one).
 */
export function waitAfter(
  policy: RetryPolicy,
  res: Response | undefined,
  backoffs: number,
): { ms: number; backoff: boolean } {
  const after = res ? retryAfterMs(res.headers.get("retry-after")) : undefined;
  return after !== undefined
    ? { ms: Math.min(after, policy.maxRetryAfterMs), backoff: false }
    : { ms: backoffMs(policy, backoffs), backoff: true };
}
