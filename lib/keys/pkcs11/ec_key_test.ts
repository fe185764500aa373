import assert from "node:assert/strict";
import { generateKeyPairSync, sign, verify } from "node:crypto";
import { Buffer } from "node:buffer";
import { Pkcs11Error } from "../../errors/errors.ts";
import { ecdsaRawToDer, ecPublicKey } from "./ec_key.ts";

const P256 = Uint8Array.of(0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07);
const P384 = Uint8Array.of(0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22);

function p256Pair() {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = publicKey.export({ format: "jwk" });
  const point = Uint8Array.of(
    0x04,
    ...Buffer.from(jwk.x!, "base64url"),
    ...Buffer.from(jwk.y!, "base64url"),
  );
  return { privateKey, publicKey, point };
}

const spki = (k: { export(o: object): unknown }) =>
  (k.export({ type: "spki", format: "der" }) as Buffer).toString("hex");

Deno.test("pkcs11 ec: public key from EC_PARAMS + EC_POINT (DER-wrapped or bare)", () => {
  const { publicKey, point } = p256Pair();
  const wrapped = Uint8Array.of(0x04, 0x41, ...point);
  assert.equal(spki(ecPublicKey(P256, wrapped)), spki(publicKey));
  assert.equal(spki(ecPublicKey(P256, point)), spki(publicKey));
});

Deno.test("pkcs11 ec: other curves, compressed, truncated and off-curve points are refused", () => {
  const { point } = p256Pair();
  const wrapped = Uint8Array.of(0x04, 0x41, ...point);
  assert.throws(() => ecPublicKey(P384, wrapped), /not on curve P-256/);
  assert.throws(() => ecPublicKey(P256, wrapped.subarray(0, 40)), Pkcs11Error);
  const compressed = Uint8Array.of(0x02 | (point[64] & 1), ...point.subarray(1, 33));
  assert.throws(() => ecPublicKey(P256, compressed), /not an uncompressed P-256 point/);
  const offCurve = point.slice();
  offCurve[64] ^= 1;
  assert.throws(() => ecPublicKey(P256, offCurve), /not a valid P-256 point/);
});

Deno.test("pkcs11 ec: raw r||s becomes the DER signature that verifies", () => {
  const { privateKey, publicKey } = p256Pair();
  const msg = Buffer.from("payload");
  for (let i = 0; i < 20; i++) {
    const raw = sign("sha256", msg, { key: privateKey, dsaEncoding: "ieee-p1363" });
    const der = ecdsaRawToDer(new Uint8Array(raw));
    assert.equal(der[0], 0x30);
    assert.ok(verify("sha256", msg, publicKey, Buffer.from(der)));
    assert.ok(!verify("sha256", Buffer.from("other"), publicKey, Buffer.from(der)));
  }
  assert.throws(() => ecdsaRawToDer(new Uint8Array(63)), /63-byte signature/);
  assert.throws(() => ecdsaRawToDer(new Uint8Array(64)), /malformed ECDSA signature/); // r = s = 0
});
