/**
 * Whether a path exists (without following a final symlink).
 *
 * @module
 */

/**
 * Does `path` exist (`lstat`: a dangling symlink exists)?
 * @throws anything but NotFound (e.g. a missing permission) as it is.
 */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
