/**
 * `verify-local`, offline: the image the runtime holds under a name must be
 * the one recorded at installation, whose stored signatures verify again
 * with the trusted key and root, and which is not older than the rollback
 * state. Stored signatures of both kinds (cosign `.sig` signatures and
 * Sigstore bundles) are re-verified; every one stored must verify, and at
 * least one must be stored. Every link is re-checked from bytes: signatures → signed digest →
 * (index →) platform manifest → config digest = the runtime's image ID.
 * The image's bytes are re-read too: an `oci:` store re-hashes every blob
 * when inspected; with `deep`, podman and docker re-export the image and
 * every layer is hashed against the signed config's `rootfs.diff_ids`.
 *
 * @module
 */

import { refuse } from "../errors/errors.ts";
import { type SignerInfo, verifyCosignSignatures } from "../signatures/verify.ts";
import type { TrustedKey } from "../trust/trusted_key.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import type { ContainerRuntime, ContentCheck } from "../runtime/runtime.ts";
import type { Progress } from "../progress/progress.ts";
import { parseImageManifest } from "../oci/manifest.ts";
import { verifyBundleSignatures } from "../signatures/bundle_signature.ts";
import { readBundles, readSignatures } from "../store/signature_store.ts";
import { readImageState } from "../store/rollback_state.ts";
import {
  acceptedIdentities,
  identityAccepted,
  repositoryOf,
} from "../signatures/signed_identity.ts";
import { RollbackError } from "../errors/errors.ts";
import { decodeField, readInstalled } from "./installed.ts";
import { checkRecordChain, imageIdMatches } from "./chain.ts";

/** What to check. */
export interface VerifyLocalRequest {
  imageName: string;
  key: TrustedKey;
  trustedRoot: LoadedTrustedRoot;
  dataDir: string;
  runtime: ContainerRuntime;
  /**
   * Also re-read the image's content from the runtime (podman / docker:
   * re-export it and hash every layer against the signed config's
   * `rootfs.diff_ids`). `oci:` stores are re-hashed blob by blob anyway.
   */
  deep?: boolean;
  /** `--signed-identity`: other repositories whose signatures vouch for this image. */
  signedIdentities?: readonly string[];
  progress?: Progress;
}

/** A passed check. */
export interface VerifyLocalResult {
  imageName: string;
  signedDigest: string;
  platformDigest: string;
  imageId: string;
  runtime: string;
  /** Signatures that verified, of both kinds. */
  signatures: number;
  /** How many of them are Sigstore bundles. */
  bundles: number;
  tlog: { logID: string; logIndex: number; integratedTime: number }[];
  signer: SignerInfo;
  /** With `deep`: what was re-read from the runtime and matched. */
  content?: ContentCheck;
}

/**
 * The stored signatures of `digest`, every one verified (at least one
 * required); with `checkIdentity` (no install record of ours, which would say
 * the identity was checked at installation) they must be made for this name.
 */
async function verifyStored(req: VerifyLocalRequest, digest: string, checkIdentity: boolean) {
  const sigs = await readSignatures(req.dataDir, req.key.keyId, digest) ?? [];
  const bundles = await readBundles(req.dataDir, req.key.keyId, digest) ?? [];
  if (sigs.length === 0 && bundles.length === 0) {
    refuse(
      "NO_SIGNATURE",
      `no stored signatures by the trusted key for ${digest}`,
      { hint: "check --key; run 'upgrade' to fetch and store them" },
    );
  }
  const verified = [];
  if (sigs.length > 0) {
    const result = verifyCosignSignatures(sigs, digest, {
      trustedRoot: req.trustedRoot,
      key: req.key,
      requireTlog: true,
    });
    if (!result.ok) {
      const bad = result.reports.find((r) => !r.ok) as { index: number; reason: string };
      refuse(
        "SIGNATURE_INVALID",
        `stored signature ${bad.index + 1} of ${digest} does not verify: ${bad.reason}`,
      );
    }
    verified.push(...result.reports.flatMap((r) => r.ok ? [r.result] : []));
  }
  const bundleReports = verifyBundleSignatures(bundles, digest, {
    trustedRoot: req.trustedRoot,
    key: req.key,
  });
  for (const r of bundleReports) {
    if (!r.ok) {
      refuse(
        "SIGNATURE_INVALID",
        `stored bundle ${r.index + 1} of ${digest} does not verify: ${r.reason}`,
      );
    }
  }
  const okBundles = bundleReports.flatMap((r) => r.ok ? [r.result] : []);
  // The signed identity: signatures made for another repository do not vouch for this name.
  const accepted = acceptedIdentities(
    repositoryOf(req.imageName) ?? req.imageName,
    req.signedIdentities,
  );
  const named = checkIdentity
    ? verified.filter((v) => identityAccepted(v.dockerReference, accepted))
    : verified;
  const namedBundles = checkIdentity
    ? okBundles.filter((b) =>
      b.dockerReference === undefined || identityAccepted(b.dockerReference, accepted)
    )
    : okBundles;
  if (named.length + namedBundles.length === 0) {
    refuse(
      "IDENTITY_MISMATCH",
      `the stored signatures of ${digest} were made for ${
        verified[0]?.dockerReference ?? okBundles[0]?.dockerReference ?? "no repository"
      }, not for ${req.imageName}`,
      { hint: "pass --signed-identity if the image is a mirror" },
    );
  }
  const tlog = [
    ...named.flatMap((v) => v.tlog ? [v.tlog] : []),
    ...namedBundles.map((b) => b.tlog),
  ].map((t) => ({ logID: t.logID, logIndex: t.logIndex, integratedTime: t.integratedTime }));
  return {
    signatures: named.length + namedBundles.length,
    bundles: namedBundles.length,
    tlog,
    signer: (named[0] ?? namedBundles[0]).signer,
  };
}

/** Refuse when any of `digests` (signed digest, platform manifest, image ID) was replaced here. */
async function assertNotReplaced(req: VerifyLocalRequest, ...digests: string[]): Promise<void> {
  const state = await readImageState(req.dataDir, repositoryOf(req.imageName) ?? req.imageName);
  const replaced = digests.find((d) => state?.replaced.includes(d));
  if (state && replaced) {
    throw new RollbackError(
      `${req.imageName} is ${digests[0]}${
        replaced === digests[0] ? "" : ` (${replaced})`
      }, which was replaced on this machine by ${state.digest}`,
      { hint: "run 'upgrade' to install the current image again" },
    );
  }
}

/**
 * An image this tool did not install (Dangerzone did; no record of ours):
 * checked as Dangerzone's `verify_local_image` does, by the digest the
 * runtime reports for it → the stored signatures of that digest.
 */
async function verifyUnrecorded(req: VerifyLocalRequest): Promise<VerifyLocalResult> {
  const held = await req.runtime.inspect(req.imageName);
  if (!held) {
    refuse(
      "NOT_INSTALLED",
      `no verified installation of ${req.imageName} is recorded in ${req.dataDir}, and ${req.runtime.name} holds no such image`,
      { hint: `run 'dangerzone-image upgrade' first` },
    );
  }
  const digest = held.reportedDigest ?? held.manifestDigest;
  if (!digest) {
    refuse(
      "NOT_INSTALLED",
      `no verified installation of ${req.imageName} is recorded in ${req.dataDir}, and ${req.runtime.name} reports no digest for it`,
      { hint: `run 'dangerzone-image upgrade' to install it verified` },
    );
  }
  const stored = await verifyStored(req, digest, true);
  await assertNotReplaced(
    req,
    digest,
    ...[held.manifestDigest, held.imageId].filter((d) => d !== undefined),
  );
  req.progress?.note(
    `no install record of ours: checked as Dangerzone does (${req.runtime.name}'s digest ${digest} → stored signatures)`,
  );
  return {
    imageName: req.imageName,
    signedDigest: digest,
    platformDigest: held.manifestDigest ?? digest,
    imageId: held.imageId,
    runtime: req.runtime.name,
    ...stored,
  };
}

/**
 * Check the local image; resolves only when everything verifies.
 * @throws VerificationError (exit 1) naming what did not match.
 */
export async function verifyLocalImage(req: VerifyLocalRequest): Promise<VerifyLocalResult> {
  const record = await readInstalled(req.dataDir, req.imageName);
  if (!record) return await verifyUnrecorded(req);
  const chain = checkRecordChain(record);
  const held = await req.runtime.inspect(req.imageName);
  if (!held) {
    refuse("IMAGE_MISSING", `${req.runtime.name} holds no image named ${req.imageName}`);
  }
  if (!imageIdMatches(chain, held.imageId)) {
    refuse(
      "IMAGE_MISMATCH",
      `${req.runtime.name}'s ${req.imageName} is ${held.imageId}, not the verified ${chain.configDigest}`,
      { hint: "the local image was modified or re-tagged; run 'upgrade' to reinstall it" },
    );
  }
  const content = req.deep
    ? await req.runtime.verifyContent(
      req.imageName,
      parseImageManifest(decodeField(record.manifest)),
      req.progress,
    )
    : undefined;
  const stored = await verifyStored(req, chain.signedDigest, false);
  await assertNotReplaced(req, chain.signedDigest, chain.platformDigest, chain.configDigest);
  return {
    imageName: req.imageName,
    signedDigest: chain.signedDigest,
    platformDigest: chain.platformDigest,
    imageId: held.imageId,
    runtime: req.runtime.name,
    ...stored,
    ...(content ? { content } : {}),
  };
}
