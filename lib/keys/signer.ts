/**
 * Signing keys behind one interface, so `sign` and `attest` do not care
 * whether the key is a file or (later) a hardware token. Signatures are
 * what cosign makes: ECDSA P-256 over SHA-256, ASN.1 DER encoded.
 *
 * @module
 */

import { type KeyObject, sign as nodeSign } from "node:crypto";
import { Buffer } from "node:buffer";
import { KeyFormatError } from "../errors/errors.ts";
import type { PasswordProvider } from "./password.ts";
import { isEcP256, publicKeyPem, readPrivateKeyFile } from "./private_key.ts";

/** Something that signs like a cosign key. */
export interface Signer {
  /** The public key as cosign writes `cosign.pub` (SPKI `PUBLIC KEY` PEM). */
  publicKeyPem(): string;
  /** ECDSA P-256 SHA-256 signature of `data`, ASN.1 DER. */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** A {@linkcode Signer} over an in-memory `node:crypto` private key. */
export class KeyObjectSigner implements Signer {
  readonly #key: KeyObject;
  readonly #publicPem: string;

  /**
   * @throws {KeyFormatError} unless `key` is an ECDSA P-256 private key
   */
  constructor(key: KeyObject, source = "the private key") {
    if (key.type !== "private") throw new KeyFormatError(`${source} is not a private key`);
    if (!isEcP256(key)) {
      throw new KeyFormatError(
        `${source} is a ${key.asymmetricKeyType ?? "unknown"} key; only ECDSA P-256 keys can sign`,
        { hint: "create one with 'generate-key-pair'" },
      );
    }
    this.#key = key;
    this.#publicPem = publicKeyPem(key);
  }

  publicKeyPem(): string {
    return this.#publicPem;
  }

  sign(data: Uint8Array): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(nodeSign("sha256", Buffer.from(data), this.#key)));
  }
}

/**
 * A signer over a key file: a cosign encrypted key (password from
 * `passwords`), or a plain PKCS#8 / SEC 1 PEM.
 */
export async function signerFromKeyFile(
  path: string,
  passwords: PasswordProvider,
): Promise<Signer> {
  return new KeyObjectSigner(await readPrivateKeyFile(path, passwords), path);
}
