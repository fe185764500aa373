/**
 * Read a small stream (a manifest, an index) fully, refusing to buffer more
 * than a limit: a hostile source cannot make us hold unbounded data.
 *
 * @module
 */

/**
 * All bytes of `stream`; throws `tooLarge()` (after cancelling the stream)
 * as soon as more than `limit` bytes have arrived.
 */
export async function readAllLimited(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  tooLarge: () => Error,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}
