/**
 * The offline chain from a signed digest to an image ID, checked from the
 * bytes an {@linkcode InstalledRecord} keeps: the index (when any) hashes to
 * the signed digest and lists the platform manifest; the manifest hashes to
 * its digest; its config digest is the image ID.
 *
 * @module
 */

import { LocalStateError } from "../errors/errors.ts";
import { sha256Digest } from "../digest/digest.ts";
import { parseImageIndex, parseImageManifest } from "../oci/manifest.ts";
import { decodeField, type InstalledRecord } from "./installed.ts";

/** What the chain proves. */
export interface RecordChain {
  signedDigest: string;
  platformDigest: string;
  /** Config digest of the platform manifest. */
  configDigest: string;
}

function tampered(message: string): never {
  throw new LocalStateError(message, {
    hint: "run 'upgrade' to reinstall the image from its signed source",
  });
}

/**
 * Check the record's bytes form the chain it claims.
 * @throws LocalStateError (`LOCAL_STATE_TAMPERED`)
 */
export function checkRecordChain(record: InstalledRecord): RecordChain {
  if (record.index !== undefined) {
    const indexBytes = decodeField(record.index);
    if (sha256Digest(indexBytes) !== record.signedDigest) {
      tampered(`the stored index of ${record.name} does not hash to ${record.signedDigest}`);
    }
    const index = parseImageIndex(indexBytes);
    if (!index.manifests.some((m) => m.digest === record.platformDigest)) {
      tampered(`the signed index of ${record.name} does not list ${record.platformDigest}`);
    }
  } else if (record.platformDigest !== record.signedDigest) {
    tampered(`the installed manifest of ${record.name} is not the signed one`);
  }
  const manifestBytes = decodeField(record.manifest);
  if (sha256Digest(manifestBytes) !== record.platformDigest) {
    tampered(`the stored manifest of ${record.name} does not hash to ${record.platformDigest}`);
  }
  const manifest = parseImageManifest(manifestBytes);
  if (manifest.config.digest !== record.imageId) {
    tampered(`the stored image ID of ${record.name} is not its manifest's config digest`);
  }
  return {
    signedDigest: record.signedDigest,
    platformDigest: record.platformDigest,
    configDigest: manifest.config.digest,
  };
}

/** Does the runtime's image ID name this chain's image (config or manifest digest)? */
export function imageIdMatches(chain: RecordChain, imageId: string | undefined): boolean {
  return imageId !== undefined &&
    (imageId === chain.configDigest || imageId === chain.platformDigest);
}
