/**
 * Verify an image's SLSA provenance, offline, against the trusted root:
 * find its attestations (cosign's `.att` manifest, then Sigstore bundles
 * attached as OCI referrers: `lib/image/discovery.ts`), verify each (DSSE
 * signature, Fulcio chain and SCT, Rekor entry within the certificate's
 * validity, GitHub Actions issuer, slsa-github-generator container builder,
 * subject = image digest), read
 * the build facts from the verified statement and certificate only, and
 * hold them against the user's expectations. The first attestation passing
 * every check wins; when none does, the failure of the one that got the
 * furthest is reported.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { VerificationError } from "../errors/errors.ts";
import { digestArtifact } from "../bundle/artifact.ts";
import { parseBundle, verifyBundle } from "../bundle/verify_bundle.ts";
import {
  findAttestations,
  findBundles,
  type FoundAttestation,
  type FoundBundle,
} from "../image/discovery.ts";
import type { ImageSource } from "../image/source.ts";
import { isIndexType } from "../oci/media_types.ts";
import { parseImageIndex } from "../oci/manifest.ts";
import { hasIntotoV001Entry, verifyIntotoV001Attestation } from "../signatures/intoto_tlog.ts";
import { type TlogInfo, verifyCosignAttestation } from "../signatures/verify.ts";
import { isRecord } from "../json/record.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import { certificateClaims } from "./cert_claims.ts";
import {
  checkExpectations,
  combineClaims,
  type ProvenanceClaims,
  type ProvenanceExpectations,
} from "./claims.ts";
import { entriesToAttest } from "./index_entries.ts";
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

/** Does an unverified payload claim SLSA provenance? ONLY used to rank failures. */
function peekPayloadIsProvenance(payload: Uint8Array): boolean {
  try {
    const st = JSON.parse(new TextDecoder().decode(payload));
    return isRecord(st) && isSlsaProvenanceType(st.predicateType);
  } catch {
    return false;
  }
}

/**
 * What a verified signature vouches for, whatever its format: the statement
 * and certificate below come from a signature that verified for the image
 * digest (DSSE signature, Fulcio chain, transparency log, builder identity,
 * statement subject).
 */
interface VerifiedEvidence {
  statement: unknown;
  /** DER of the verified Fulcio leaf certificate. */
  certificate?: Uint8Array;
  subjectAlternativeName?: string;
  issuer?: string;
  tlog?: TlogInfo;
}

/** One attestation in any format, ready to be verified. */
interface Candidate {
  origin: string;
  /** Set when the attestation could not even be read. */
  error?: VerificationError;
  /** Does it claim (unverified) to be SLSA provenance? Ranking only. */
  peekIsProvenance(): boolean;
  /** Verify its signature for `digest`; throws VerificationError. */
  verify(digest: string, trustedRoot: LoadedTrustedRoot): VerifiedEvidence;
}

function attestationCandidate(found: FoundAttestation): Candidate {
  if (!found.ok) return unreadable(found.origin, found.error);
  const att = found.attestation;
  return {
    origin: found.origin,
    peekIsProvenance: () => peekPayloadIsProvenance(att.envelope.payload),
    verify(digest, trustedRoot) {
      if (att.envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
        throw new VerificationError(
          "PROVENANCE_TYPE",
          `the attestation's payload type is ${att.envelope.payloadType}, not an in-toto statement`,
        );
      }
      const opts = { trustedRoot, identity: provenanceIdentity(), subjectDigest: digest };
      const v = hasIntotoV001Entry(att)
        ? verifyIntotoV001Attestation(att, found.envelope, opts)
        : verifyCosignAttestation(att, opts);
      return {
        statement: v.statement,
        ...(v.signer.type === "certificate" && att.certificate
          ? {
            certificate: att.certificate,
            subjectAlternativeName: v.signer.subjectAlternativeName,
            issuer: v.signer.issuer,
          }
          : {}),
        ...(v.tlog ? { tlog: v.tlog } : {}),
      };
    },
  };
}

/** The leaf certificate of a parsed bundle (DER), if it has one. */
function bundleLeafCertificate(json: unknown): Uint8Array | undefined {
  const m = parseBundle(json).verificationMaterial.content;
  if (m.$case === "certificate") return new Uint8Array(m.certificate.rawBytes);
  if (m.$case === "x509CertificateChain") {
    const first = m.x509CertificateChain.certificates[0];
    return first ? new Uint8Array(first.rawBytes) : undefined;
  }
  return undefined;
}

/** The DSSE payload of unverified bundle JSON, for ranking only. */
function peekBundlePayload(json: unknown): Uint8Array | undefined {
  if (!isRecord(json) || !isRecord(json.dsseEnvelope)) return undefined;
  const p = json.dsseEnvelope.payload;
  return typeof p === "string" ? new Uint8Array(Buffer.from(p, "base64")) : undefined;
}

function bundleCandidate(found: FoundBundle): Candidate {
  if (!found.ok) return unreadable(found.origin, found.error);
  return {
    origin: found.origin,
    peekIsProvenance() {
      const payload = peekBundlePayload(found.bundle);
      return payload !== undefined && peekPayloadIsProvenance(payload);
    },
    verify(digest, trustedRoot) {
      const v = verifyBundle(found.bundle, digestArtifact(digest), {
        trustedRoot,
        identity: provenanceIdentity(),
      });
      if (v.content !== "dsseEnvelope" || v.statement === undefined) {
        throw new VerificationError(
          "PROVENANCE_TYPE",
          "the bundle holds a plain signature, not an in-toto attestation",
        );
      }
      const first = v.tlog[0];
      return {
        statement: v.statement,
        ...(v.signer.type === "certificate"
          ? {
            certificate: bundleLeafCertificate(found.bundle),
            subjectAlternativeName: v.signer.subjectAlternativeName,
            issuer: v.signer.issuer,
          }
          : {}),
        ...(first
          ? {
            tlog: {
              logID: first.logID,
              logIndex: Number(first.logIndex),
              integratedTime: first.integratedTime,
              kind: first.kind,
              kindVersion: first.kindVersion,
            },
          }
          : {}),
      };
    },
  };
}

function unreadable(origin: string, error: VerificationError): Candidate {
  return {
    origin,
    error,
    peekIsProvenance: () => false,
    verify: () => {
      throw error;
    },
  };
}

/** Outcome of one attestation; `stage` tells how far a failure got. */
export type AttestationOutcome =
  | { ok: true; result: ProvenanceResult }
  | { ok: false; stage: number; error: VerificationError };

/**
 * Verify one attestation (either format) for `digest` all the way: its
 * signature, then the SAME claim checks for every format (SLSA predicate,
 * builder, repository / commit / ref / workflow agreeing between statement
 * and certificate, the user's expectations).
 */
function verifyCandidate(
  c: Candidate,
  digest: string,
  opts: ProvenanceOptions,
): AttestationOutcome {
  let stage: number = Stage.Unreadable;
  try {
    if (c.error) throw c.error;
    stage = c.peekIsProvenance() ? Stage.Signature : Stage.NotProvenance;
    const verified = c.verify(digest, opts.trustedRoot);
    const pred = predicateClaims(verified.statement);
    stage = Stage.Claims;
    if (!verified.certificate) {
      throw new VerificationError("PROVENANCE_CERTIFICATE", "the attestation has no certificate");
    }
    const claims = combineClaims(
      pred,
      certificateClaims(verified.certificate),
      verified.subjectAlternativeName,
    );
    stage = Stage.Expectations;
    checkExpectations(claims, opts.expect);
    const result: ProvenanceResult = {
      digest,
      claims,
      issuer: verified.issuer ?? "",
      ...(verified.tlog ? { tlog: verified.tlog } : {}),
      origin: c.origin,
    };
    return { ok: true, result };
  } catch (e) {
    if (e instanceof VerificationError) return { ok: false, stage, error: e };
    throw e;
  }
}

/** Verify one found Sigstore bundle (OCI referrer) for `digest` all the way. */
export function verifyFoundBundle(
  found: FoundBundle,
  digest: string,
  opts: ProvenanceOptions,
): AttestationOutcome {
  return verifyCandidate(bundleCandidate(found), digest, opts);
}

/**
 * This command's policy: a `.att` manifest that cannot be read at all is
 * refused; each unusable layer is kept, and reported if nothing verifies.
 */
function attestationsOrThrow(found: FoundAttestation[]): FoundAttestation[] {
  for (const f of found) if (!f.ok && f.failed === "manifest") throw f.error;
  return found;
}

/**
 * The provenance of `digest`: cosign's `.att` attestations first, then the
 * Sigstore bundles attached as OCI referrers (only fetched when no `.att`
 * attestation passed). `undefined` when there is none at all.
 */
async function verifyDigest(
  source: ImageSource,
  digest: string,
  opts: ProvenanceOptions,
): Promise<ProvenanceResult | undefined> {
  let best: Extract<AttestationOutcome, { ok: false }> | undefined;
  let seen = 0;
  const fetchers: (() => Promise<Candidate[]>)[] = [
    async () =>
      attestationsOrThrow(await findAttestations(source, digest)).map(attestationCandidate),
    async () => (await findBundles(source, digest)).map(bundleCandidate),
  ];
  for (const fetch of fetchers) {
    for (const c of await fetch()) {
      seen++;
      const outcome = verifyCandidate(c, digest, opts);
      if (outcome.ok) return outcome.result;
      if (!best || outcome.stage > best.stage) best = outcome;
    }
  }
  if (seen === 0) return undefined;
  throw best!.error;
}

function missing(source: ImageSource, digest: string, disguise?: string): VerificationError {
  const why = disguise === undefined
    ? ""
    : ` (index entry: ${disguise}; only BuildKit attestation manifests, unknown/unknown and pointing at another entry, are passed over)`;
  return new VerificationError(
    "PROVENANCE_MISSING",
    `no attestation found for ${source.name}@${digest}${why}`,
    {
      hint:
        "the image must carry slsa-github-generator's provenance (.att, or a Sigstore bundle referrer)",
    },
  );
}

/**
 * Verify the SLSA provenance of the image `source` resolves to. For a
 * multi-platform index, the provenance of the index digest is used; when
 * the index itself has none, every entry a runtime could pull must have
 * verified provenance for the same build ({@linkcode entriesToAttest}).
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
  const children = entriesToAttest(parseImageIndex(manifest.bytes));
  if (children.length === 0) throw missing(source, digest);
  const results: ProvenanceResult[] = [];
  for (const { descriptor: child, disguise } of children) {
    const r = await verifyDigest(source, child.digest, opts);
    if (!r) throw missing(source, child.digest, disguise);
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
