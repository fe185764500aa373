/**
 * The files of a TUF metadata chain, by name, as kept in the cache and
 * carried in archives. No TUF client here: the archive reader needs only
 * the names and limits, and must not load tuf-js (and its dependencies,
 * which read the environment at load time) for commands that never verify
 * a chain.
 *
 * @module
 */

/** A chain file name: `N.root.json`, `timestamp.json`, `snapshot.json`, `targets.json`, `trusted_root.json`. */
export const CHAIN_FILE =
  /^(?:[1-9][0-9]{0,8}\.root|timestamp|snapshot|targets|trusted_root)\.json$/;

/** Largest chain file accepted (tuf-js's own limits are lower for each kind). */
export const MAX_CHAIN_FILE_BYTES = 5_000_000;

/** Chain files by name. */
export type ChainFiles = Map<string, Uint8Array>;

/** The highest `N.root.json` of a chain, if any. */
export function newestRoot(files: ReadonlyMap<string, Uint8Array>): Uint8Array | undefined {
  let best: [number, Uint8Array] | undefined;
  for (const [name, bytes] of files) {
    const m = /^(\d+)\.root\.json$/.exec(name);
    if (m && (!best || Number(m[1]) > best[0])) best = [Number(m[1]), bytes];
  }
  return best?.[1];
}
