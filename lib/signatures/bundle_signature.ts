/**
 * cosign v3 image signatures ("new bundle format"): a Sigstore bundle whose
 * DSSE envelope holds an in-toto statement of predicate type
 * `https://sigstore.dev/cosign/sign/v1` naming the image digest as its
 * subject, logged in a transparency log. On top of
 * {@linkcode verifyBundle} (signature with the trusted key, tlog entry and
 * its body, subject = the digest) this module requires what makes such a
 * bundle an image SIGNATURE rather than some other statement:
 *
 * - a DSSE bundle: a message-signature bundle over a digest does not say
 *   what was signed (an image? a blob that happens to hash the same?);
 * - the in-toto payload type;
 * - the predicate type exactly the cosign signing one: an SBOM or a
 *   provenance attestation signed by the same key is NOT a signature;
 * - at least one transparency-log entry (rollback protection needs it).
 *
 * Only key-based trust is supported (Dangerzone's model).
 *
 * @module
 */

import { type RefusalCode, refuse, VerificationError } from "../errors/errors.ts";
import { digestArtifact } from "../bundle/artifact.ts";
import { IN_TOTO_PAYLOAD_TYPE } from "../bundle/statement.ts";
import { parseBundle, verifyBundle } from "../bundle/verify_bundle.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import type { TrustedKey } from "../trust/trusted_key.ts";
import type { SignerInfo, TlogInfo } from "./verify.ts";
import { isDigest } from "../digest/digest.ts";

/** Predicate type of cosign's image signature statement (`cosign sign` v3). */
export const COSIGN_SIGN_PREDICATE_TYPE = "https://sigstore.dev/cosign/sign/v1";

/** What to trust. */
export interface BundleSignatureOptions {
  trustedRoot: LoadedTrustedRoot;
  /** The trusted public key (`--key`). */
  key: TrustedKey;
}

/** A bundle that verified as a signature of `digest`. */
export interface VerifiedBundleSignature {
  /** The image digest the statement names (= the expected digest). */
  digest: string;
  /** The first verified transparency-log entry (authenticated fields only). */
  tlog: TlogInfo;
  /** Every verified entry (authenticated fields only: `integratedTime` 0 when no SET covers it). */
  entries: TlogInfo[];
  /** Earliest verified RFC 3161 time (seconds), if any. */
  rfc3161Time?: number;
  /** The statement subject's `name` for this digest, when it gives one (the signed identity). */
  dockerReference?: string;
  signer: SignerInfo;
  /** The bundle JSON exactly as given (for storing). */
  bundle: unknown;
}

/** The non-empty `name` of the statement subject whose sha256 is `digest`'s. */
function subjectName(statement: Record<string, unknown> | undefined, digest: string) {
  const subjects = Array.isArray(statement?.subject) ? statement.subject : [];
  const hex = digest.slice("sha256:".length);
  for (const s of subjects) {
    const sub = s as { name?: unknown; digest?: { sha256?: unknown } };
    if (sub?.digest?.sha256 === hex && typeof sub.name === "string" && sub.name !== "") {
      return sub.name;
    }
  }
  return undefined;
}

/**
 * Verify `bundleJson` (parsed JSON) as a cosign v3 signature of `digest`.
 * @throws VerificationError (exit 1): `BUNDLE_NOT_DSSE`, `STATEMENT_INVALID`,
 *   `PREDICATE_MISMATCH`, `SUBJECT_MISMATCH`, `TLOG_MISSING`, `TLOG_INVALID`,
 *   `SIGNATURE_INVALID`, `KEY_UNTRUSTED`, `SIGNER_MISMATCH`…; SignatureFormatError
 *   for a malformed bundle.
 */
export function verifyBundleSignature(
  bundleJson: unknown,
  digest: string,
  opts: BundleSignatureOptions,
): VerifiedBundleSignature {
  if (!isDigest(digest)) throw new TypeError(`not a sha256 digest: ${digest}`);
  // Cheap shape checks first: no crypto for something that cannot count anyway.
  const bundle = parseBundle(bundleJson);
  if (bundle.content.$case !== "dsseEnvelope") {
    refuse(
      "BUNDLE_NOT_DSSE",
      "the bundle holds a bare message signature, which does not say what was signed",
      {
        hint:
          "cosign image signatures are DSSE bundles of a https://sigstore.dev/cosign/sign/v1 statement",
      },
    );
  }
  const payloadType = bundle.content.dsseEnvelope.payloadType;
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    refuse(
      "STATEMENT_INVALID",
      `the bundle's DSSE payload type is ${
        JSON.stringify(payloadType)
      }, not ${IN_TOTO_PAYLOAD_TYPE}`,
    );
  }
  const verified = verifyBundle(bundleJson, digestArtifact(digest), {
    trustedRoot: opts.trustedRoot,
    key: opts.key,
  });
  const predicateType = verified.statement?.predicateType;
  if (predicateType !== COSIGN_SIGN_PREDICATE_TYPE) {
    refuse(
      "PREDICATE_MISMATCH",
      `the bundle is a ${
        JSON.stringify(predicateType ?? null)
      } statement, not an image signature (${COSIGN_SIGN_PREDICATE_TYPE})`,
      { hint: "an attestation (SBOM, provenance…) signed by the same key does not sign the image" },
    );
  }
  const entries = verified.tlog.map((e) => {
    const logIndex = Number(e.logIndex);
    if (!/^\d+$/.test(e.logIndex) || !Number.isSafeInteger(logIndex)) {
      refuse("TLOG_INVALID", `the bundle's log index ${e.logIndex} is not usable`);
    }
    if (!Number.isSafeInteger(e.integratedTime) || e.integratedTime < 0) {
      refuse("TLOG_INVALID", "the bundle's integrated time is not usable");
    }
    return {
      logID: e.logID,
      logIndex,
      integratedTime: e.integratedTime,
      kind: e.kind,
      kindVersion: e.kindVersion,
    };
  });
  const entry = entries[0];
  if (!entry) {
    refuse(
      "TLOG_MISSING",
      "the bundle has no transparency-log entry",
      { hint: "sign with a transparency log (Rekor) so that rollbacks can be detected" },
    );
  }
  const name = subjectName(verified.statement, digest);
  return {
    digest,
    tlog: entry,
    entries,
    ...(verified.rfc3161Time !== undefined ? { rfc3161Time: verified.rfc3161Time } : {}),
    ...(name ? { dockerReference: name } : {}),
    signer: verified.signer,
    bundle: bundleJson,
  };
}

/** Per-bundle outcome of {@linkcode verifyBundleSignatures}. */
export type BundleSignatureReport =
  | { index: number; ok: true; result: VerifiedBundleSignature }
  | { index: number; ok: false; code: RefusalCode; reason: string };

/** Verify each bundle; never throws for a bad one (see the reports). */
export function verifyBundleSignatures(
  bundles: readonly unknown[],
  digest: string,
  opts: BundleSignatureOptions,
): BundleSignatureReport[] {
  return bundles.map((b, index) => {
    try {
      return { index, ok: true, result: verifyBundleSignature(b, digest, opts) };
    } catch (e) {
      if (!(e instanceof VerificationError)) throw e;
      return { index, ok: false, code: e.code, reason: e.message };
    }
  });
}
