/**
 * A blob downloaded into the resume area, resuming with HTTP `Range` from
 * what is already there: after a dropped connection or a stall in this run
 * (up to {@linkcode ResumeOptions.attempts}), and from the partial file a
 * previous run left (re-hashed from disk first, see `resume_store.ts`). A
 * registry that ignores `Range` (200) restarts the file from byte 0; one
 * answering 206 with another range is refused. The result is a file whose
 * full digest and size were checked; a partial whose bytes turn out wrong
 * is discarded (and, when it came from an earlier run, fetched once more
 * from 0).
 *
 * @module
 */

import { DigestMismatchError, NetworkError, RegistryError } from "../errors/errors.ts";
import type { Transfer } from "../progress/progress.ts";
import type { RegistryClient } from "../registry/client.ts";
import type { Descriptor } from "../oci/media_types.ts";
import { intoReader } from "../fs/byte_stream.ts";
import { isInterrupt, withInterrupt } from "../process/interrupt.ts";
import type { PartialBlob, ResumeStore } from "./resume_store.ts";

/** How a resumable download behaves. */
export interface ResumeOptions {
  /** Requests per blob before giving up on a connection that keeps breaking (default 6). */
  attempts?: number;
  /** Pause before a retry, doubled each time (ms, default 200). */
  retryBaseMs?: number;
  /** Abandon when aborted (default: the process's interrupt). */
  signal?: AbortSignal;
  transfer?: Transfer;
}

const BUFFER = 1024 * 1024;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Is a failure worth another ranged request? Broken connections and stalls are; the budget, statuses, refusals are not. */
function retryable(e: unknown, client: RegistryClient): boolean {
  if (isInterrupt(e) || !(e instanceof NetworkError)) return false;
  return client.transport.timings.budget.remaining() > 0;
}

/** Copy `body` into `part` until it ends, cancelling it when `signal` aborts. */
async function appendBody(
  part: PartialBlob,
  body: ReadableStream<Uint8Array>,
  size: number,
  what: string,
  signal: AbortSignal,
  report: () => void,
): Promise<void> {
  const reader = intoReader(body);
  const onAbort = () => reader.cancel(signal.reason).catch(() => {});
  signal.addEventListener("abort", onAbort, { once: true });
  let buf: Uint8Array = new Uint8Array(BUFFER);
  try {
    for (;;) {
      signal.throwIfAborted();
      let got;
      try {
        got = await reader.read(buf);
      } catch (e) {
        signal.throwIfAborted();
        throw e;
      }
      if (got.done) return;
      if (part.offset + got.value.byteLength > size) {
        throw new DigestMismatchError(
          `${what}: more than the ${size} bytes its descriptor declares`,
        );
      }
      await part.append(got.value);
      buf = new Uint8Array(got.value.buffer);
      report();
    }
  } catch (e) {
    await reader.cancel(e).catch(() => {});
    throw e;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * Download `descriptor` of `repository` into `store`, resuming what is
 * there; returns the path of the complete file, whose digest and size were
 * checked. The file stays in the store: the caller links or copies it, then
 * calls `store.remove`.
 * @throws DigestMismatchError when the complete bytes do not hash to the digest
 * @throws NetworkError when the connection keeps breaking; InterruptedError on an interrupt
 */
export async function fetchBlobResumable(
  client: RegistryClient,
  repository: string,
  descriptor: Pick<Descriptor, "digest" | "size">,
  store: ResumeStore,
  options: ResumeOptions = {},
): Promise<string> {
  const signal = withInterrupt(options.signal);
  signal.throwIfAborted();
  const { size, digest } = descriptor;
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RegistryError(0, `blob ${digest}: no size to resume by`);
  }
  const what = `blob ${digest} from ${client.registry}`;
  const attempts = options.attempts ?? 6;
  let delay = options.retryBaseMs ?? 200;
  let reported = 0;
  const report = (n: number) => {
    if (n > reported) {
      options.transfer?.advance(n - reported);
      reported = n;
    }
  };
  let part = await store.open(descriptor);
  report(part.offset);
  let fromEarlierRun = part.offset > 0;
  try {
    for (let attempt = 1;; attempt++) {
      try {
        while (part.offset < size) {
          const { start, body } = await client.getBlobFrom(repository, descriptor, part.offset);
          // A registry that ignored Range sent the whole blob: keep it from byte 0.
          if (start !== part.offset) await part.truncate();
          await appendBody(part, body, size, what, signal, () => report(part.offset));
          if (part.offset < size) {
            throw new NetworkError(`${what}: the body ended at ${part.offset} of ${size} bytes`);
          }
        }
        if (part.digest() !== digest) {
          const got = part.digest();
          await part.truncate();
          if (fromEarlierRun) {
            // The kept prefix was wrong (a disk fault, an earlier bad reply): once more from 0.
            fromEarlierRun = false;
            continue;
          }
          throw new DigestMismatchError(`${what}: content digest is ${got}, expected ${digest}`);
        }
        part.close();
        return part.path;
      } catch (e) {
        if (!retryable(e, client) || attempt >= attempts) {
          if (e instanceof DigestMismatchError || e instanceof RegistryError) {
            part.close();
            await store.remove(digest);
          }
          throw e;
        }
        await sleep(delay, signal);
        delay *= 2;
        // A write that failed half-way may have left bytes the hash never saw: reopen from disk.
        part.close();
        part = await store.open(descriptor);
      }
    }
  } finally {
    part.close();
  }
}
