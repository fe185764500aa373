/**
 * Write a file completely before it appears under its name: write a
 * temporary file in the same directory, then rename it into place.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";

/** Write `data` to `path` atomically (temp file in the same directory + rename). */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${crypto.randomUUID()}.tmp`);
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
