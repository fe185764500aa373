/**
 * Find an image's attestations in any {@linkcode ImageSource}: the layers of
 * cosign's `.att` manifest (`sha256-<hex>.att`, or the `atts` entry of a
 * `cosign save` layout), each DSSE envelope blob checked against its layer
 * digest by the source. Nothing here trusts them.
 *
 * @module
 */

import type { ImageSource } from "../image/source.ts";
import { attestationFromLayer, cosignManifestLayers } from "../signatures/cosign_layers.ts";
import type { CosignAttestation } from "../signatures/model.ts";
import { VerificationError } from "../errors/errors.ts";
import { distinctLayers, fetchOnce } from "../image/signatures.ts";

/** Largest DSSE envelope read (provenance envelopes are tens of KiB). */
export const MAX_ENVELOPE_BYTES = 8 * 1024 * 1024;

/** One attestation as found (unverified). */
export type FoundAttestation =
  | {
    ok: true;
    /** Where it came from, e.g. `.att layer 1`. */
    origin: string;
    attestation: CosignAttestation;
    /** The envelope bytes exactly as stored (digest-checked). */
    envelope: Uint8Array;
  }
  | { ok: false; origin: string; error: VerificationError };

/** The attestations attached to `digest` through cosign's `.att` artifact. */
export async function fetchCosignAttestations(
  source: ImageSource,
  digest: string,
): Promise<FoundAttestation[]> {
  const manifest = await source.cosignArtifact(digest, "atts");
  if (!manifest) return [];
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(manifest.bytes));
  } catch (cause) {
    throw new VerificationError("ATTESTATION_INVALID", "the .att manifest is not JSON", { cause });
  }
  const layers = distinctLayers(
    cosignManifestLayers(json),
    `${source.name}: the .att manifest of ${digest.slice(0, 19)}…`,
  );
  const blob = fetchOnce((d) => source.blobBytes(d));
  const out: FoundAttestation[] = [];
  for (const [i, layer] of layers.entries()) {
    const origin = `.att layer ${i + 1}`;
    if (layer.size > MAX_ENVELOPE_BYTES) {
      out.push({
        ok: false,
        origin,
        error: new VerificationError("ATTESTATION_INVALID", `${origin} is too large`),
      });
      continue;
    }
    const envelope = await blob(layer);
    try {
      out.push({
        ok: true,
        origin,
        attestation: attestationFromLayer(envelope, layer.annotations, origin),
        envelope,
      });
    } catch (e) {
      if (!(e instanceof VerificationError)) throw e;
      out.push({ ok: false, origin, error: e });
    }
  }
  return out;
}
