/**
 * Read cosign signatures attached to an image, from any {@linkcode ImageSource}:
 * the layers of its `.sig` manifest, each payload fetched and checked
 * against its layer digest. Nothing here trusts them: verify with
 * `lib/signatures/verify.ts`.
 *
 * What a registry lists is bounded before anything is fetched: identical
 * layers count once, more than {@linkcode MAX_SIGNATURE_LAYERS} distinct
 * ones are refused, and each payload digest is fetched once however many
 * layers name it.
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
import type { Descriptor } from "../oci/media_types.ts";
import { distinct, MAX_SIGNATURE_LAYERS, refuseOverCap } from "../registry/limits.ts";

export { MAX_SIGNATURE_LAYERS };

/** Largest signature payload read (simple-signing payloads are tiny). */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;

/** A signature with the `.sig` manifest layer it came from. */
export interface SignatureLayer {
  layer: CosignLayer;
  signature: CosignSignature;
}

/**
 * The layers of a `.sig` / `.att` manifest worth reading: identical
 * descriptors (same digest, size, media type and annotations) once, in
 * order. More than `cap` distinct ones is refused (`where` names the
 * manifest, e.g. `ghcr.io/a/b: the .sig manifest of sha256:…`).
 */
export function distinctLayers(
  layers: readonly CosignLayer[],
  where: string,
  cap: number = MAX_SIGNATURE_LAYERS,
): CosignLayer[] {
  const unique = distinct(
    layers,
    (l) =>
      JSON.stringify([
        l.digest,
        l.size,
        l.mediaType,
        Object.entries(l.annotations).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0),
      ]),
  );
  refuseOverCap(unique.length, cap, where, "distinct layers");
  return unique;
}

/**
 * `fetch` memoised by digest: a payload named by several layers is read
 * (and held) once.
 */
export function fetchOnce(
  fetch: (d: Pick<Descriptor, "digest" | "size">) => Promise<Uint8Array>,
): (d: Pick<Descriptor, "digest" | "size">) => Promise<Uint8Array> {
  const cache = new Map<string, Promise<Uint8Array>>();
  return (d) => {
    const key = `${d.digest} ${d.size}`;
    let p = cache.get(key);
    if (!p) {
      p = fetch(d);
      cache.set(key, p);
    }
    return p;
  };
}

/** `where` for messages about the `.sig` manifest of `digest` in `source`. */
function sigWhere(source: ImageSource, digest: string): string {
  return `${source.name}: the .sig manifest of ${digest.slice(0, 19)}…`;
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
  const layers = distinctLayers(
    cosignManifestLayers(JSON.parse(new TextDecoder().decode(manifest.bytes))),
    sigWhere(source, digest),
  );
  const blob = fetchOnce((d) => source.blobBytes(d));
  const out: SignatureLayer[] = [];
  for (const [i, layer] of layers.entries()) {
    if (layer.size > MAX_PAYLOAD_BYTES) continue;
    const payload = await blob(layer);
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
