/**
 * Re-put a manifest under another tag, byte for byte, without moving blobs.
 *
 * @module
 */

import type { RegistryClient } from "./client.ts";

/**
 * Point `tag` at the manifest `digest` of `repository`. Returns the digest
 * the tag named before (undefined when it was new).
 */
export async function retag(
  client: RegistryClient,
  repository: string,
  digest: string,
  tag: string,
): Promise<string | undefined> {
  const manifest = await client.getManifest(repository, digest);
  const previous = await client.headManifest(repository, tag);
  await client.putManifest(repository, tag, manifest.bytes, manifest.mediaType);
  return previous?.digest;
}
