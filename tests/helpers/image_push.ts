/**
 * Push a whole image (blobs, then the manifest) with {@linkcode RegistryClient}.
 *
 * @module
 */

import type { BuiltImage } from "./image_build.ts";
import type { RegistryClient } from "../../lib/registry/client.ts";

/** Push the blobs of `image`, then its manifest under `tag` (or its digest). Returns the digest. */
export async function pushImage(
  client: RegistryClient,
  repository: string,
  image: BuiltImage,
  tag?: string,
): Promise<string> {
  await client.uploadBlob(repository, image.configDescriptor, image.config);
  for (const layer of image.layers) {
    await client.uploadBlob(repository, layer.descriptor, layer.bytes);
  }
  return await client.putManifest(
    repository,
    tag ?? image.manifestDescriptor.digest,
    image.manifest,
    image.manifestDescriptor.mediaType,
  );
}
