/**
 * The signatures and bundles of one digest that verify with the trusted
 * key: what `prepare-archive` lets travel (the rest is left out, said).
 *
 * @module
 */

import { VerificationError } from "../errors/errors.ts";
import { findBundles, findSignatures, requireWellFormed } from "../image/discovery.ts";
import {
  type VerifiedBundleSignature,
  verifyBundleSignatures,
} from "../signatures/bundle_signature.ts";
import type { Descriptor } from "../oci/media_types.ts";
import { type VerifiedSignature, verifyCosignSignatures } from "../signatures/verify.ts";
import type { Progress } from "../progress/progress.ts";
import type { ImageSource } from "../image/source.ts";
import type { TrustedKey } from "../trust/trusted_key.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";

/** Where the signatures come from and what they must verify with. */
export interface SignatureCheck {
  source: ImageSource;
  key: TrustedKey;
  trustedRoot: LoadedTrustedRoot;
  /** Where a signature left out is said. */
  progress?: Progress;
}

/** The signatures and bundles of one digest that verify with the trusted key. */
export interface Verified {
  digest: string;
  signatures: VerifiedSignature[];
  /** The `.sig` layers of `signatures`, in order. */
  layers: Descriptor[];
  bundles: { result: VerifiedBundleSignature; manifestDigest: string }[];
  /** Signatures and bundles found, verified or not. */
  found: number;
  firstFailure?: string;
}

/** Fetch the signatures and bundles of `digest` and keep those that verify. */
export async function verifiedFor(req: SignatureCheck, digest: string): Promise<Verified> {
  const { source, progress } = req;
  const sigLayers = requireWellFormed(await findSignatures(source, digest));
  const sigs = sigLayers.map((s) => s.signature);
  const found = await findBundles(source, digest);
  for (const f of found) {
    if (!f.ok) progress?.note(`warning: ${f.error.message}; left out`);
  }
  const readable = found.flatMap((f) => f.ok ? [f] : []);
  const out: Verified = {
    digest,
    signatures: [],
    layers: [],
    bundles: [],
    found: sigs.length + found.length,
  };
  if (sigs.length > 0) {
    const verification = verifyCosignSignatures(sigs, digest, {
      trustedRoot: req.trustedRoot,
      key: req.key,
    });
    for (const r of verification.reports) {
      if (r.ok) {
        out.signatures.push(r.result);
        out.layers.push(sigLayers[r.index].layer);
      } else {
        out.firstFailure ??= r.reason;
        progress?.note(
          `warning: signature ${r.index + 1} does not verify and is left out: ${r.reason}`,
        );
      }
    }
  }
  const bundleReports = verifyBundleSignatures(readable.map((f) => f.bundle), digest, {
    trustedRoot: req.trustedRoot,
    key: req.key,
  });
  for (const r of bundleReports) {
    if (r.ok) {
      out.bundles.push({ result: r.result, manifestDigest: readable[r.index].manifestDigest });
    } else {
      out.firstFailure ??= r.reason;
      progress?.note(
        `warning: bundle ${readable[r.index].origin} does not verify and is left out: ${r.reason}`,
      );
    }
  }
  return out;
}

/** How many signatures and bundles of `v` verified. */
export function verifiedCount(v: Verified): number {
  return v.signatures.length + v.bundles.length;
}

/** Refuse when nothing of `v` verified (nothing has been written yet). */
export function requireVerified(v: Verified, name: string): void {
  if (v.found === 0) {
    throw new VerificationError("NO_SIGNATURES", `${name}@${v.digest} has no signatures`, {
      hint: "only signed images can be archived",
    });
  }
  if (verifiedCount(v) === 0) {
    throw new VerificationError(
      "SIGNATURE_INVALID",
      `no signature of ${name}@${v.digest} verifies with the trusted key${
        v.firstFailure ? `: ${v.firstFailure}` : ""
      }`,
      { hint: "check --key and --trusted-root; nothing was written" },
    );
  }
}
