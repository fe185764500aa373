/**
 * The checks the update pipeline makes against what is already installed
 * and what the signed digest names: is the installed record intact, the
 * signed manifest the one signed, an explicit platform the image's, the
 * candidate not older than what the runtime holds.
 *
 * @module
 */

import { DigestMismatchError, RollbackError } from "../errors/errors.ts";
import type { Manifest } from "../registry/client.ts";
import { sha256Digest } from "../digest/digest.ts";
import { looksLikeIndex, parseImageIndex } from "../oci/manifest.ts";
import { readBundles, readSignatures } from "../store/signature_store.ts";
import type { Candidate } from "../store/rollback_state.ts";
import { signedPlatform } from "./build_time.ts";
import { decodeField, type InstalledRecord } from "./installed.ts";
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
import type { UpdateRequest } from "./update_request.ts";

/** The platform asked for, else this machine's. */
export function platformOf(req: UpdateRequest): PlatformSpec {
  return req.platform ? parsePlatform(req.platform) : defaultPlatform();
}

/** Is the record's image what the runtime holds, for this platform? */
export async function installedAndIntact(
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

/** The manifest of the signed digest (handed in, else fetched), re-hashed against it. */
export async function signedManifestOf(req: UpdateRequest): Promise<Manifest> {
  const m = req.signedManifest ?? await req.source.manifest(req.signedDigest);
  if (sha256Digest(m.bytes) !== req.signedDigest) {
    throw new DigestMismatchError(`the manifest fetched for ${req.signedDigest} hashes otherwise`);
  }
  return m;
}

/** An explicit --platform on a single-platform image: its config must say that platform. */
export async function assertSinglePlatform(req: UpdateRequest): Promise<void> {
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
export async function assertNotOlderThanHeld(
  req: UpdateRequest,
  candidate: Candidate,
): Promise<void> {
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
