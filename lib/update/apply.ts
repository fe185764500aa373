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
import type { Progress } from "../progress/progress.ts";
import { silentProgress } from "../progress/progress.ts";
import { DigestMismatchError, RollbackError, VerificationError } from "../errors/errors.ts";
import type { ImageSource } from "../image/source.ts";
import type { Manifest } from "../registry/client.ts";
import { parseDigest, sha256Digest } from "../digest/digest.ts";
import type { CosignSignature } from "../signatures/model.ts";
import {
  type SignerInfo,
  type VerifiedSignature,
  verifyCosignSignatures,
} from "../signatures/verify.ts";
import {
  type VerifiedBundleSignature,
  verifyBundleSignatures,
} from "../signatures/bundle_signature.ts";
import type { TrustedKey } from "../trust/trusted_key.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import type { ContainerRuntime } from "../runtime/runtime.ts";
import { looksLikeIndex, parseImageIndex, parseImageManifest } from "../oci/manifest.ts";
import {
  readBundles,
  readSignatures,
  writeBundles,
  writeSignatures,
} from "../store/signature_store.ts";
import {
  assertAboveFloor,
  assertNotRollback,
  type Candidate,
  type LoggedPosition,
  nextImageState,
  readImageState,
  writeImageState,
} from "../store/rollback_state.ts";
import { floorFor, writeLastLogIndex } from "../store/last_log_index.ts";
import {
  acceptedIdentities,
  identityAccepted,
  repositoryOf,
} from "../signatures/signed_identity.ts";
import { signedBuildTime, signedPlatform } from "./build_time.ts";
import { withLock } from "../store/lock.ts";
import { ensureDir, PRIVATE } from "../fs/atomic.ts";
import {
  decodeField,
  encodeField,
  type InstalledRecord,
  readInstalled,
  writeInstalled,
} from "./installed.ts";
import { checkRecordChain, imageIdMatches } from "./chain.ts";
import {
  defaultPlatform,
  formatPlatform,
  parsePlatform,
  platformMatches,
  platformMissing,
  type PlatformSpec,
  selectPlatform,
} from "../oci/platform.ts";

/** Stages at which tests may simulate a crash (the process dying there). */
export type CrashPoint = "after-install" | "after-signatures" | "after-rollback";

/** What to install and how to trust it. */
export interface UpdateRequest {
  /** Where manifests and blobs come from (a registry, or a verified archive layout). */
  source: ImageSource;
  /** Full name to install under, e.g. `ghcr.io/a/b:latest`. */
  imageName: string;
  /** The digest the signatures cover (an index or a manifest). */
  signedDigest: string;
  /** `os/arch[/variant]` to pick from an index (default: this machine's). */
  platform?: string;
  /** UNVERIFIED cosign (`.sig`) signatures, as fetched. */
  signatures: CosignSignature[];
  /** UNVERIFIED Sigstore bundle documents (cosign v3 signatures), as fetched. */
  bundles?: unknown[];
  key: TrustedKey;
  trustedRoot: LoadedTrustedRoot;
  dataDir: string;
  runtime: ContainerRuntime;
  /** Allow a rollback (and nothing else). */
  force?: boolean;
  /**
   * Repositories, besides the one installed, whose signatures are accepted
   * (`--signed-identity`: mirrors, renamed images).
   */
  signedIdentities?: readonly string[];
  progress?: Progress;
  /** The manifest of `signedDigest` if already fetched (its bytes are re-hashed). */
  signedManifest?: Manifest;
  /** Test hook: throw at this stage, as if the process died there. */
  crashAt?: CrashPoint;
  /**
   * `upgrade --check`: verify and apply the rollback rule, then stop before
   * anything is installed or written (status `available` or `up-to-date`).
   */
  checkOnly?: boolean;
  /** `--keep-old`: leave the previously installed image in the runtime. */
  keepOld?: boolean;
  /** Where a warning line goes (default: stderr). */
  warn?: (line: string) => void;
}

/** What happened. */
export interface UpdateResult {
  /** `available`: only with {@linkcode UpdateRequest.checkOnly}, nothing was installed. */
  status: "upgraded" | "up-to-date" | "available";
  /** Signed digest installed under the name before (if any). */
  previousDigest?: string;
  /** The signed digest now installed. */
  digest: string;
  /** The platform manifest installed. */
  platformDigest: string;
  /** The runtime's image ID (config digest). */
  imageId: string;
  /** Log entries of the verified signatures. */
  tlog: { logID: string; logIndex: number; integratedTime: number }[];
  /** Who signed (the trusted key). */
  signer?: SignerInfo;
  /** `os/arch[/variant]` when picked from an index. */
  platform?: string;
  /** How many signatures (of both kinds) verified (and were stored). */
  verifiedSignatures: number;
  /** How many of them are Sigstore bundles. */
  verifiedBundles: number;
  /** The runtime's name. */
  runtime: string;
  /** Image IDs of older images removed from the runtime after the install. */
  removedImages?: string[];
}

/** The valid signatures of a digest, of both kinds. */
export interface VerifiedSet {
  signatures: VerifiedSignature[];
  bundles: VerifiedBundleSignature[];
}

/**
 * The signatures and bundles that verify (with a log entry); at least one
 * is required, the first failure reason is given otherwise.
 * @throws VerificationError `NO_SIGNATURE`, `NO_VALID_SIGNATURE`
 */
export function verifiedSignaturesFor(
  signatures: readonly CosignSignature[],
  digest: string,
  key: TrustedKey,
  trustedRoot: LoadedTrustedRoot,
  bundles: readonly unknown[] = [],
  identities?: ReadonlySet<string>,
): VerifiedSet {
  const total = signatures.length + bundles.length;
  if (total === 0) {
    throw new VerificationError("NO_SIGNATURE", `no signatures found for ${digest}`, {
      hint: "the image is not signed; do not install it",
    });
  }
  const { reports } = signatures.length === 0
    ? { reports: [] }
    : verifyCosignSignatures(signatures, digest, { trustedRoot, key, requireTlog: true });
  const bundleReports = verifyBundleSignatures(bundles, digest, { trustedRoot, key });
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

function crash(req: UpdateRequest, at: CrashPoint): void {
  if (req.crashAt === at) throw new Error(`simulated crash ${at}`);
}

/** Signatures in `a` plus those of `b` not already there (same signature bytes). */
function mergeSignatures(a: CosignSignature[], b: CosignSignature[]): CosignSignature[] {
  const seen = new Set(a.map((s) => s.raw.Base64Signature + s.raw.Payload));
  return [...a, ...b.filter((s) => !seen.has(s.raw.Base64Signature + s.raw.Payload))];
}

/** Bundles in `a` plus those of `b` not already there (same JSON), each once. */
function mergeBundles(a: readonly unknown[], b: readonly unknown[]): unknown[] {
  const seen = new Set<string>();
  return [...a, ...b].filter((x) => {
    const k = JSON.stringify(x);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function platformOf(req: UpdateRequest): PlatformSpec {
  return req.platform ? parsePlatform(req.platform) : defaultPlatform();
}

/** Is the record's image what the runtime holds, for this platform? */
async function installedAndIntact(
  req: UpdateRequest,
  record: InstalledRecord,
): Promise<boolean> {
  if (record.signedDigest !== req.signedDigest || record.keyId !== req.key.keyId) return false;
  try {
    const chain = checkRecordChain(record);
    if (record.index !== undefined) {
      const index = parseImageIndex(decodeField(record.index));
      if (selectPlatform(index, platformOf(req)).digest !== chain.platformDigest) return false;
    }
    const sigs = await readSignatures(req.dataDir, req.key.keyId, req.signedDigest);
    const bundles = await readBundles(req.dataDir, req.key.keyId, req.signedDigest);
    if (!sigs?.length && !bundles?.length) return false;
    const held = await req.runtime.inspect(req.imageName);
    return imageIdMatches(chain, held?.imageId);
  } catch {
    return false;
  }
}

async function signedManifestOf(req: UpdateRequest): Promise<Manifest> {
  const m = req.signedManifest ?? await req.source.manifest(req.signedDigest);
  if (sha256Digest(m.bytes) !== req.signedDigest) {
    throw new DigestMismatchError(`the manifest fetched for ${req.signedDigest} hashes otherwise`);
  }
  return m;
}

/** An explicit --platform on a single-platform image: its config must say that platform. */
async function assertSinglePlatform(req: UpdateRequest): Promise<void> {
  const top = await signedManifestOf(req);
  if (looksLikeIndex(top.mediaType, top.bytes)) return; // selectPlatform checks an index
  const want = platformOf(req);
  const have = await signedPlatform(req.source, top);
  if (have && !platformMatches(have, want)) {
    throw platformMissing(`${req.imageName} (a single-platform image)`, want, [
      formatPlatform(have),
    ]);
  }
}

/**
 * With no rollback state of ours (a first install, or the first run after
 * Dangerzone installed the image): the image the runtime already holds under
 * the name is the baseline. It was verified by whoever installed it, and
 * the runtime, not the registry, reports its build time; an older candidate
 * is a rollback.
 * @throws RollbackError
 */
async function assertNotOlderThanHeld(req: UpdateRequest, candidate: Candidate): Promise<void> {
  if (candidate.created === undefined) return;
  const held = await req.runtime.inspect(req.imageName).catch(() => undefined);
  if (!held || held.created === undefined || held.imageId === candidate.imageId) return;
  if (candidate.created < held.created) {
    throw new RollbackError(
      `rollback refused: the image was built ${
        new Date(candidate.created).toISOString()
      }, before the one ${req.runtime.name} already holds as ${req.imageName} (${
        new Date(held.created).toISOString()
      })`,
      { hint: "this image is older than the one installed; use --force only if you mean it" },
    );
  }
}

/**
 * Verify, refuse rollbacks, install, then record: see the module doc.
 * @throws VerificationError (no valid signature, rollback, tampered blob), RuntimeError, IoError…
 */
export async function applyVerifiedUpdate(req: UpdateRequest): Promise<UpdateResult> {
  parseDigest(req.signedDigest);
  const progress = req.progress ?? silentProgress;
  const repository = repositoryOf(req.imageName) ?? req.imageName;
  const verified = verifiedSignaturesFor(
    req.signatures,
    req.signedDigest,
    req.key,
    req.trustedRoot,
    mergeBundles([], req.bundles ?? []),
    acceptedIdentities(repository, req.signedIdentities),
  );
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
        await writeSignatures(req.dataDir, req.key.keyId, req.signedDigest, merged);
      }
      const oldBundles = await readBundles(req.dataDir, req.key.keyId, req.signedDigest) ?? [];
      const mergedBundles = mergeBundles(oldBundles, storedBundles);
      if (mergedBundles.length !== oldBundles.length) {
        await writeBundles(req.dataDir, req.key.keyId, req.signedDigest, mergedBundles);
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
    crash(req, "after-install");

    // Each file replaced atomically; the legacy one only when there are legacy signatures.
    if (stored.length > 0) {
      await writeSignatures(req.dataDir, req.key.keyId, req.signedDigest, stored);
    }
    if (storedBundles.length > 0) {
      await writeBundles(req.dataDir, req.key.keyId, req.signedDigest, storedBundles);
    }
    crash(req, "after-signatures");
    await writeImageState(
      req.dataDir,
      nextImageState(repository, state, candidate, { forced: req.force }),
    );
    // Dangerzone's file: the SMALLEST authenticated index. Dangerzone refuses an update
    // whose largest index is below it; anything larger (a twin the attacker logged after
    // the vendor signed the next release) would freeze Dangerzone's updates.
    const smallest = Math.min(...positions.map((p) => p.logIndex));
    if (Number.isSafeInteger(smallest)) await writeLastLogIndex(req.dataDir, smallest);
    crash(req, "after-rollback");
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
    await writeInstalled(req.dataDir, next);
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

/**
 * After the install is committed: remove the image installed before under
 * this name from the runtime (as Dangerzone does), unless `keepOld`. Its
 * names in this repository are taken off and the image removed if nothing
 * else names it (never forced). A failure is a warning line: the update stands.
 */
async function removeOlderImage(
  req: UpdateRequest,
  repository: string,
  record: InstalledRecord | undefined,
  newImageId: string,
): Promise<string[]> {
  if (req.keepOld || !record || record.imageId === newImageId) return [];
  if (record.runtime !== req.runtime.name) return [];
  try {
    // A name with its own install record of that image (another tag we installed) keeps it.
    const keep = async (name: string) =>
      name !== req.imageName &&
      (await readInstalled(req.dataDir, name).catch(() => undefined))?.imageId === record.imageId;
    const r = await req.runtime.removeImage(record.imageId, repository, keep);
    return r.removed ? [record.imageId] : [];
  } catch (e) {
    (req.warn ?? ((l) => console.error(l)))(
      `warning: could not remove the older image ${record.imageId} from ${req.runtime.name}: ${
        (e as Error).message ?? e
      } (remove it by hand, or pass --keep-old)`,
    );
    return [];
  }
}
