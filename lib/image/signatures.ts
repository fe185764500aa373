/**
 * Read cosign signatures attached to an image, from any {@linkcode ImageSource}:
 * the layers of its `.sig` manifest, each payload fetched and checked
 * against its layer digest. Nothing here trusts them: verify with
 * `lib/signatures/verify.ts`.
 *
 * @module
 */

import type { ImageSource } from "./source.ts";
import {
  type CosignLayer,
  cosignManifestLayers,
  signatureFromLayer,
} from "../signatures/cosign_layers.ts";
import type { CosignSignature } from "../signatures/model.ts";

/** Largest signature payload read (simple-signing payloads are tiny). */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;

/** A signature with the `.sig` manifest layer it came from. */
export interface SignatureLayer {
  layer: CosignLayer;
  signature: CosignSignature;
}

/**
 * The cosign signatures attached to `digest`, each with its layer (empty
 * when there are none). Layers whose payload is over
 * {@linkcode MAX_PAYLOAD_BYTES} are skipped.
 */
export async function fetchCosignSignatureLayers(
  source: ImageSource,
  digest: string,
): Promise<SignatureLayer[]> {
  const manifest = await source.cosignArtifact(digest, "sigs");
  if (!manifest) return [];
  const layers = cosignManifestLayers(JSON.parse(new TextDecoder().decode(manifest.bytes)));
  const out: SignatureLayer[] = [];
  for (const [i, layer] of layers.entries()) {
    if (layer.size > MAX_PAYLOAD_BYTES) continue;
    const payload = await source.blobBytes(layer);
    out.push({
      layer,
      signature: signatureFromLayer(payload, layer.annotations, `signature ${i + 1}`),
    });
  }
  return out;
}

/** The cosign signatures attached to `digest` (empty when there are none). */
export async function fetchCosignSignatures(
  source: ImageSource,
  digest: string,
): Promise<CosignSignature[]> {
  return (await fetchCosignSignatureLayers(source, digest)).map((s) => s.signature);
}
