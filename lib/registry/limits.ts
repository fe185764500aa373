/**
 * Limits on what a registry sends before anything is verified: the size of
 * each kind of body, and how many entries a listing may have. Past a limit
 * the client refuses with one line; it never silently truncates.
 *
 * @module
 */

import { VerificationError } from "../errors/errors.ts";

/** Largest token-service reply (registry tokens are a few KiB). */
export const MAX_TOKEN_REPLY_BYTES = 64 * 1024;
/** Bytes of an error reply read for its message; the rest is discarded. */
export const MAX_ERROR_REPLY_BYTES = 16 * 1024;
/** Most distinct signature layers a `.sig` (or `.att`) manifest may list. */
export const MAX_SIGNATURE_LAYERS = 64;
/** Most tags a repository listing may hold. */
export const MAX_TAGS = 10_000;
/** Most pages of a tag listing followed. */
export const MAX_TAG_PAGES = 100;
/** Most entries an image index or referrers index may list. */
export const MAX_INDEX_ENTRIES = 1024;

/** The items of `list` with duplicates (same `keyOf`) removed, first kept, order kept. */
export function distinct<T>(list: readonly T[], keyOf: (item: T) => string): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const item of list) {
    const k = keyOf(item);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(item);
  }
  return out;
}

/**
 * Throw a refusal when `count` is over `cap`: `where` lists `count` `what`
 * (e.g. `127.0.0.1:5000/a/b: the .sig manifest`, `signature layers`).
 */
export function refuseOverCap(count: number, cap: number, where: string, what: string): void {
  if (count <= cap) return;
  throw new VerificationError(
    "LISTING_TOO_LONG",
    `${where} lists ${count} ${what}, more than the ${cap} accepted; refused`,
    { hint: "a registry listing this many is broken or hostile; nothing was installed" },
  );
}
