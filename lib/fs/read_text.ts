/**
 * Reading small local state files: absent is `undefined`, a missing Deno
 * permission passes through (the CLI names it), anything else is an
 * {@linkcode IoError} naming the path.
 *
 * @module
 */

import { IoError } from "../errors/errors.ts";
import { isPermissionError } from "./read_file.ts";

/**
 * The text of `path`, or undefined when it does not exist.
 * @throws IoError (unreadable), Deno.errors.NotCapable / PermissionDenied as they are.
 */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) return undefined;
    if (isPermissionError(cause)) {
      throw cause;
    }
    throw new IoError(`cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
}
