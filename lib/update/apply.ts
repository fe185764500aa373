/**
 * The shared update pipeline of `upgrade` and `load-archive`: verify the
 * signatures of a signed digest, refuse rollbacks, install the image into
 * the runtime (every blob verified while streaming), and only then store
 * the signatures, advance the rollback state and record the installation.
 *
 * Signatures are of two kinds: cosign's legacy `.sig` signatures and
 * cosign v3 Sigstore bundles (`lib/signatures/bundle_signature.ts`). At
 * least one valid signature of either kind is needed; invalid ones are
 * dropped; the rollback positions come from every valid one. Both kinds are
 * stored beside each other (`<hex>.json`, `<hex>.bundles.json`).
 *
 * Crash safety: nothing in the data directory changes before the runtime
 * holds the image; afterwards the signatures, the rollback state and
 * finally the installed record are each replaced atomically. The record is
 * the commit point: a crash before it leaves the old record, which
 * `verify-local` then finds does not match the runtime (it fails safe) and
 * the next `upgrade` completes. A lock file (`<data-dir>/lock`) serializes
 * concurrent updates.
 *
 * @module
 */

import { join } from "node:path";
import { silentProgress } from "../progress/progress.ts";
import { DigestMismatchError } from "../errors/errors.ts";
import { parseDigest, sha256Digest } from "../digest/digest.ts";
import { looksLikeIndex, parseImageIndex, parseImageManifest } from "../oci/manifest.ts";
import { readBundles, readSignatures } from "../store/signature_store.ts";
import {
  assertAboveFloor,
  assertNotRollback,
  type Candidate,
  nextImageState,
  readImageState,
} from "../store/rollback_state.ts";
import { floorFor } from "../store/last_log_index.ts";
import { acceptedIdentities, repositoryOf } from "../signatures/signed_identity.ts";
import { signedBuildTime } from "./build_time.ts";
import { withLock } from "../store/lock.ts";
import { ensureDir, PRIVATE } from "../fs/atomic.ts";
import { encodeField, type InstalledRecord, readInstalled } from "./installed.ts";
import { checkRecordChain } from "./chain.ts";
import { formatPlatform, selectPlatform } from "../oci/platform.ts";
import type { UpdateRequest, UpdateResult } from "./update_request.ts";
import { dataDirRecords } from "./update_records.ts";
import { acceptedSet, positionsOf, verifySignatureReports } from "./verified_set.ts";
import { mergeBundles, mergeSignatures } from "./merge_signatures.ts";
import {
  assertNotOlderThanHeld,
  assertSinglePlatform,
  installedAndIntact,
  platformOf,
  signedManifestOf,
} from "./install_checks.ts";
import { removeOlderImage } from "./remove_older.ts";

/**
 * Verify, refuse rollbacks, install, then record: see the module doc.
 * @throws VerificationError (no valid signature, rollback, tampered blob), RuntimeError, IoError…
 */
export async function applyVerifiedUpdate(req: UpdateRequest): Promise<UpdateResult> {
  parseDigest(req.signedDigest);
  const progress = req.progress ?? silentProgress;
  const repository = repositoryOf(req.imageName) ?? req.imageName;
  const reports = req.verification ?? verifySignatureReports(
    req.signatures,
    req.signedDigest,
    req.key,
    req.trustedRoot,
    mergeBundles([], req.bundles ?? []),
  );
  if (reports.digest !== req.signedDigest) {
    throw new TypeError(`signatures verified for ${reports.digest}, not ${req.signedDigest}`);
  }
  const verified = acceptedSet(reports, acceptedIdentities(repository, req.signedIdentities));
  const positions = positionsOf(verified);
  const stored = verified.signatures.map((v) => v.signature);
  const storedBundles = verified.bundles.map((b) => b.bundle);
  const base = {
    digest: req.signedDigest,
    tlog: positions,
    signer: (verified.signatures[0] ?? verified.bundles[0]).signer,
    verifiedSignatures: verified.signatures.length + verified.bundles.length,
    verifiedBundles: verified.bundles.length,
    runtime: req.runtime.name,
  };
  const records = req.records ?? dataDirRecords;
  const body = async (): Promise<UpdateResult> => {
    const state = await readImageState(req.dataDir, repository);
    const record = await readInstalled(req.dataDir, req.imageName);
    if (req.platform) await assertSinglePlatform(req);

    if (record && await installedAndIntact(req, record)) {
      const current = {
        ...base,
        status: "up-to-date" as const,
        previousDigest: record.signedDigest,
        platformDigest: record.platformDigest,
        imageId: record.imageId,
        ...(record.platform ? { platform: record.platform } : {}),
      };
      if (req.checkOnly) return current;
      // Keep any newly logged signatures of the same image; the rollback
      // state does not move (new entries for the installed image never do).
      const old = await readSignatures(req.dataDir, req.key.keyId, req.signedDigest) ?? [];
      const merged = mergeSignatures(old, stored);
      if (merged.length !== old.length) {
        await records.writeSignatures(req.dataDir, req.key.keyId, req.signedDigest, merged);
      }
      const oldBundles = await readBundles(req.dataDir, req.key.keyId, req.signedDigest) ?? [];
      const mergedBundles = mergeBundles(oldBundles, storedBundles);
      if (mergedBundles.length !== oldBundles.length) {
        await records.writeBundles(req.dataDir, req.key.keyId, req.signedDigest, mergedBundles);
      }
      return {
        ...base,
        status: "up-to-date",
        previousDigest: record.signedDigest,
        platformDigest: record.platformDigest,
        imageId: record.imageId,
        ...(record.platform ? { platform: record.platform } : {}),
      };
    }

    // Dangerzone's floor first: it needs no download.
    if (!req.force) {
      assertAboveFloor(positions, await floorFor(req.dataDir, state !== undefined));
    }

    // Resolve the platform manifest through the signed digest.
    const top = await signedManifestOf(req);
    let platformManifest = top;
    let platform: string | undefined;
    if (looksLikeIndex(top.mediaType, top.bytes)) {
      const index = parseImageIndex(top.bytes, `signed index ${req.signedDigest}`);
      const entry = selectPlatform(index, platformOf(req));
      platform = formatPlatform(entry.platform!);
      platformManifest = await req.source.manifest(entry.digest);
      if (
        platformManifest.digest !== entry.digest ||
        sha256Digest(platformManifest.bytes) !== entry.digest ||
        platformManifest.bytes.byteLength !== entry.size
      ) {
        throw new DigestMismatchError(
          `the ${platform} manifest does not match the signed index entry ${entry.digest}`,
        );
      }
    }

    // Rollback: the signed build time first, then authenticated log positions.
    const created = await signedBuildTime(req.source, platformManifest);
    const candidate: Candidate = {
      digest: req.signedDigest,
      platformDigest: platformManifest.digest,
      imageId: parseImageManifest(platformManifest.bytes, `manifest ${platformManifest.digest}`)
        .config.digest,
      ...(created !== undefined ? { created } : {}),
      positions,
    };
    if (!req.force) assertNotRollback(state, candidate);
    if (!req.force && !state) await assertNotOlderThanHeld(req, candidate);
    if (req.checkOnly) {
      return {
        ...base,
        status: "available",
        ...(record ? { previousDigest: record.signedDigest } : {}),
        platformDigest: platformManifest.digest,
        imageId: parseImageManifest(platformManifest.bytes).config.digest,
        ...(platform ? { platform } : {}),
      };
    }

    progress.note(
      `installing ${req.imageName} (${platformManifest.digest}) into ${req.runtime.name}`,
    );
    // With the signed index handed over, podman records (and reports) the signed digest.
    const installed = await req.runtime.install(
      req.source,
      platformManifest,
      [req.imageName],
      progress,
      platformManifest !== top ? { index: top } : {},
    );

    // Each file replaced atomically; the legacy one only when there are legacy signatures.
    if (stored.length > 0) {
      await records.writeSignatures(req.dataDir, req.key.keyId, req.signedDigest, stored);
    }
    if (storedBundles.length > 0) {
      await records.writeBundles(req.dataDir, req.key.keyId, req.signedDigest, storedBundles);
    }
    await records.writeImageState(
      req.dataDir,
      nextImageState(repository, state, candidate, { forced: req.force }),
    );
    // Dangerzone's file: the SMALLEST authenticated index. Dangerzone refuses an update
    // whose largest index is below it; anything larger (a twin the attacker logged after
    // the vendor signed the next release) would freeze Dangerzone's updates.
    const smallest = Math.min(...positions.map((p) => p.logIndex));
    if (Number.isSafeInteger(smallest)) await records.writeLastLogIndex(req.dataDir, smallest);
    const next: InstalledRecord = {
      version: 1,
      name: req.imageName,
      keyId: req.key.keyId,
      signedDigest: req.signedDigest,
      platformDigest: platformManifest.digest,
      imageId: installed.imageId,
      runtime: req.runtime.name,
      ...(platform ? { platform, index: encodeField(top.bytes) } : {}),
      manifest: encodeField(platformManifest.bytes),
      installedAt: new Date().toISOString(),
    };
    checkRecordChain(next); // the runtime's ID must be the verified config digest
    await records.writeInstalled(req.dataDir, next);
    const removedImages = await removeOlderImage(req, repository, record, installed.imageId);
    return {
      ...base,
      status: "upgraded",
      ...(removedImages.length > 0 ? { removedImages } : {}),
      ...(record ? { previousDigest: record.signedDigest } : {}),
      platformDigest: platformManifest.digest,
      imageId: installed.imageId,
      ...(platform ? { platform } : {}),
    };
  };
  // --check writes nothing, not even the lock.
  if (req.checkOnly) return await body();
  await ensureDir(req.dataDir, PRIVATE.dirMode);
  return await withLock(join(req.dataDir, "lock"), body, { notice: (line) => progress.note(line) });
}
