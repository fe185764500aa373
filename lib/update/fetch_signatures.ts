/**
 * Fetch the cosign signatures of a digest from a registry for `upgrade`,
 * cheaply: the `.sig` manifest is fetched with one GET (a 404 means none),
 * and a layer whose payload is already known locally (its sha256 equals the
 * layer digest, e.g. from the stored signatures of the installed image) is
 * not downloaded again. Malformed layers are dropped (they could not verify
 * anyway). Identical layers count once, each payload is fetched once, and
 * more distinct layers than `MAX_SIGNATURE_LAYERS` is refused. Sigstore bundles (cosign v3) come through the referrers API or
 * its fallback tag ({@linkcode fetchBundlesFromRegistry}). Nothing here
 * trusts what it returns.
 *
 * @module
 */

import { RegistryError } from "../errors/errors.ts";
import { cosignSignatureTag, type Manifest } from "../registry/client.ts";
import type { RegistrySource } from "../image/source.ts";
import { sha256Digest } from "../digest/digest.ts";
import { cosignManifestLayers, signatureFromLayer } from "../signatures/cosign_layers.ts";
import type { CosignSignature } from "../signatures/model.ts";
import { distinctLayers, fetchOnce, MAX_PAYLOAD_BYTES } from "../image/signatures.ts";
import { fetchSigstoreBundles } from "../image/bundles.ts";

/** Result of {@linkcode fetchSignaturesFromRegistry}. */
export interface FetchedSignatures {
  signatures: CosignSignature[];
  /** Layers that could not be read as signatures. */
  dropped: number;
}

/**
 * The cosign signatures attached to `digest` in `source`'s repository.
 * `knownPayloads` are payload bytes already held (checked by hash here).
 */
export async function fetchSignaturesFromRegistry(
  source: RegistrySource,
  digest: string,
  knownPayloads: readonly Uint8Array[] = [],
): Promise<FetchedSignatures> {
  let manifest: Manifest;
  try {
    manifest = await source.client.getManifest(source.repository, cosignSignatureTag(digest));
  } catch (e) {
    if (e instanceof RegistryError && e.status === 404) return { signatures: [], dropped: 0 };
    throw e;
  }
  const known = new Map(knownPayloads.map((p) => [sha256Digest(p), p]));
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(manifest.bytes));
  } catch {
    return { signatures: [], dropped: 1 };
  }
  let layers;
  try {
    layers = cosignManifestLayers(doc);
  } catch {
    return { signatures: [], dropped: 1 };
  }
  layers = distinctLayers(
    layers,
    `${source.name}: the .sig manifest of ${digest.slice(0, 19)}…`,
  );
  const blob = fetchOnce((d) => source.blobBytes(d));
  const signatures: CosignSignature[] = [];
  let dropped = 0;
  for (const [i, layer] of layers.entries()) {
    if (layer.size > MAX_PAYLOAD_BYTES) {
      dropped++;
      continue;
    }
    const cached = known.get(layer.digest);
    const payload = cached && cached.byteLength === layer.size ? cached : await blob(layer);
    try {
      signatures.push(signatureFromLayer(payload, layer.annotations, `signature ${i + 1}`));
    } catch {
      dropped++;
    }
  }
  return { signatures, dropped };
}

/** Result of {@linkcode fetchBundlesFromRegistry}. */
export interface FetchedBundles {
  /** The bundle documents found (unverified). */
  bundles: unknown[];
  /** Referrers that looked like bundles but could not be read. */
  dropped: number;
}

/**
 * The Sigstore bundles attached to `digest` (referrers API, else the
 * `sha256-<hex>` fallback tag), unverified; unreadable ones are counted as
 * dropped.
 * @throws NetworkError
 */
export async function fetchBundlesFromRegistry(
  source: RegistrySource,
  digest: string,
): Promise<FetchedBundles> {
  const found = await fetchSigstoreBundles(source, digest);
  return {
    bundles: found.flatMap((f) => f.ok ? [f.bundle] : []),
    dropped: found.filter((f) => !f.ok).length,
  };
}
