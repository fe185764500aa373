/**
 * Re-put a manifest under another tag, byte for byte, without moving blobs.
 *
 * @module
 */

import type { RegistryClient } from "./client.ts";

/**
 * Point `tag` at the manifest `source` (a digest, or a tag as crane accepts)
 * of `repository`. Returns the digest moved and the one the tag named
 * before (undefined when it was new).
 */
export async function retag(
  client: RegistryClient,
  repository: string,
  source: string,
  tag: string,
): Promise<{ digest: string; previous?: string }> {
  const manifest = await client.getManifest(repository, source);
  const previous = await client.headManifest(repository, tag);
  await client.putManifest(repository, tag, manifest.bytes, manifest.mediaType);
  return { digest: manifest.digest, ...(previous ? { previous: previous.digest } : {}) };
}
