/**
 * A blob entry of the archive checked, as it is read, against the digest
 * its name gives and the size its header declares.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { DigestMismatchError, DzError } from "../errors/errors.ts";
import { byteStreamFrom } from "../fs/byte_stream.ts";
import { ArchiveError } from "./layout_tar.ts";
import type { BlobEntry } from "./tar_walk.ts";

/**
 * A blob entry's body checked against the digest and size its name and
 * header give, as a byte stream (a BYOB reader gets the bytes copied
 * straight into its own buffer): it errors at its end, instead of closing,
 * unless the bytes are exactly right. Each piece is hashed where it lies
 * and handed back through `entry.done` once copied out.
 */
export function checked(entry: BlobEntry): ReadableStream<Uint8Array> {
  const hash = createHash("sha256");
  const what = `archive entry ${entry.name}`;
  const reader = entry.body.getReader();
  let seen = 0;
  let piece: Uint8Array | undefined;
  let left: Uint8Array = new Uint8Array(0);
  return byteStreamFrom(async (view) => {
    while (left.byteLength === 0) {
      if (piece) entry.done(piece);
      piece = undefined;
      let next;
      try {
        next = await reader.read();
      } catch (e) {
        // The tar itself is broken (cut short, a bad header): say so, whoever reads this body.
        throw e instanceof DzError
          ? e
          : new ArchiveError(`${what} could not be read: ${(e as Error).message}`, { cause: e });
      }
      if (next.done) {
        if (seen !== entry.size) {
          throw new DigestMismatchError(
            `${what}: ${seen} bytes where its descriptor declares ${entry.size}`,
          );
        }
        const got = `sha256:${hash.digest("hex")}`;
        if (got !== entry.digest) {
          throw new DigestMismatchError(
            `${what}: content digest is ${got}, expected ${entry.digest}`,
          );
        }
        return { done: true, value: view.subarray(0, 0) };
      }
      seen += next.value.byteLength;
      if (seen > entry.size) {
        throw new DigestMismatchError(
          `${what}: more than the ${entry.size} bytes its descriptor declares`,
        );
      }
      hash.update(next.value);
      piece = left = next.value;
    }
    const n = Math.min(view.byteLength, left.byteLength);
    view.set(n === left.byteLength ? left : left.subarray(0, n));
    left = left.subarray(n);
    return { done: false, value: view.subarray(0, n) };
  }, (reason) => reader.cancel(reason));
}

/** A failure while unpacking entry `name` of `path`, as the {@linkcode ArchiveError} it is. */
export function asArchiveError(e: unknown, path: string, name: string): unknown {
  if (e instanceof DigestMismatchError) {
    return new ArchiveError(`the archive's ${name} does not hash to its name: ${e.message}`, {
      cause: e,
    });
  }
  return e instanceof DzError
    ? e
    : new ArchiveError(`${path} could not be read: ${(e as Error).message}`, { cause: e });
}
