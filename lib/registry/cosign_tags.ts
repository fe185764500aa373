/**
 * The tag names cosign and the OCI 1.1 referrers fallback derive from an
 * image digest.
 *
 * @module
 */

import { digestHex } from "../digest/digest.ts";

/** The fallback tag of the referrers API for a digest: `sha256-<hex>`. */
export function referrersTag(digest: string): string {
  return `sha256-${digestHex(digest)}`;
}

/** cosign's signature tag for an image digest: `sha256-<hex>.sig`. */
export function cosignSignatureTag(digest: string): string {
  return `${referrersTag(digest)}.sig`;
}

/** cosign's attestation tag for an image digest: `sha256-<hex>.att`. */
export function cosignAttestationTag(digest: string): string {
  return `${referrersTag(digest)}.att`;
}
