/**
 * Reading a local file the user named (a key, a trusted root, a bundle, a
 * signature list): one place that says what the file is in every error,
 * lets a missing Deno permission through as it is (the command edge names
 * the flag to add), and bounds how much is read.
 *
 * @module
 */

import { IoError } from "../errors/errors.ts";
import { readAllLimited } from "./read_limited.ts";

/** How {@linkcode readLocalFile} reads and reports. */
export interface ReadFileOptions {
  /** What the file is, for messages, e.g. `key file`, `trusted root` (default: just its path). */
  what?: string;
  /** Refuse a file larger than this many bytes (default: no limit). */
  limit?: number;
  /** The error for a file that does not exist (default: an `IoError` saying so). */
  missing?: (cause: Deno.errors.NotFound) => Error;
}

/** Is `e` a missing Deno permission (passed through so the command edge can name it)? */
export function isPermissionError(e: unknown): boolean {
  return e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied;
}

/** The bytes of `path`, or the `NotFound` error when it does not exist. */
async function readOrAbsent(
  path: string,
  options: ReadFileOptions,
): Promise<Uint8Array | Deno.errors.NotFound> {
  const named = options.what ? `${options.what} ${path}` : path;
  const { limit } = options;
  let tooLarge: IoError | undefined;
  try {
    if (limit === undefined) return await Deno.readFile(path);
    const file = await Deno.open(path, { read: true });
    return await readAllLimited(
      file.readable,
      limit,
      () => tooLarge = new IoError(`${named} is larger than ${limit} bytes; is it the right file?`),
    );
  } catch (cause) {
    if (cause === tooLarge) throw cause;
    if (cause instanceof Deno.errors.NotFound) return cause;
    if (isPermissionError(cause)) throw cause;
    throw new IoError(`cannot read ${named}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * The bytes of `path`.
 * @throws IoError (unreadable, or over `limit`), `missing()` when absent,
 *   Deno.errors.NotCapable / PermissionDenied as they are.
 */
export async function readLocalFile(path: string, options: ReadFileOptions): Promise<Uint8Array> {
  const got = await readOrAbsent(path, options);
  if (!(got instanceof Deno.errors.NotFound)) return got;
  const named = options.what ? `${options.what} ${path}` : path;
  throw options.missing?.(got) ?? new IoError(`cannot read ${named}: no such file`, { cause: got });
}

/**
 * The text of `path` (UTF-8).
 * @throws as {@linkcode readLocalFile}
 */
export async function readLocalText(path: string, options: ReadFileOptions): Promise<string> {
  return new TextDecoder().decode(await readLocalFile(path, options));
}

/**
 * The text of a local state file, or undefined when it does not exist.
 * @throws IoError (unreadable), Deno.errors.NotCapable / PermissionDenied as they are.
 */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  const got = await readOrAbsent(path, {});
  // As Deno.readTextFile: a byte-order mark is kept, not stripped.
  return got instanceof Deno.errors.NotFound
    ? undefined
    : new TextDecoder("utf-8", { ignoreBOM: true }).decode(got);
}
