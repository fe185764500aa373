/**
 * Turn what a PKCS#11 token gives into what cosign writes: the public key
 * from `CKA_EC_PARAMS` + `CKA_EC_POINT` as an SPKI `PUBLIC KEY`, and the
 * raw `r || s` of `CKM_ECDSA` as an ASN.1 DER signature. Only P-256, the
 * curve cosign keys use. Encoding is done by `node:crypto` and
 * `@noble/curves`, which also check the point is on the curve.
 *
 * @module
 */

import { createPublicKey, type KeyObject } from "node:crypto";
import { Buffer } from "node:buffer";
import { p256 } from "../../npm/noble_curves_nist.ts";
import { Pkcs11Error } from "../../errors/errors.ts";

/** DER of the OID 1.2.840.10045.3.1.7 (prime256v1), as `CKA_EC_PARAMS` holds it. */
const P256_PARAMS = Uint8Array.of(0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07);
/** Bytes of an uncompressed P-256 point: 0x04 || X || Y. */
const POINT_LEN = 65;

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

/**
 * The public key of a P-256 token key.
 *
 * @param params `CKA_EC_PARAMS` (must be the P-256 named-curve OID)
 * @param point `CKA_EC_POINT`: a DER OCTET STRING around the uncompressed
 *   point (PKCS#11), or the bare point (some older modules)
 * @throws {Pkcs11Error} for another curve or a malformed / off-curve point
 */
export function ecPublicKey(params: Uint8Array, point: Uint8Array): KeyObject {
  if (!equal(params, P256_PARAMS)) {
    throw new Pkcs11Error("the token key is not on curve P-256; only ECDSA P-256 keys can sign", {
      hint: "create the key on the token as EC prime256v1 (secp256r1)",
    });
  }
  let raw = point;
  // DER OCTET STRING, short-form length: 0x04 0x41 <65 bytes>.
  if (point.length === POINT_LEN + 2 && point[0] === 0x04 && point[1] === POINT_LEN) {
    raw = point.subarray(2);
  }
  if (raw.length !== POINT_LEN || raw[0] !== 0x04) {
    throw new Pkcs11Error("the token's CKA_EC_POINT is not an uncompressed P-256 point");
  }
  try {
    p256.Point.fromBytes(raw).assertValidity();
    return createPublicKey({
      key: {
        kty: "EC",
        crv: "P-256",
        x: b64url(raw.subarray(1, 33)),
        y: b64url(raw.subarray(33, 65)),
      },
      format: "jwk",
    });
  } catch (e) {
    throw new Pkcs11Error("the token's CKA_EC_POINT is not a valid P-256 point", { cause: e });
  }
}

/**
 * ASN.1 DER encoding of a raw P-256 ECDSA signature (`r || s`, 64 bytes),
 * the format cosign stores.
 *
 * @throws {Pkcs11Error} unless `raw` is a well-formed P-256 signature
 */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  if (raw.length !== 64) {
    throw new Pkcs11Error(`the token returned a ${raw.length}-byte signature, not 64 (P-256)`);
  }
  try {
    return p256.Signature.fromBytes(raw, "compact").toBytes("der");
  } catch (e) {
    throw new Pkcs11Error("the token returned a malformed ECDSA signature", { cause: e });
  }
}
