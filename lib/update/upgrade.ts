/**
 * `upgrade` as a library call: resolve a registry tag to its digest, fetch
 * the signatures attached to it, and hand both to
 * {@linkcode applyVerifiedUpdate}. An up-to-date check costs two requests
 * (the tag's manifest, the `.sig` manifest) when the signatures did not
 * change: their payloads are taken from the stored, previously verified
 * signatures.
 *
 * @module
 */

import type { Progress } from "../cli/progress.ts";
import { RegistrySource } from "../image/source.ts";
import type { RegistryClient } from "../registry/client.ts";
import type { TrustedKey } from "../trust/trusted_key.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import type { ContainerRuntime } from "../runtime/runtime.ts";
import { readSignatures } from "../store/signature_store.ts";
import { applyVerifiedUpdate, type CrashPoint, type UpdateResult } from "./apply.ts";
import { fetchSignaturesFromRegistry } from "./fetch_signatures.ts";

/** What to upgrade. */
export interface UpgradeRequest {
  client: RegistryClient;
  repository: string;
  tag: string;
  /** Name to install under (default `<registry>/<repository>:<tag>`). */
  imageName?: string;
  platform?: string;
  key: TrustedKey;
  trustedRoot: LoadedTrustedRoot;
  dataDir: string;
  runtime: ContainerRuntime;
  force?: boolean;
  progress?: Progress;
  /** Test hook, see {@linkcode CrashPoint}. */
  crashAt?: CrashPoint;
}

/** {@linkcode UpdateResult} plus what was asked for. */
export interface UpgradeResult extends UpdateResult {
  imageName: string;
  /** Signature layers that were malformed and ignored. */
  droppedSignatures: number;
}

/** Resolve, fetch signatures, apply. */
export async function upgradeFromRegistry(req: UpgradeRequest): Promise<UpgradeResult> {
  const imageName = req.imageName ?? `${req.client.registry}/${req.repository}:${req.tag}`;
  const source = new RegistrySource(req.client, req.repository, { tag: req.tag });
  const top = await source.resolve();
  const known = (await readSignatures(req.dataDir, req.key.keyId, top.digest).catch(() => [])) ??
    [];
  const fetched = await fetchSignaturesFromRegistry(
    source,
    top.digest,
    known.map((s) => s.payload),
  );
  const result = await applyVerifiedUpdate({
    source,
    imageName,
    signedDigest: top.digest,
    signedManifest: top,
    platform: req.platform,
    signatures: fetched.signatures,
    key: req.key,
    trustedRoot: req.trustedRoot,
    dataDir: req.dataDir,
    runtime: req.runtime,
    force: req.force,
    progress: req.progress,
    crashAt: req.crashAt,
  });
  return { ...result, imageName, droppedSignatures: fetched.dropped };
}
