/**
 * Verify an image's SLSA provenance, offline, against the trusted root:
 * find its attestations, verify each (DSSE signature, Fulcio chain and SCT,
 * Rekor entry within the certificate's validity, GitHub Actions issuer,
 * slsa-github-generator container builder, subject = image digest), read
 * the build facts from the verified statement and certificate only, and
 * hold them against the user's expectations. The first attestation passing
 * every check wins; when none does, the failure of the one that got the
 * furthest is reported.
 *
 * @module
 */

import { VerificationError } from "../cli/errors.ts";
import type { ImageSource } from "../image/source.ts";
import { type Descriptor, type ImageIndex, isIndexType } from "../registry/media_types.ts";
import { hasIntotoV001Entry, verifyIntotoV001Attestation } from "../signatures/intoto_tlog.ts";
import {
  type TlogInfo,
  type VerifiedAttestation,
  verifyCosignAttestation,
} from "../signatures/verify.ts";
import { isRecord } from "../signatures/fields.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import { certificateClaims } from "./cert_claims.ts";
import {
  checkExpectations,
  combineClaims,
  type ProvenanceClaims,
  type ProvenanceExpectations,
} from "./claims.ts";
import { fetchCosignAttestations, type FoundAttestation } from "./find.ts";
import { IN_TOTO_PAYLOAD_TYPE, isSlsaProvenanceType, provenanceIdentity } from "./policy.ts";
import { predicateClaims } from "./predicate.ts";

/** A verified provenance. */
export interface ProvenanceResult {
  /** The image digest (manifest or index) the provenance is about. */
  digest: string;
  claims: ProvenanceClaims;
  /** OIDC issuer of the signing certificate. */
  issuer: string;
  tlog?: TlogInfo;
  /** Which attestation verified, e.g. `.att layer 1`. */
  origin: string;
  /** For an index without its own provenance: the platform digests verified one by one. */
  platforms?: string[];
}

/** Options of {@linkcode verifyProvenance}. */
export interface ProvenanceOptions {
  trustedRoot: LoadedTrustedRoot;
  expect: ProvenanceExpectations;
}

/** How far a failed attestation got; the furthest one is reported. */
const Stage = {
  Unreadable: 0,
  NotProvenance: 1,
  Signature: 2,
  Claims: 3,
  Expectations: 4,
} as const;

/** The predicate type of an unverified envelope: ONLY used to rank failures. */
function peekIsProvenance(found: Extract<FoundAttestation, { ok: true }>): boolean {
  try {
    const st = JSON.parse(new TextDecoder().decode(found.attestation.envelope.payload));
    return isRecord(st) && isSlsaProvenanceType(st.predicateType);
  } catch {
    return false;
  }
}

function verifySignature(
  found: Extract<FoundAttestation, { ok: true }>,
  digest: string,
  trustedRoot: LoadedTrustedRoot,
): VerifiedAttestation {
  const att = found.attestation;
  if (att.envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new VerificationError(
      "PROVENANCE_TYPE",
      `the attestation's payload type is ${att.envelope.payloadType}, not an in-toto statement`,
    );
  }
  const opts = { trustedRoot, identity: provenanceIdentity(), subjectDigest: digest };
  return hasIntotoV001Entry(att)
    ? verifyIntotoV001Attestation(att, found.envelope, opts)
    : verifyCosignAttestation(att, opts);
}

/** Outcome of one attestation; `stage` tells how far a failure got. */
export type AttestationOutcome =
  | { ok: true; result: ProvenanceResult }
  | { ok: false; stage: number; error: VerificationError };

/** Verify one found attestation for `digest` all the way. */
export function verifyFoundAttestation(
  found: FoundAttestation,
  digest: string,
  opts: ProvenanceOptions,
): AttestationOutcome {
  let stage: number = Stage.Unreadable;
  try {
    if (!found.ok) throw found.error;
    stage = peekIsProvenance(found) ? Stage.Signature : Stage.NotProvenance;
    const verified = verifySignature(found, digest, opts.trustedRoot);
    const pred = predicateClaims(verified.statement);
    stage = Stage.Claims;
    if (verified.signer.type !== "certificate" || !found.attestation.certificate) {
      throw new VerificationError("PROVENANCE_CERTIFICATE", "the attestation has no certificate");
    }
    const claims = combineClaims(
      pred,
      certificateClaims(found.attestation.certificate),
      verified.signer.subjectAlternativeName,
    );
    stage = Stage.Expectations;
    checkExpectations(claims, opts.expect);
    const result: ProvenanceResult = {
      digest,
      claims,
      issuer: verified.signer.issuer ?? "",
      ...(verified.tlog ? { tlog: verified.tlog } : {}),
      origin: found.origin,
    };
    return { ok: true, result };
  } catch (e) {
    if (e instanceof VerificationError) return { ok: false, stage, error: e };
    throw e;
  }
}

async function verifyDigest(
  source: ImageSource,
  digest: string,
  opts: ProvenanceOptions,
): Promise<ProvenanceResult | undefined> {
  const found = await fetchCosignAttestations(source, digest);
  if (found.length === 0) return undefined;
  let best: Extract<AttestationOutcome, { ok: false }> | undefined;
  for (const f of found) {
    const outcome = verifyFoundAttestation(f, digest, opts);
    if (outcome.ok) return outcome.result;
    if (!best || outcome.stage > best.stage) best = outcome;
  }
  throw best!.error;
}

function missing(source: ImageSource, digest: string): VerificationError {
  return new VerificationError(
    "PROVENANCE_MISSING",
    `no attestation found for ${source.name}@${digest}`,
    { hint: "the image must carry slsa-github-generator's provenance (.att)" },
  );
}

/** The platform images of an index (attestation-manifest entries left out). */
function platformImages(bytes: Uint8Array): Descriptor[] {
  const index = JSON.parse(new TextDecoder().decode(bytes)) as Partial<ImageIndex>;
  return (Array.isArray(index.manifests) ? index.manifests : []).filter((d) =>
    d.platform?.os !== "unknown" && d.annotations?.["vnd.docker.reference.type"] === undefined
  );
}

/**
 * Verify the SLSA provenance of the image `source` resolves to. For a
 * multi-platform index, the provenance of the index digest is used; when
 * the index itself has none, every platform image must have verified
 * provenance for the same build.
 * @throws VerificationError (exit 1) naming the failed check
 */
export async function verifyProvenance(
  source: ImageSource,
  opts: ProvenanceOptions,
): Promise<ProvenanceResult> {
  const manifest = await source.resolve();
  const digest = manifest.digest;
  const direct = await verifyDigest(source, digest, opts);
  if (direct) return direct;
  if (!isIndexType(manifest.mediaType)) throw missing(source, digest);
  const children = platformImages(manifest.bytes);
  if (children.length === 0) throw missing(source, digest);
  const results: ProvenanceResult[] = [];
  for (const child of children) {
    const r = await verifyDigest(source, child.digest, opts);
    if (!r) throw missing(source, child.digest);
    const first = results[0];
    if (
      first &&
      (first.claims.repository !== r.claims.repository || first.claims.commit !== r.claims.commit ||
        first.claims.ref !== r.claims.ref || first.claims.workflow !== r.claims.workflow)
    ) {
      throw new VerificationError(
        "PROVENANCE_INCONSISTENT",
        `the platform images of ${digest} come from different builds`,
      );
    }
    results.push(r);
  }
  return {
    ...results[0],
    digest,
    platforms: results.map((r) => r.digest),
  };
}
