/**
 * Verify a signature over an already computed digest ("prehashed"): what a
 * `sha256:<hex>` artifact given to `verify-bundle` needs, since only the
 * digest is known, never the bytes. `node:crypto` always hashes its input,
 * so ECDSA goes through `@noble/curves` with `prehash: false`.
 *
 * Other keys are refused with a usage error (pass the file instead): no
 * library at hand verifies an RSA PKCS#1 v1.5 signature from a digest
 * (`node:crypto` under Deno hashes, WebCrypto has no prehashed mode), and
 * recovering and comparing the DigestInfo by hand is the kind of code this
 * project does not write. Ed25519 signs the message itself, not a digest.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type crypto from "node:crypto";
import { UsageError } from "../errors/errors.ts";
import { p256, p384, p521 } from "../npm/noble_curves_nist.ts";

/** Digest algorithms accepted, with their digest length in bytes. */
export const DIGEST_LENGTHS: Readonly<Record<string, number>> = {
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

const CURVES = { "P-256": p256, "P-384": p384, "P-521": p521 } as const;

const KEY_NAMES: Readonly<Record<string, string>> = {
  rsa: "an RSA",
  "rsa-pss": "an RSA-PSS",
  ed25519: "an Ed25519",
  ec: "this curve's EC",
};

/** Can {@linkcode verifyPrehashed} check signatures made with this key type at all? */
export function prehashKeySupported(key: crypto.KeyObject): boolean {
  if (key.asymmetricKeyType !== "ec") return false;
  const crv = key.export({ format: "jwk" }).crv;
  return crv !== undefined && crv in CURVES;
}

/**
 * Refuse a key whose signatures cannot be checked from a digest alone.
 * @throws UsageError (exit 2) naming the key type, hint: pass the artifact file
 */
export function assertPrehashKeySupported(key: crypto.KeyObject): void {
  if (prehashKeySupported(key)) return;
  const type = key.asymmetricKeyType ?? "unknown";
  const named = KEY_NAMES[type] ?? `a ${type}`;
  throw new UsageError(`${named} key cannot verify a signature from a sha256 digest alone`, {
    hint: "pass the artifact file instead of its digest",
  });
}

/**
 * Does the DER ECDSA `signature` verify over `digest` (computed with
 * `algorithm`) under `key`? False for any malformed input and for key types
 * {@linkcode prehashKeySupported} refuses.
 */
export function verifyPrehashed(
  key: crypto.KeyObject,
  algorithm: string,
  digest: Uint8Array,
  signature: Uint8Array,
): boolean {
  const expected = DIGEST_LENGTHS[algorithm];
  if (expected === undefined || digest.length !== expected) return false;
  if (key.asymmetricKeyType !== "ec") return false;
  const jwk = key.export({ format: "jwk" });
  const curve = CURVES[jwk.crv as keyof typeof CURVES];
  if (!curve || !jwk.x || !jwk.y) return false;
  const point = new Uint8Array([
    0x04,
    ...Buffer.from(jwk.x, "base64url"),
    ...Buffer.from(jwk.y, "base64url"),
  ]);
  try {
    return curve.verify(signature, digest, point, { prehash: false, lowS: false, format: "der" });
  } catch {
    return false;
  }
}
