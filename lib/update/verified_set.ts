/**
 * The signatures of a digest that verify (cosign `.sig` signatures and
 * Sigstore bundles, for the accepted identities), and the authenticated
 * transparency-log positions they carry.
 *
 * @module
 */

import { VerificationError } from "../errors/errors.ts";
import type { CosignSignature } from "../signatures/model.ts";
import {
  type SignatureReport,
  type VerifiedSignature,
  verifyCosignSignatures,
} from "../signatures/verify.ts";
import {
  type BundleSignatureReport,
  type VerifiedBundleSignature,
  verifyBundleSignatures,
} from "../signatures/bundle_signature.ts";
import type { TrustedKey } from "../trust/trusted_key.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import type { LoggedPosition } from "../store/rollback_state.ts";
import { identityAccepted } from "../signatures/signed_identity.ts";

/** The valid signatures of a digest, of both kinds. */
export interface VerifiedSet {
  signatures: VerifiedSignature[];
  bundles: VerifiedBundleSignature[];
}

/**
 * Every signature and bundle of a digest, each verified (with its
 * transparency-log entry required) and none dropped yet, with the lists they
 * came from: what {@linkcode acceptedSet} picks from, and what a caller that
 * must refuse any failure (load-archive) looks at first.
 */
export interface SignatureReports {
  digest: string;
  signatures: readonly CosignSignature[];
  bundles: readonly unknown[];
  reports: readonly SignatureReport[];
  bundleReports: readonly BundleSignatureReport[];
}

/** Verify every signature and bundle of `digest` (never throws for a bad one). */
export function verifySignatureReports(
  signatures: readonly CosignSignature[],
  digest: string,
  key: TrustedKey,
  trustedRoot: LoadedTrustedRoot,
  bundles: readonly unknown[] = [],
): SignatureReports {
  const { reports } = signatures.length === 0
    ? { reports: [] }
    : verifyCosignSignatures(signatures, digest, { trustedRoot, key, requireTlog: true });
  const bundleReports = verifyBundleSignatures(bundles, digest, { trustedRoot, key });
  return { digest, signatures, bundles, reports, bundleReports };
}

/**
 * The signatures and bundles of `verified` that verified (with a log entry)
 * and, with `identities`, were made for one of them; at least one is
 * required, the first failure reason is given otherwise.
 * @throws VerificationError `NO_SIGNATURE`, `NO_VALID_SIGNATURE`, `IDENTITY_MISMATCH`
 */
export function acceptedSet(
  verified: SignatureReports,
  identities?: ReadonlySet<string>,
): VerifiedSet {
  const { digest, reports, bundleReports } = verified;
  const total = verified.signatures.length + verified.bundles.length;
  if (total === 0) {
    throw new VerificationError("NO_SIGNATURE", `no signatures found for ${digest}`, {
      hint: "the image is not signed; do not install it",
    });
  }
  const ok = reports.flatMap((r) => r.ok && r.result.tlog ? [r.result] : []);
  const okBundles = bundleReports.flatMap((r) => r.ok ? [r.result] : []);
  // The signed identity: a signature of another repository does not count here.
  const named = identities ? ok.filter((v) => identityAccepted(v.dockerReference, identities)) : ok;
  const namedBundles = identities
    ? okBundles.filter((b) =>
      b.dockerReference === undefined || identityAccepted(b.dockerReference, identities)
    )
    : okBundles;
  if (named.length + namedBundles.length === 0 && ok.length + okBundles.length > 0) {
    const other = ok[0]?.dockerReference ?? okBundles[0]?.dockerReference ?? "no repository";
    throw new VerificationError(
      "IDENTITY_MISMATCH",
      `the signatures of ${digest} were made for ${other}, not for ${
        [...identities!].join(" or ")
      }`,
      { hint: "install it under its signed name, or pass --signed-identity if it is a mirror" },
    );
  }
  if (named.length + namedBundles.length === 0) {
    const first = (reports.find((r) => !r.ok) ?? bundleReports.find((r) => !r.ok)) as
      | { reason: string }
      | undefined;
    throw new VerificationError(
      "NO_VALID_SIGNATURE",
      `none of the ${total} signature(s) of ${digest} verifies with the trusted key${
        first ? `: ${first.reason}` : ""
      }`,
      { hint: "do not install this image; check --key and --trusted-root" },
    );
  }
  return { signatures: named, bundles: namedBundles };
}

/**
 * The signatures and bundles that verify (with a log entry); at least one
 * is required, the first failure reason is given otherwise.
 * @throws VerificationError `NO_SIGNATURE`, `NO_VALID_SIGNATURE`, `IDENTITY_MISMATCH`
 */
export function verifiedSignaturesFor(
  signatures: readonly CosignSignature[],
  digest: string,
  key: TrustedKey,
  trustedRoot: LoadedTrustedRoot,
  bundles: readonly unknown[] = [],
  identities?: ReadonlySet<string>,
): VerifiedSet {
  return acceptedSet(
    verifySignatureReports(signatures, digest, key, trustedRoot, bundles),
    identities,
  );
}

/**
 * Authenticated transparency-log positions of every verified signature and
 * bundle entry: the SET-covered time, else the bundle's RFC 3161 time, else 0.
 */
export function positionsOf(verified: VerifiedSet): LoggedPosition[] {
  return [
    ...verified.signatures.map((v) => ({
      logID: v.tlog!.logID,
      logIndex: v.tlog!.logIndex,
      integratedTime: v.tlog!.integratedTime,
    })),
    ...verified.bundles.flatMap((b) =>
      b.entries.map((t) => ({
        logID: t.logID,
        logIndex: t.logIndex,
        integratedTime: t.integratedTime > 0 ? t.integratedTime : b.rfc3161Time ?? 0,
      }))
    ),
  ];
}
