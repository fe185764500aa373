/**
 * Deno compatibility shim for `node:crypto`'s `verify`.
 *
 * Under Deno (2.9.6 checked), `crypto.verify(null, data, ecKey, sig)` throws
 * `no default digest`, where Node picks the key type's default digest
 * (SHA-256 for RSA and EC keys, none for Ed25519/Ed448). `@sigstore/core`
 * calls `verify` with `null` for Rekor signed entry timestamps, checkpoints
 * and DSSE envelopes and turns the exception into `false`, so every valid
 * signature would be rejected under Deno (never a false pass, but useless).
 *
 * {@linkcode installNodeVerifyShim} wraps `crypto.verify` so that a `null` /
 * `undefined` algorithm means SHA-256 for any key that is not Ed25519 or
 * Ed448: exactly Node's behaviour. Explicit algorithms pass through
 * unchanged. It is idempotent and installed by `lib/signatures/verify.ts`
 * before any verification.
 *
 * @module
 */

import crypto from "node:crypto";

const MARK = Symbol.for("dangerzone-image.nodeVerifyShim");

type VerifyFn = typeof crypto.verify;

function keyTypeOf(key: unknown): string | undefined {
  try {
    if (key instanceof crypto.KeyObject) return key.asymmetricKeyType;
    // `{ key: KeyObject, … }` (as tuf-js passes Ed25519 keys)
    const inner = (key as { key?: unknown } | null)?.key;
    if (inner instanceof crypto.KeyObject) return inner.asymmetricKeyType;
    // deno-lint-ignore no-explicit-any
    return crypto.createPublicKey(key as any).asymmetricKeyType;
  } catch {
    return undefined;
  }
}

/** Does this runtime throw for a null digest on an EC key? (Node does not.) */
export function runtimeNeedsShim(): boolean {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const data = new TextEncoder().encode("probe");
  const sig = crypto.sign("sha256", data, privateKey);
  try {
    return !(crypto.verify as VerifyFn)(null, data, publicKey, sig);
  } catch {
    return true;
  }
}

/** Install the shim (idempotent). Returns true when `crypto.verify` is now wrapped. */
export function installNodeVerifyShim(): boolean {
  const current = crypto.verify as VerifyFn & { [MARK]?: true };
  if (current[MARK]) return true;
  const original = current;
  const patched = function (
    algorithm: string | null | undefined,
    data: NodeJS.ArrayBufferView,
    key: unknown,
    signature: NodeJS.ArrayBufferView,
    ...rest: unknown[]
  ) {
    let alg = algorithm;
    if (alg === null || alg === undefined) {
      const type = keyTypeOf(key);
      if (type !== "ed25519" && type !== "ed448") alg = "sha256";
    }
    // deno-lint-ignore no-explicit-any
    return (original as any).call(crypto, alg, data, key, signature, ...rest);
  } as unknown as VerifyFn & { [MARK]?: true };
  patched[MARK] = true;
  (crypto as { verify: VerifyFn }).verify = patched;
  return true;
}
