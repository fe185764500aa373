/**
 * Atomic file writes: write a temp file beside the target, fsync, rename.
 * A failed or interrupted write leaves the old file (or none), never a
 * half-written one; the temp file is removed on failure.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { DzError, IoError } from "../errors/errors.ts";
import { intoReader } from "./byte_stream.ts";
import { withInterrupt } from "../process/interrupt.ts";
import { isPermissionError } from "./read_file.ts";

/** Options of the atomic writers. */
export interface AtomicOptions {
  /**
   * File mode of the result. When given it is set explicitly, whatever the
   * umask; by default the file is created 0o644 less the umask.
   */
  mode?: number;
  /** Mode of the directories created for the file, set explicitly (default: 0o777 less the umask). */
  dirMode?: number;
  /**
   * Abandon the write (nothing is left at the path, the temp file is
   * removed) when this aborts. The process's interrupt (Ctrl-C) always does.
   */
  signal?: AbortSignal;
  /**
   * fsync the file and its directory (default true). Only files that are
   * thrown away after a crash anyway (a private extraction or staging
   * directory) skip it; the rename is atomic either way.
   */
  durable?: boolean;
  /**
   * Never replace an existing file at the path: the result is hard-linked
   * into place (which fails if a file appeared meanwhile) instead of
   * renamed over it. Default false.
   */
  noClobber?: boolean;
  /** Create missing parent directories (default true). */
  createParents?: boolean;
}

/** Small chunks are gathered into writes of this size. */
const WRITE_BUFFER = 512 * 1024;

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.byteLength) off += await file.write(data.subarray(off));
}

/**
 * Copy `stream` into `file` in 512 KiB writes, one write in flight while
 * the next buffer fills (two buffers, so memory stays at 1 MiB whatever
 * the size). A byte stream is read with a BYOB reader straight into those
 * two buffers (no chunk allocated or copied on the way); any other stream's
 * small chunks are gathered into them, large ones written as they are.
 */
async function copyInto(
  file: Deno.FsFile,
  stream: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): Promise<void> {
  let probe: ReadableStreamBYOBReader | undefined;
  try {
    probe = stream.getReader({ mode: "byob" });
    probe.releaseLock();
  } catch {
    probe = undefined;
  }
  if (probe) return await copyBytesInto(file, stream, signal);
  return await copyChunksInto(file, stream, signal);
}

/** Writes of one buffer at a time, the next one filling meanwhile. */
class DoubleWriter {
  #inflight: Promise<void> = Promise.resolve();
  #failure: { error: unknown } | undefined;
  constructor(readonly file: Deno.FsFile) {}
  check(): void {
    if (this.#failure) throw this.#failure.error;
  }
  /** Wait for the write in flight (its buffer is free again), then start `data`. */
  async start(data: Uint8Array): Promise<void> {
    await this.#inflight;
    this.check();
    this.#inflight = writeAll(this.file, data).catch((error) => {
      this.#failure ??= { error };
    });
  }
  async settle(): Promise<void> {
    await this.#inflight;
  }
}

async function copyBytesInto(
  file: Deno.FsFile,
  stream: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): Promise<void> {
  const reader = intoReader(stream);
  const buffers: Uint8Array[] = [new Uint8Array(WRITE_BUFFER), new Uint8Array(WRITE_BUFFER)];
  const out = new DoubleWriter(file);
  let current = 0;
  let fill = 0;
  try {
    for (;;) {
      signal?.throwIfAborted();
      out.check();
      const got = await reader.read(buffers[current].subarray(fill));
      // The read transferred the buffer (with what it held): keep the one it gave back.
      buffers[current] = new Uint8Array(got.value.buffer);
      if (got.done) break;
      fill += got.value.byteLength;
      if (fill === WRITE_BUFFER) {
        await out.start(buffers[current]);
        current ^= 1;
        fill = 0;
      }
    }
    if (fill > 0) await out.start(buffers[current].subarray(0, fill));
  } catch (e) {
    await reader.cancel(e).catch(() => {});
    throw e;
  } finally {
    await out.settle();
  }
  out.check();
}

async function copyChunksInto(
  file: Deno.FsFile,
  stream: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): Promise<void> {
  const buffers = [new Uint8Array(WRITE_BUFFER), new Uint8Array(WRITE_BUFFER)];
  const out = new DoubleWriter(file);
  let current = 0;
  let fill = 0;
  const flush = async () => {
    if (fill === 0) return;
    // the other buffer is free once its write is done
    await out.start(buffers[current].subarray(0, fill));
    current ^= 1;
    fill = 0;
  };
  try {
    for await (const chunk of stream) {
      signal?.throwIfAborted();
      out.check();
      if (chunk.byteLength >= WRITE_BUFFER / 2) {
        // Large chunks go out as they are (after what is buffered); the
        // stream gives each chunk up, so holding it until written is safe.
        await flush();
        await out.start(chunk);
        continue;
      }
      if (fill + chunk.byteLength > WRITE_BUFFER) await flush();
      buffers[current].set(chunk, fill);
      fill += chunk.byteLength;
    }
    await flush();
  } finally {
    await out.settle();
  }
  out.check();
}

/** Private data (the data dir): files 0600 and directories 0700, whatever the umask. */
export const PRIVATE: Readonly<Pick<AtomicOptions, "mode" | "dirMode">> = Object.freeze({
  mode: 0o600,
  dirMode: 0o700,
});

/**
 * Create `dir` and its missing parents. With `mode`, each directory this
 * call creates gets that mode explicitly (chmod after mkdir, so the umask
 * cannot widen or narrow it); directories that already existed are left as
 * they are.
 */
export async function ensureDir(dir: string, mode?: number): Promise<void> {
  if (mode === undefined) {
    await Deno.mkdir(dir, { recursive: true });
    return;
  }
  // One level at a time, parents only when missing: nothing above is read
  // (least-privilege runs may write the data dir without reading its parent).
  try {
    await Deno.mkdir(dir, { mode });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return;
    if (!(e instanceof Deno.errors.NotFound) || dirname(dir) === dir) throw e;
    await ensureDir(dirname(dir), mode);
    try {
      await Deno.mkdir(dir, { mode });
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) return;
      throw e;
    }
  }
  await Deno.chmod(dir, mode);
}

function tempPath(path: string): string {
  const rand = crypto.getRandomValues(new Uint8Array(6));
  const suffix = Array.from(rand, (b) => b.toString(16).padStart(2, "0")).join("");
  return join(dirname(path), `.${path.split(/[\\/]/).pop()}.${suffix}.tmp`);
}

/**
 * Persist a directory entry change (a rename or link) where the platform
 * allows it; best effort elsewhere.
 */
export async function fsyncDir(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  try {
    const f = await Deno.open(dir, { read: true });
    try {
      await f.sync();
    } finally {
      f.close();
    }
  } catch {
    // Some filesystems refuse to fsync a directory; the rename or link is still atomic.
  }
}

/** Move `tmp` to `path`, failing (never replacing) when `path` exists. */
async function placeNoClobber(tmp: string, path: string): Promise<void> {
  const refuse = () =>
    new IoError(`${path} already exists; refusing to overwrite it`, {
      hint: "choose another output file, or remove the existing one first",
    });
  try {
    await Deno.link(tmp, path);
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) throw refuse();
    if (e instanceof Deno.errors.NotCapable) throw e;
    // No hard links on this file system: check, then rename (a small race window).
    try {
      await Deno.lstat(path);
      throw refuse();
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    await Deno.rename(tmp, path);
    return;
  }
  await Deno.remove(tmp);
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
    if (options.createParents !== false) await ensureDir(dirname(path), options.dirMode);
    file = await Deno.open(tmp, { write: true, createNew: true, mode: options.mode ?? 0o644 });
  } catch (e) {
    await stream.cancel().catch(() => {});
    if (isPermissionError(e)) throw e;
    throw new IoError(`cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    try {
      if (options.mode !== undefined) await Deno.chmod(tmp, options.mode);
      await copyInto(file, stream, withInterrupt(options.signal));
      if (options.durable !== false) await file.sync();
    } finally {
      file.close();
    }
    if (options.noClobber) await placeNoClobber(tmp, path);
    else await Deno.rename(tmp, path);
    if (options.durable !== false) await fsyncDir(dirname(path));
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    await stream.cancel().catch(() => {}); // unread when the chmod failed; else already locked
    // Verification errors (a digest mismatch at the stream's end) and missing
    // permissions pass through; other failures are I/O errors on this path.
    if (
      e instanceof DzError || isPermissionError(e)
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
