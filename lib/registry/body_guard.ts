/**
 * Bounded reading of response bodies: a pass-through byte stream that
 * abandons a body when it stalls, flows under a minimum rate, outlives a
 * deadline or the command's budget ({@linkcode paceGuard}); and readers of
 * small documents that refuse more bytes than the document may have, while
 * streaming ({@linkcode readDocument}, {@linkcode readPrefix}).
 *
 * @module
 */

import { DzError, NetworkError, RegistryError } from "../errors/errors.ts";
import { byteStreamFrom, intoReader } from "../fs/byte_stream.ts";
import { readAllLimited } from "../fs/read_limited.ts";
import { type Budget, deadlineError, formatSeconds, type Timings } from "./timing.ts";
import { isPermissionError } from "../fs/read_file.ts";

/** Limits of one body. */
export interface PaceLimits {
  /** Who sends it (`host[:port]`), for messages. */
  host: string;
  /** What it is, e.g. `token reply`, `blob sha256:…`. */
  what: string;
  /** Abandon after this long without a byte (ms). */
  idleMs: number;
  /** Minimum average rate (bytes/s) over each `rateWindowMs` of waiting; 0 for none. */
  minBytesPerSecond?: number;
  rateWindowMs?: number;
  /** The whole body must have arrived by this time (on the budget's clock). */
  deadline?: number;
  /** The command's budget. */
  budget?: Budget;
}

/**
 * The pace limits of a blob body from `host` under a transport's timings
 * (idle timeout, minimum rate and its window, the command's budget).
 */
export function blobPace(
  t: Pick<Timings, "idleTimeoutMs" | "minBytesPerSecond" | "rateWindowMs" | "budget">,
  host: string,
  what: string,
): PaceLimits {
  return {
    host,
    what,
    idleMs: t.idleTimeoutMs,
    minBytesPerSecond: t.minBytesPerSecond,
    rateWindowMs: t.rateWindowMs,
    budget: t.budget,
  };
}

/** A failure while reading a body, as the {@linkcode NetworkError} it is (naming `what`). */
function bodyError(e: unknown, what: string): unknown {
  if (e instanceof DzError) return e;
  if (isPermissionError(e)) return e;
  return new NetworkError(`${what}: the connection broke: ${(e as Error)?.message ?? e}`, {
    cause: e,
    hint: "retry; check the network and --proxy",
  });
}

/**
 * Pass `body` through as a byte stream (BYOB readers get the bytes straight
 * into their own buffer), erroring with a deadline `NetworkError` (`isDeadline`) when the
 * sender stalls for `idleMs`, averages under `minBytesPerSecond` over a
 * window of waiting, misses `deadline`, or the budget runs out. Only time
 * spent waiting for the network counts, never time the consumer takes. One
 * timer at a time, armed only while a read waits.
 */
export function paceGuard(
  body: ReadableStream<Uint8Array>,
  limits: PaceLimits,
): ReadableStream<Uint8Array> {
  const reader = intoReader(body);
  const now = limits.budget?.now ?? performance.now.bind(performance);
  const window = limits.rateWindowMs ?? 30_000;
  const minRate = limits.minBytesPerSecond ?? 0;
  const sender = `${limits.host} (${limits.what})`;
  let waiting = false;
  let since = 0;
  let windowWaited = 0;
  let windowBytes = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failed: NetworkError | undefined;

  /** The failure due at time `t` with `idle` ms of this read waited, if any. */
  const due = (t: number, idle: number): NetworkError | undefined => {
    if (limits.budget && limits.budget.remaining() <= 0) {
      return limits.budget.error(limits.host, limits.what);
    }
    if (idle >= limits.idleMs) {
      return deadlineError(
        `${sender}: no data for ${formatSeconds(limits.idleMs)}; transfer abandoned`,
      );
    }
    if (limits.deadline !== undefined && t >= limits.deadline) {
      return deadlineError(`${sender}: not complete by its deadline; transfer abandoned`);
    }
    if (minRate > 0 && windowWaited + idle >= window && windowBytes < minRate * window / 1000) {
      return deadlineError(
        `${sender}: ${windowBytes} bytes in ${
          formatSeconds(window)
        }, under the minimum of ${minRate} bytes/s; transfer abandoned`,
      );
    }
    return undefined;
  };
  const nextCheck = (t: number): number => {
    const idle = t - since;
    let wait = limits.idleMs - idle;
    if (minRate > 0) wait = Math.min(wait, window - windowWaited - idle);
    if (limits.deadline !== undefined) wait = Math.min(wait, limits.deadline - t);
    if (limits.budget) wait = Math.min(wait, limits.budget.remaining());
    return Math.max(1, wait);
  };
  const arm = () => {
    timer = setTimeout(check, nextCheck(now()));
    // An abandoned body's last timer must not keep the process alive.
    Deno.unrefTimer(timer as unknown as number);
  };
  const disarm = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  const check = () => {
    timer = undefined;
    if (!waiting) return;
    const t = now();
    const error = due(t, t - since);
    if (error) {
      failed = error;
      reader.cancel(error).catch(() => {});
      return;
    }
    arm();
  };
  return byteStreamFrom(async (view) => {
    waiting = true;
    since = now();
    const early = due(since, 0);
    if (early) {
      await reader.cancel(early).catch(() => {});
      throw early;
    }
    arm();
    try {
      const got = await reader.read(view);
      if (failed) throw failed;
      const t = now();
      windowWaited += t - since;
      windowBytes += got.value.byteLength;
      if (!got.done) {
        const late = due(t, 0);
        if (late) {
          failed = late;
          await reader.cancel(late).catch(() => {});
          throw late;
        }
      }
      if (windowWaited >= window) {
        windowWaited = 0;
        windowBytes = 0;
      }
      return got;
    } catch (e) {
      throw failed ?? bodyError(e, sender);
    } finally {
      waiting = false;
      disarm();
    }
  }, async (reason) => {
    disarm();
    await reader.cancel(reason).catch(() => {});
  });
}

/** How a small document is read. */
export interface DocumentRead {
  host: string;
  what: string;
  /** Most bytes it may have. */
  limit: number;
  timings: Timings;
}

/** The limits {@linkcode paceGuard} applies to a small document. */
function documentLimits(d: Pick<DocumentRead, "host" | "what" | "timings">): PaceLimits {
  const t = d.timings;
  return {
    host: d.host,
    what: d.what,
    idleMs: Math.min(t.idleTimeoutMs, t.documentTimeoutMs),
    minBytesPerSecond: t.minBytesPerSecond,
    rateWindowMs: t.rateWindowMs,
    deadline: t.budget.now() + t.documentTimeoutMs,
    budget: t.budget,
  };
}

/**
 * All bytes of a small document (token reply, manifest, index, tag list),
 * refused as soon as more than `limit` bytes arrive (or the header declares
 * more), and abandoned when it flows too slowly or too long.
 */
export async function readDocument(res: Response, d: DocumentRead): Promise<Uint8Array> {
  const tooLarge = (n?: number) =>
    new RegistryError(
      0,
      `${d.host} sent a ${d.what} of ${
        n === undefined ? "more than" : `${n} bytes, more than`
      } the ${d.limit} bytes allowed; refused`,
    );
  const declared = Number(res.headers.get("content-length") ?? "NaN");
  if (declared > d.limit) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge(declared);
  }
  if (!res.body) return new Uint8Array(0);
  try {
    return await readAllLimited(paceGuard(res.body, documentLimits(d)), d.limit, () => tooLarge());
  } catch (e) {
    throw bodyError(e, `${d.host} (${d.what})`);
  }
}

/**
 * At most `limit` bytes of a body whose rest does not matter (an error
 * reply): the rest is cancelled, and a slow or broken body just ends the
 * prefix. Never throws.
 */
export async function readPrefix(
  res: Response,
  d: DocumentRead,
): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(0);
  const reader = paceGuard(res.body, documentLimits(d)).getReader();
  const out = new Uint8Array(d.limit);
  let n = 0;
  try {
    while (n < d.limit) {
      const { value, done } = await reader.read();
      if (done) break;
      const take = Math.min(value.byteLength, d.limit - n);
      out.set(value.subarray(0, take), n);
      n += take;
    }
  } catch {
    // what arrived is all there is
  } finally {
    await reader.cancel().catch(() => {});
  }
  return out.subarray(0, n);
}
