/**
 * Atomic file replacement: write a temporary file in the same directory,
 * fsync it, rename it over the target, fsync the directory. Readers see the
 * old content or the new content, never a torn file, even after a crash.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { IoError } from "../cli/errors.ts";

/** Options of {@linkcode writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** File mode of the new file (default 0o644). */
  mode?: number;
}

function rethrow(what: string, path: string, cause: unknown): never {
  if (cause instanceof Deno.errors.NotCapable || cause instanceof Deno.errors.PermissionDenied) {
    throw cause;
  }
  throw new IoError(`cannot ${what} ${path}: ${(cause as Error).message}`, { cause });
}

/**
 * Replace `path` with `data` atomically (creating parent directories).
 * @throws IoError
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const dir = dirname(path);
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (cause) {
    rethrow("create directory", dir, cause);
  }
  const tmp = join(dir, `.${basename(path)}.${crypto.randomUUID()}.tmp`);
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true, mode: options.mode ?? 0o644 });
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
    await file.sync();
    file.close();
    file = undefined;
    await Deno.rename(tmp, path);
  } catch (cause) {
    try {
      file?.close();
    } catch { /* already closed */ }
    await Deno.remove(tmp).catch(() => {});
    rethrow("write", path, cause);
  }
  // Persist the rename itself. Not every platform can open a directory.
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch { /* best effort (e.g. Windows) */ }
}
