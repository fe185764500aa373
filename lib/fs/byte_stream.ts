/**
 * Byte streams without per-chunk allocations. A consumer that reads with a
 * BYOB reader into its own reusable buffer gets the bytes written straight
 * into that buffer, through every stage built here (`fetch` body → stall
 * guard → digest check → file writer), instead of each stage allocating
 * and handing over a fresh 64 KiB chunk: less copying, fewer async hops,
 * and no garbage chunks for the collector to hold (peak memory stays near
 * the runtime's own baseline whatever the transfer size).
 *
 * Readers that are not BYOB still work: a stage made by
 * {@linkcode byteStreamFrom} auto-allocates a chunk per read for them.
 *
 * @module
 */

/** One read into a caller's view. */
export interface IntoResult {
  /** The stream ended (nothing was filled). */
  done: boolean;
  /**
   * The filled part of the view, on the buffer that now holds it: a BYOB
   * read transfers the view's buffer, so callers must use this view (its
   * `.buffer`) from now on, never the one they passed. Empty when `done`.
   */
  value: Uint8Array;
}

/** Reads a stream into caller-supplied views. */
export interface IntoReader {
  /** Fill part of `view` (at least one byte unless the stream ended). */
  read(view: Uint8Array): Promise<IntoResult>;
  /** Cancel the stream (releases its source). */
  cancel(reason?: unknown): Promise<void>;
}

/** Chunk size handed to readers that do not bring their own buffer. */
const AUTO_CHUNK = 64 * 1024;

/**
 * A reader filling caller views: BYOB (no copy, the view's buffer is
 * transferred and given back) when `stream` is a byte stream, else copying
 * from its chunks.
 */
export function intoReader(stream: ReadableStream<Uint8Array>): IntoReader {
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = stream.getReader({ mode: "byob" });
  } catch {
    // not a byte stream: copy from its chunks below
  }
  if (byob) {
    const r = byob;
    return {
      async read(view) {
        const length = view.byteLength; // `view` is detached once read into
        for (;;) {
          const { value, done } = await r.read(view);
          if (value === undefined) throw new TypeError("the stream was cancelled while being read");
          const got = value as Uint8Array;
          // Some sources (Deno's Blob streams) answer a BYOB read with nothing: read again.
          if (done || got.byteLength > 0) return { done, value: got };
          view = new Uint8Array(got.buffer, got.byteOffset, length);
        }
      },
      cancel: (reason) => r.cancel(reason),
    };
  }
  const reader = stream.getReader();
  let left: Uint8Array | undefined;
  return {
    async read(view) {
      while (!left || left.byteLength === 0) {
        const next = await reader.read();
        if (next.done) return { done: true, value: view.subarray(0, 0) };
        left = next.value;
      }
      const n = Math.min(view.byteLength, left.byteLength);
      view.set(n === left.byteLength ? left : left.subarray(0, n));
      left = left.subarray(n);
      return { done: false, value: view.subarray(0, n) };
    },
    cancel: (reason) => reader.cancel(reason),
  };
}

/**
 * A byte stream whose every read is `read(view)` into the consumer's own
 * buffer (or an auto-allocated chunk for default readers). `read` may
 * throw (e.g. a digest mismatch at the end): the stream then errors instead
 * of closing, and `cancel` is called to release the source.
 */
export function byteStreamFrom(
  read: (view: Uint8Array) => Promise<IntoResult>,
  cancel: (reason: unknown) => Promise<void>,
): ReadableStream<Uint8Array> {
  return new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: AUTO_CHUNK,
    async pull(controller) {
      const request = controller.byobRequest!;
      const v = request.view!;
      let got: IntoResult;
      try {
        got = await read(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      } catch (e) {
        controller.error(e);
        await cancel(e).catch(() => {});
        return;
      }
      if (got.done) {
        controller.close();
        request.respondWithNewView(got.value.subarray(0, 0));
      } else {
        request.respondWithNewView(got.value);
      }
    },
    cancel(reason) {
      return cancel(reason);
    },
  });
}

/** A byte stream passing `stream` through; `onData` sees each piece, `onEnd` the end (either may throw). */
export function passThroughBytes(
  stream: ReadableStream<Uint8Array>,
  hooks: { onData?(chunk: Uint8Array): void; onEnd?(): void },
): ReadableStream<Uint8Array> {
  const reader = intoReader(stream);
  return byteStreamFrom(async (view) => {
    const got = await reader.read(view);
    if (got.done) hooks.onEnd?.();
    else hooks.onData?.(got.value);
    return got;
  }, (reason) => reader.cancel(reason));
}

/** Buffer size of {@linkcode pipeBytes}. */
const PIPE_BUFFER = 1024 * 1024;

/**
 * `stream` into `writable` (a child's stdin, a socket) through two reusable
 * 1 MiB buffers: one being written while the next fills, read straight into
 * (BYOB) when `stream` is a byte stream. Unlike `pipeTo`, no chunk is
 * allocated per read, so memory stays flat whatever the length. An error
 * of `stream` aborts `writable` (the reader sees a cut input) and is
 * thrown; an error of `writable` cancels `stream` and is thrown.
 */
export async function pipeBytes(
  stream: ReadableStream<Uint8Array>,
  writable: WritableStream<Uint8Array>,
): Promise<void> {
  const reader = intoReader(stream);
  const writer = writable.getWriter();
  const buffers: Uint8Array[] = [new Uint8Array(PIPE_BUFFER), new Uint8Array(PIPE_BUFFER)];
  let current = 0;
  let inflight: Promise<void> = Promise.resolve();
  let writeFailure = undefined as { error: unknown } | undefined;
  const check = () => {
    if (writeFailure) throw writeFailure.error;
  };
  try {
    for (;;) {
      // Fill the free buffer (the other one may still be being written).
      let fill = 0;
      let ended = false;
      while (fill < PIPE_BUFFER) {
        const got = await reader.read(buffers[current].subarray(fill));
        buffers[current] = new Uint8Array(got.value.buffer);
        if (got.done) {
          ended = true;
          break;
        }
        fill += got.value.byteLength;
        check();
      }
      await inflight;
      check();
      if (fill > 0) {
        inflight = writer.write(buffers[current].subarray(0, fill)).catch((error) => {
          writeFailure ??= { error };
        });
        current ^= 1;
      }
      if (ended) break;
    }
    await inflight;
    check();
    await writer.close();
  } catch (e) {
    await reader.cancel(e).catch(() => {});
    await inflight;
    await writer.abort(e).catch(() => {});
    throw e;
  } finally {
    writer.releaseLock();
  }
}
