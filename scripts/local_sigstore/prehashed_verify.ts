/**
 * Signature checks over a digest alone, as Rekor does for hashedrekord
 * entries: the product's own `lib/bundle/prehashed.ts`, with unsupported
 * key types reported as an error (Rekor answers 400 for them).
 *
 * @module
 */

import type crypto from "node:crypto";
import {
  DIGEST_LENGTHS,
  prehashKeySupported,
  verifyPrehashed as verifyDigest,
} from "../../lib/bundle/prehashed.ts";

export { DIGEST_LENGTHS };

/** Thrown for a key the stand-in cannot check a prehashed signature with. */
export class UnsupportedKeyError extends Error {}

/**
 * Does `signature` verify over `digest` under `key`? False for malformed
 * input; throws {@linkcode UnsupportedKeyError} for an unsupported key type.
 */
export function verifyPrehashed(
  key: crypto.KeyObject,
  algorithm: string,
  digest: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (!prehashKeySupported(key)) {
    throw new UnsupportedKeyError(
      `unsupported key type ${key.asymmetricKeyType ?? "?"} for a prehashed signature`,
    );
  }
  return verifyDigest(key, algorithm, digest, signature);
}
