/**
 * Which entries of a multi-platform index need their own provenance when the
 * index has none (cli.md, `attest-provenance`): every entry a runtime could
 * pull. The only entries passed over are BuildKit attestation manifests —
 * annotated `vnd.docker.reference.type: attestation-manifest`, platform
 * `unknown/unknown` (no runtime pulls that platform) and pointing
 * (`vnd.docker.reference.digest`) at another entry of the same index that is
 * itself attested. Any other annotation or platform is the attacker's to
 * choose, so it earns no exemption.
 *
 * @module
 */

import type { Descriptor, ImageIndex } from "../oci/media_types.ts";
import { formatPlatform } from "../oci/platform.ts";

/** The annotation BuildKit puts on its attestation manifests. */
const REFERENCE_TYPE = "vnd.docker.reference.type";
/** The entry a BuildKit attestation manifest is about. */
const REFERENCE_DIGEST = "vnd.docker.reference.digest";

/** An index entry that must be attested, with why it was not passed over. */
export interface EntryToAttest {
  descriptor: Descriptor;
  /** Set when the entry is annotated like an attestation but does not qualify. */
  disguise?: string;
}

function looksLikeAttestation(d: Descriptor): boolean {
  return d.annotations?.[REFERENCE_TYPE] !== undefined || d.platform?.os === "unknown" ||
    d.platform?.architecture === "unknown";
}

function platformOf(d: Descriptor): string {
  return d.platform ? formatPlatform(d.platform) : "no platform";
}

/** Annotated and placed like a BuildKit attestation manifest (target not checked)? */
function isCandidate(d: Descriptor): boolean {
  const p = d.platform;
  return d.annotations?.[REFERENCE_TYPE] === "attestation-manifest" && p?.os === "unknown" &&
    p.architecture === "unknown" && p.variant === undefined;
}

/** Is `d` a BuildKit attestation manifest pointing at a pullable entry? */
function isBuildkitAttestation(d: Descriptor, pullable: Set<string>): boolean {
  if (!isCandidate(d)) return false;
  const target = d.annotations?.[REFERENCE_DIGEST];
  return target !== undefined && target !== d.digest && pullable.has(target);
}

/** Why `d`, which looks like an attestation, is not passed over. */
function disguise(d: Descriptor): string {
  const type = d.annotations?.[REFERENCE_TYPE];
  const platform = platformOf(d);
  if (type === "attestation-manifest" && platform === "unknown/unknown") {
    return "an attestation manifest pointing at no other attested entry of the index";
  }
  return type === undefined ? `platform ${platform}` : `annotated ${type}, platform ${platform}`;
}

/**
 * The entries of `index` that must carry provenance, in index order. A
 * BuildKit attestation manifest is left out only when the entry it points at
 * is a pullable entry (so it never exempts itself or another attestation
 * manifest).
 */
export function entriesToAttest(index: Pick<ImageIndex, "manifests">): EntryToAttest[] {
  const entries = index.manifests;
  const pullable = new Set(
    entries.filter((d) => !isCandidate(d)).map((d) => d.digest),
  );
  return entries.filter((d) => !isBuildkitAttestation(d, pullable)).map((d) =>
    looksLikeAttestation(d) ? { descriptor: d, disguise: disguise(d) } : { descriptor: d }
  );
}
