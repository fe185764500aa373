/**
 * Signature discovery: everything attached to an image that may sign it,
 * found through any {@linkcode ImageSource} (registry, `oci:DIR`, archive),
 * in one result shape.
 *
 * - cosign signatures: the layers of the `.sig` manifest, each payload
 *   fetched and checked against its layer digest;
 * - cosign attestations: the layers of the `.att` manifest (DSSE envelopes);
 * - Sigstore bundles attached as OCI 1.1 artifacts, the way cosign v3
 *   (`--new-bundle-format`) and GitHub's `actions/attest-build-provenance`
 *   attach them (cosign's `specs/BUNDLE_SPEC.md`): an image manifest with
 *   `artifactType` a bundle media type, one layer of that type holding the
 *   bundle JSON, and `subject` naming the image, listed by
 *   {@linkcode ImageSource.referrers}.
 *
 * Every entry found is `{ok: true, origin, …}` or `{ok: false, origin,
 * error, failed}`; the caller picks its policy from that one result
 * ({@linkcode dropUnusable}, {@linkcode requireWellFormed}, or reporting
 * each). What a source lists is bounded before anything is fetched:
 * identical layers count once, more than {@linkcode MAX_SIGNATURE_LAYERS}
 * distinct ones (or {@linkcode MAX_REFERRERS} bundle referrers) is refused,
 * never truncated, and each blob is fetched once however many entries name
 * it. Nothing here trusts what it finds: verify with `lib/signatures/` and
 * `lib/bundle/`.
 *
 * @module
 */

import { SignatureFormatError, VerificationError } from "../errors/errors.ts";
import { parseDigest, sha256Digest } from "../digest/digest.ts";
import type { Descriptor } from "../oci/media_types.ts";
import { distinct, MAX_SIGNATURE_LAYERS, refuseOverCap } from "../registry/limits.ts";
import {
  attestationFromLayer,
  type CosignLayer,
  cosignManifestLayers,
  signatureFromLayer,
} from "../signatures/cosign_layers.ts";
import type { CosignAttestation, CosignSignature } from "../signatures/model.ts";
import type { ImageSource } from "./source.ts";
import { BUNDLE_REFERRERS, readBundleReferrer } from "./bundles.ts";

export { MAX_SIGNATURE_LAYERS };
export {
  BUNDLE_MEDIA_TYPES,
  isBundleMediaType,
  MAX_BUNDLE_BYTES,
  MAX_REFERRERS,
} from "./bundles.ts";

/** Largest signature payload read (simple-signing payloads are tiny). */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;
/** Largest DSSE envelope read (provenance envelopes are tens of KiB). */
export const MAX_ENVELOPE_BYTES = 8 * 1024 * 1024;

/** An entry that could not be used. */
export interface Failure {
  ok: false;
  /** Where it came from, e.g. `signature 2`, `.att layer 1`, `referrer sha256:…`. */
  origin: string;
  error: VerificationError;
  /**
   * What failed: the `.sig` / `.att` manifest itself (nothing in it could
   * be read), one entry over its size cap (never fetched), or one entry
   * that is unreadable or malformed.
   */
  failed: "manifest" | "oversized" | "entry";
}

/** One entry as found (unverified): `T` with its origin, or a {@linkcode Failure}. */
export type Found<T> = ({ ok: true; origin: string } & T) | Failure;

/** A cosign signature with the `.sig` layer it came from. */
export type FoundSignature = Found<{ signature: CosignSignature; layer: CosignLayer }>;
/** A cosign attestation with its envelope bytes exactly as stored (digest-checked). */
export type FoundAttestation = Found<{
  attestation: CosignAttestation;
  envelope: Uint8Array;
  layer: CosignLayer;
}>;
/** A Sigstore bundle (parsed JSON exactly as stored) and the referrer manifest holding it. */
export type FoundBundle = Found<{ bundle: unknown; manifestDigest: string }>;

/** Options of {@linkcode findSignatures} and {@linkcode findAttestations}. */
export interface DiscoveryOptions {
  /**
   * Blobs already held (e.g. the stored signatures of the installed image):
   * a layer whose digest and size match one is not downloaded again.
   */
  knownPayloads?: readonly Uint8Array[];
}

/**
 * Lenient policy: the usable entries, and how many were not (they could not
 * verify anyway). `upgrade`, `store-signatures` and `copy` use it.
 */
export function dropUnusable<T>(
  found: readonly Found<T>[],
): { usable: ({ ok: true; origin: string } & T)[]; dropped: number } {
  const usable = found.flatMap((f) => f.ok ? [f] : []);
  return { usable, dropped: found.length - usable.length };
}

/**
 * Strict policy: every entry must be well formed; the first failure is
 * thrown. Entries over their size cap are passed over (never fetched).
 * @throws VerificationError
 */
export function requireWellFormed<T>(
  found: readonly Found<T>[],
): ({ ok: true; origin: string } & T)[] {
  const out: ({ ok: true; origin: string } & T)[] = [];
  for (const f of found) {
    if (f.ok) out.push(f);
    else if (f.failed !== "oversized") throw f.error;
  }
  return out;
}

// ---- cosign `.sig` / `.att` artifacts --------------------------------------

/**
 * The layers of a `.sig` / `.att` manifest worth reading: identical
 * descriptors (same digest, size, media type and annotations) once, in
 * order. More than `cap` distinct ones is refused.
 */
function distinctLayers(
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

/** `fetch` memoised by digest and size: a blob named by several layers is read (and held) once. */
function fetchOnce(
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

/** How one kind of cosign artifact is read. */
interface CosignKind<T> {
  kind: "sigs" | "atts";
  /** `.sig` or `.att`. */
  name: string;
  maxBytes: number;
  origin(index: number): string;
  /** @throws VerificationError when the layer is malformed */
  parse(bytes: Uint8Array, layer: CosignLayer, origin: string): T;
  /** The refusal of a manifest that is not JSON (`where` names it and the source). */
  notJson(where: string, cause: unknown): VerificationError;
  tooLarge(origin: string): VerificationError;
}

async function findCosignLayers<T>(
  source: ImageSource,
  digest: string,
  k: CosignKind<T>,
  options: DiscoveryOptions,
): Promise<Found<T & { layer: CosignLayer }>[]> {
  const manifest = await source.cosignArtifact(digest, k.kind);
  if (!manifest) return [];
  const whole = (error: VerificationError): Failure[] => [
    { ok: false, origin: `${k.name} manifest`, error, failed: "manifest" },
  ];
  const where = `${source.name}: the ${k.name} manifest of ${digest.slice(0, 19)}…`;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(manifest.bytes));
  } catch (cause) {
    return whole(k.notJson(where, cause));
  }
  let listed: CosignLayer[];
  try {
    listed = cosignManifestLayers(json);
  } catch (e) {
    if (!(e instanceof VerificationError)) throw e;
    return whole(e);
  }
  const layers = distinctLayers(listed, where);
  const known = new Map<string, Uint8Array>(
    (options.knownPayloads ?? []).map((p) => [sha256Digest(p), p]),
  );
  const blob = fetchOnce((d) => {
    const held = known.get(d.digest);
    return held && held.byteLength === d.size ? Promise.resolve(held) : source.blobBytes(d);
  });
  const out: Found<T & { layer: CosignLayer }>[] = [];
  for (const [i, layer] of layers.entries()) {
    const origin = k.origin(i);
    if (layer.size > k.maxBytes) {
      out.push({ ok: false, origin, error: k.tooLarge(origin), failed: "oversized" });
      continue;
    }
    const bytes = await blob(layer);
    try {
      out.push({ ok: true, origin, layer, ...k.parse(bytes, layer, origin) });
    } catch (e) {
      if (!(e instanceof VerificationError)) throw e;
      out.push({ ok: false, origin, error: e, failed: "entry" });
    }
  }
  return out;
}

const SIGNATURES: CosignKind<{ signature: CosignSignature }> = {
  kind: "sigs",
  name: ".sig",
  maxBytes: MAX_PAYLOAD_BYTES,
  origin: (i) => `signature ${i + 1}`,
  parse: (payload, layer, origin) => ({
    signature: signatureFromLayer(payload, layer.annotations, origin),
  }),
  notJson: (where, cause) => new SignatureFormatError(`${where} is not JSON`, { cause }),
  tooLarge: (origin) =>
    new SignatureFormatError(`${origin} payload is over ${MAX_PAYLOAD_BYTES} bytes`),
};

const ATTESTATIONS: CosignKind<{ attestation: CosignAttestation; envelope: Uint8Array }> = {
  kind: "atts",
  name: ".att",
  maxBytes: MAX_ENVELOPE_BYTES,
  origin: (i) => `.att layer ${i + 1}`,
  parse: (envelope, layer, origin) => ({
    attestation: attestationFromLayer(envelope, layer.annotations, origin),
    envelope,
  }),
  notJson: (_where, cause) =>
    new VerificationError("ATTESTATION_INVALID", "the .att manifest is not JSON", { cause }),
  tooLarge: (origin) => new VerificationError("ATTESTATION_INVALID", `${origin} is too large`),
};

/** A finder of cosign artifacts of one kind. */
type CosignFinder<T> = (
  source: ImageSource,
  digest: string,
  options?: DiscoveryOptions,
) => Promise<T[]>;

/**
 * The cosign signatures attached to `digest` (its `.sig` artifact), in
 * layer order; empty when there is none. A `.sig` manifest that cannot be
 * read is one `failed: "manifest"` entry.
 * @throws VerificationError (`LISTING_TOO_LONG`), and what reading a blob throws
 */
export const findSignatures: CosignFinder<FoundSignature> = (source, digest, options = {}) =>
  findCosignLayers(source, digest, SIGNATURES, options);

/**
 * The cosign attestations attached to `digest` (its `.att` artifact, or the
 * `atts` entry of a `cosign save` layout); see {@linkcode findSignatures}.
 */
export const findAttestations: CosignFinder<FoundAttestation> = (source, digest, options = {}) =>
  findCosignLayers(source, digest, ATTESTATIONS, options);

// ---- Sigstore bundles as OCI referrers -------------------------------------

/**
 * The Sigstore bundles attached to `digest` (unverified), each with its
 * origin; an unreadable or malformed one is a failure entry, so one bad
 * referrer does not hide a good one. Referrers of other artifact types are
 * ignored. Empty when there are none.
 * @throws NetworkError when the registry cannot be reached; VerificationError (`LISTING_TOO_LONG`)
 */
export async function findBundles(source: ImageSource, digest: string): Promise<FoundBundle[]> {
  const d = parseDigest(digest);
  const listed = await source.referrers(d, BUNDLE_REFERRERS);
  const out: FoundBundle[] = [];
  for (const desc of listed.descriptors) {
    const found = await readBundleReferrer(source, d, desc, listed.mixed);
    if (found) out.push(found.ok ? found : { ...found, failed: "entry" });
  }
  return out;
}
