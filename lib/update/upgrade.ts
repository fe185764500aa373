/**
 * `upgrade` as a library call: resolve a registry tag to its digest, fetch
 * the signatures attached to it, and hand both to
 * {@linkcode applyVerifiedUpdate}. Signatures are cosign's `.sig` ones and
 * Sigstore bundles (cosign v3, through referrers or the fallback tag).
 *
 * An up-to-date check costs two requests (the tag's manifest, the `.sig`
 * manifest) when the signatures did not change: their payloads are taken
 * from the stored, previously verified signatures, and the bundles of the
 * installed digest are the stored ones (re-verified, not re-fetched).
 * Bundles are fetched from the registry for any other digest, and also for
 * the installed one when that cheap path finds no valid signature.
 *
 * @module
 */

import { RegistrySource } from "../image/source.ts";
import type { RegistryClient } from "../registry/client.ts";
import { VerificationError } from "../errors/errors.ts";
import { readBundles, readSignatures } from "../store/signature_store.ts";
import { applyVerifiedUpdate } from "./apply.ts";
import type { UpdateRequest, UpdateResult } from "./update_request.ts";
import { dropUnusable, findBundles, findSignatures } from "../image/discovery.ts";
import { readInstalled } from "./installed.ts";
import { ResumeStore } from "../transfer/resume_store.ts";

/** What to upgrade: a registry tag, and how to apply it (as {@linkcode UpdateRequest}). */
export interface UpgradeRequest extends
  Pick<
    UpdateRequest,
    | "platform"
    | "key"
    | "trustedRoot"
    | "dataDir"
    | "runtime"
    | "force"
    | "signedIdentities"
    | "progress"
    | "checkOnly"
    | "keepOld"
  > {
  client: RegistryClient;
  repository: string;
  tag: string;
  /** Name to install under (default `<registry>/<repository>:<tag>`). */
  imageName?: string;
}

/** {@linkcode UpdateResult} plus what was asked for. */
export interface UpgradeResult extends UpdateResult {
  imageName: string;
  /** Signature layers (and bundle referrers) that were malformed and ignored. */
  droppedSignatures: number;
}

/** Resolve, fetch signatures and bundles, apply. */
export async function upgradeFromRegistry(req: UpgradeRequest): Promise<UpgradeResult> {
  const imageName = req.imageName ?? `${req.client.registry}/${req.repository}:${req.tag}`;
  // A runtime that does not answer fails here, before anything is downloaded.
  if (!req.checkOnly) await req.runtime.check();
  // Large blobs go through the data dir's resume area: a cut transfer continues by Range.
  const source = new RegistrySource(req.client, req.repository, { tag: req.tag }, {
    resume: ResumeStore.forDataDir(req.dataDir),
  });
  const top = await source.resolve();
  const keyId = req.key.keyId;
  const known = (await readSignatures(req.dataDir, keyId, top.digest).catch(() => [])) ?? [];
  // Malformed layers are dropped (they could not verify anyway) and counted.
  const fetched = dropUnusable(
    await findSignatures(source, top.digest, { knownPayloads: known.map((s) => s.payload) }),
  );
  const signatures = fetched.usable.map((f) => f.signature);
  // Only a hint for what to fetch: everything is verified again under the lock.
  const installed = await readInstalled(req.dataDir, imageName).catch(() => undefined);
  const storedBundles = await readBundles(req.dataDir, keyId, top.digest).catch(() => undefined) ??
    [];
  const cheap = installed?.signedDigest === top.digest && installed.keyId === keyId &&
    (storedBundles.length > 0 || signatures.length > 0);
  const request = (bundles: unknown[]): UpdateRequest => ({
    source,
    imageName,
    signedDigest: top.digest,
    signedManifest: top,
    platform: req.platform,
    signatures,
    bundles,
    key: req.key,
    trustedRoot: req.trustedRoot,
    dataDir: req.dataDir,
    runtime: req.runtime,
    force: req.force,
    signedIdentities: req.signedIdentities,
    progress: req.progress,
    checkOnly: req.checkOnly,
    keepOld: req.keepOld,
  });
  if (cheap) {
    try {
      const result = await applyVerifiedUpdate(request(storedBundles));
      return { ...result, imageName, droppedSignatures: fetched.dropped };
    } catch (e) {
      const noSignature = e instanceof VerificationError &&
        (e.code === "NO_SIGNATURE" || e.code === "NO_VALID_SIGNATURE");
      if (!noSignature) throw e;
      // Nothing valid among what was at hand: look at the registry's bundles too.
    }
  }
  const remote = dropUnusable(await findBundles(source, top.digest));
  const result = await applyVerifiedUpdate(
    request([...storedBundles, ...remote.usable.map((f) => f.bundle)]),
  );
  return { ...result, imageName, droppedSignatures: fetched.dropped + remote.dropped };
}
