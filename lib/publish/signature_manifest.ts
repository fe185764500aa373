/**
 * cosign's signature image: the `sha256-<hex>.sig` manifest whose layers
 * are simple-signing payloads annotated with their signature and Rekor
 * bundle. New signatures are appended; existing ones are kept.
 *
 * @module
 */

import type { RegistryClient } from "../registry/client.ts";
import { cosignSignatureTag } from "../registry/cosign_tags.ts";
import { sha256Digest } from "../digest/digest.ts";
import { type Descriptor, OCI_MANIFEST } from "../oci/media_types.ts";

/** Media type of a simple-signing payload layer. */
const SIMPLE_SIGNING_LAYER = "application/vnd.dev.cosign.simplesigning.v1+json";

/** One signature layer to attach. */
export interface SignatureLayer {
  payload: Uint8Array;
  /** Annotations: `dev.cosignproject.cosign/signature`, `dev.sigstore.cosign/bundle`, … */
  annotations: Record<string, string>;
}

/** cosign's config blob for a signature image: one diff_id per layer. */
function signatureConfig(layers: Pick<Descriptor, "digest">[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({
    architecture: "",
    created: "0001-01-01T00:00:00Z",
    history: [{ created: "0001-01-01T00:00:00Z" }],
    os: "",
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) },
    config: {},
  }));
}

/** A `.sig` manifest built from its layers, with its config blob. */
export interface BuiltSignatureManifest {
  bytes: Uint8Array;
  digest: string;
  config: Descriptor;
  configBytes: Uint8Array;
}

/** Build cosign's signature manifest (and config) for these payload layers. */
export function signatureManifestFor(layers: Descriptor[]): BuiltSignatureManifest {
  const configBytes = signatureConfig(layers);
  const config: Descriptor = {
    mediaType: "application/vnd.oci.image.config.v1+json",
    digest: sha256Digest(configBytes),
    size: configBytes.byteLength,
  };
  const bytes = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config,
    layers: layers.map((l) => ({
      mediaType: l.mediaType,
      digest: l.digest,
      size: l.size,
      ...(l.annotations ? { annotations: l.annotations } : {}),
    })),
  }));
  return { bytes, digest: sha256Digest(bytes), config, configBytes };
}

/**
 * Append `layer` to the `.sig` manifest of `imageDigest` in `repository`
 * (creating it if absent). A layer with the same payload and signature is
 * not added twice. Returns the new manifest digest and the layer count.
 */
export async function attachSignature(
  client: RegistryClient,
  repository: string,
  imageDigest: string,
  layer: SignatureLayer,
): Promise<{ digest: string; layers: number; added: boolean }> {
  const tag = cosignSignatureTag(imageDigest);
  let layers: Descriptor[] = [];
  if (await client.headManifest(repository, tag) !== undefined) {
    const existing = JSON.parse(
      new TextDecoder().decode((await client.getManifest(repository, tag)).bytes),
    ) as { layers?: Descriptor[] };
    layers = Array.isArray(existing.layers) ? existing.layers : [];
  }
  const payloadDescriptor: Descriptor = {
    mediaType: SIMPLE_SIGNING_LAYER,
    digest: sha256Digest(layer.payload),
    size: layer.payload.byteLength,
    annotations: layer.annotations,
  };
  const sigKey = "dev.cosignproject.cosign/signature";
  const duplicate = layers.some((l) =>
    l.digest === payloadDescriptor.digest &&
    l.annotations?.[sigKey] === layer.annotations[sigKey]
  );
  if (!duplicate) layers.push(payloadDescriptor);
  await client.uploadBlob(repository, payloadDescriptor, layer.payload);
  const built = signatureManifestFor(layers);
  await client.uploadBlob(repository, built.config, built.configBytes);
  const digest = await client.putManifest(repository, tag, built.bytes, OCI_MANIFEST);
  return { digest, layers: layers.length, added: !duplicate };
}
