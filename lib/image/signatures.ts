/**
 * Read cosign signatures attached to an image, from any {@linkcode ImageSource}:
 * the layers of its `.sig` manifest, each payload fetched and checked
 * against its layer digest. Nothing here trusts them: verify with
 * `lib/signatures/verify.ts`.
 *
 * @module
 */

import type { ImageSource } from "./source.ts";
import { cosignManifestLayers, signatureFromLayer } from "../signatures/cosign_layers.ts";
import type { CosignSignature } from "../signatures/model.ts";

/** Largest signature payload read (simple-signing payloads are tiny). */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;

/** The cosign signatures attached to `digest` (empty when there are none). */
export async function fetchCosignSignatures(
  source: ImageSource,
  digest: string,
): Promise<CosignSignature[]> {
  const manifest = await source.cosignArtifact(digest, "sigs");
  if (!manifest) return [];
  const layers = cosignManifestLayers(JSON.parse(new TextDecoder().decode(manifest.bytes)));
  const out: CosignSignature[] = [];
  for (const [i, layer] of layers.entries()) {
    if (layer.size > MAX_PAYLOAD_BYTES) continue;
    const payload = await source.blobBytes(layer);
    out.push(signatureFromLayer(payload, layer.annotations, `signature ${i + 1}`));
  }
  return out;
}
