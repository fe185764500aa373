/**
 * Atomic file writes: write a temp file beside the target, fsync, rename.
 * A failed or interrupted write leaves the old file (or none), never a
 * half-written one; the temp file is removed on failure.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { DzError, IoError } from "../cli/errors.ts";

/** Options of the atomic writers. */
export interface AtomicOptions {
  /** File mode of the result (default 0o644). */
  mode?: number;
}

function tempPath(path: string): string {
  const rand = crypto.getRandomValues(new Uint8Array(6));
  const suffix = Array.from(rand, (b) => b.toString(16).padStart(2, "0")).join("");
  return join(dirname(path), `.${path.split(/[\\/]/).pop()}.${suffix}.tmp`);
}

async function fsyncDir(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  try {
    const f = await Deno.open(dir, { read: true });
    try {
      await f.sync();
    } finally {
      f.close();
    }
  } catch {
    // Some filesystems refuse to fsync a directory; the rename is still atomic.
  }
}

/**
 * Write a stream to `path` atomically. If the stream errors (e.g. a digest
 * mismatch at its end), nothing is left at `path` and the error propagates.
 */
export async function writeStreamAtomic(
  path: string,
  stream: ReadableStream<Uint8Array>,
  options: AtomicOptions = {},
): Promise<void> {
  const tmp = tempPath(path);
  let file: Deno.FsFile;
  try {
    await Deno.mkdir(dirname(path), { recursive: true });
    file = await Deno.open(tmp, { write: true, createNew: true, mode: options.mode ?? 0o644 });
  } catch (e) {
    await stream.cancel().catch(() => {});
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) throw e;
    throw new IoError(`cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    try {
      for await (const chunk of stream) {
        let off = 0;
        while (off < chunk.byteLength) off += await file.write(chunk.subarray(off));
      }
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
    await fsyncDir(dirname(path));
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    // Verification errors (a digest mismatch at the stream's end) and missing
    // permissions pass through; other failures are I/O errors on this path.
    if (
      e instanceof DzError || e instanceof Deno.errors.NotCapable ||
      e instanceof Deno.errors.PermissionDenied
    ) {
      throw e;
    }
    throw new IoError(`cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** Write bytes or text to `path` atomically. */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: AtomicOptions = {},
): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  await writeStreamAtomic(path, new Blob([bytes as BlobPart]).stream(), options);
}
