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
  /** Abandon the write (nothing is left at the path) when this aborts. */
  signal?: AbortSignal;
}

/** Small chunks are gathered into writes of this size. */
const WRITE_BUFFER = 512 * 1024;

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.byteLength) off += await file.write(data.subarray(off));
}

/**
 * Copy `stream` into `file`: small chunks are gathered into 512 KiB writes,
 * and one write is in flight while the next buffer fills (two buffers, so
 * memory stays at 1 MiB whatever the size).
 */
async function copyInto(
  file: Deno.FsFile,
  stream: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): Promise<void> {
  const buffers = [new Uint8Array(WRITE_BUFFER), new Uint8Array(WRITE_BUFFER)];
  let current = 0;
  let fill = 0;
  let inflight: Promise<void> = Promise.resolve();
  let failure = undefined as { error: unknown } | undefined;
  const check = () => {
    if (failure) throw failure.error;
  };
  const start = (data: Uint8Array) => {
    inflight = writeAll(file, data).catch((error) => {
      failure ??= { error };
    });
  };
  const flush = async () => {
    if (fill === 0) return;
    await inflight; // the other buffer is free once its write is done
    check();
    start(buffers[current].subarray(0, fill));
    current ^= 1;
    fill = 0;
  };
  try {
    for await (const chunk of stream) {
      signal?.throwIfAborted();
      check();
      if (chunk.byteLength >= WRITE_BUFFER / 2) {
        // Large chunks go out as they are (after what is buffered); the
        // stream gives each chunk up, so holding it until written is safe.
        await flush();
        await inflight;
        check();
        start(chunk);
        continue;
      }
      if (fill + chunk.byteLength > WRITE_BUFFER) await flush();
      buffers[current].set(chunk, fill);
      fill += chunk.byteLength;
    }
    await flush();
  } finally {
    await inflight;
  }
  check();
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
      await copyInto(file, stream, options.signal);
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
