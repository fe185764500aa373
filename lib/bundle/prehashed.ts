/**
 * Verify a signature over an already computed digest ("prehashed"): what a
 * `sha256:<hex>` artifact given to `verify-bundle` needs, since only the
 * digest is known, never the bytes. `node:crypto` always hashes its input,
 * so ECDSA goes through `@noble/curves` with `prehash: false`, and RSA
 * PKCS#1 v1.5 recovers the DigestInfo with `crypto.publicDecrypt` and
 * compares it with the expected one. Ed25519 signs the message itself, not
 * a digest, so it cannot be checked from a digest and is refused.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import { p256, p384, p521 } from "../npm/noble_curves_nist.ts";

/** Digest algorithms accepted, with their digest length in bytes. */
export const DIGEST_LENGTHS: Readonly<Record<string, number>> = {
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

/** DER prefixes of PKCS#1 v1.5 DigestInfo (RFC 8017 section 9.2, note 1). */
const DIGEST_INFO_PREFIX: Readonly<Record<string, string>> = {
  sha256: "3031300d060960864801650304020105000420",
  sha384: "3041300d060960864801650304020205000430",
  sha512: "3051300d060960864801650304020305000440",
};

const CURVES = { "P-256": p256, "P-384": p384, "P-521": p521 } as const;

/** Can {@linkcode verifyPrehashed} check signatures made with this key type at all? */
export function prehashKeySupported(key: crypto.KeyObject): boolean {
  if (key.asymmetricKeyType === "rsa") return true;
  if (key.asymmetricKeyType !== "ec") return false;
  const crv = key.export({ format: "jwk" }).crv;
  return crv !== undefined && crv in CURVES;
}

/**
 * Does `signature` (DER ECDSA, or RSA PKCS#1 v1.5) verify over `digest`
 * (computed with `algorithm`) under `key`? False for any malformed input and
 * for key types that cannot verify a digest (Ed25519, RSA-PSS, unknown curves).
 */
export function verifyPrehashed(
  key: crypto.KeyObject,
  algorithm: string,
  digest: Uint8Array,
  signature: Uint8Array,
): boolean {
  const expected = DIGEST_LENGTHS[algorithm];
  if (expected === undefined || digest.length !== expected) return false;
  switch (key.asymmetricKeyType) {
    case "ec": {
      const jwk = key.export({ format: "jwk" });
      const curve = CURVES[jwk.crv as keyof typeof CURVES];
      if (!curve || !jwk.x || !jwk.y) return false;
      const point = new Uint8Array([
        0x04,
        ...Buffer.from(jwk.x, "base64url"),
        ...Buffer.from(jwk.y, "base64url"),
      ]);
      try {
        return curve.verify(signature, digest, point, {
          prehash: false,
          lowS: false,
          format: "der",
        });
      } catch {
        return false;
      }
    }
    case "rsa": {
      let recovered: Buffer;
      try {
        recovered = crypto.publicDecrypt(
          { key, padding: crypto.constants.RSA_PKCS1_PADDING },
          signature,
        );
      } catch {
        return false;
      }
      const want = Buffer.concat([
        Buffer.from(DIGEST_INFO_PREFIX[algorithm], "hex"),
        Buffer.from(digest),
      ]);
      return recovered.length === want.length && crypto.timingSafeEqual(recovered, want);
    }
    default:
      return false;
  }
}
