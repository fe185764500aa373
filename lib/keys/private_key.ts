/**
 * Private keys as `node:crypto` KeyObjects: read cosign encrypted keys and
 * plain PEM keys (`PRIVATE KEY` PKCS#8, `EC PRIVATE KEY` SEC 1), create new
 * ECDSA P-256 pairs the way `cosign generate-key-pair` does, and render
 * public keys as cosign's `cosign.pub` (SPKI `PUBLIC KEY` PEM).
 *
 * @module
 */

import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { Buffer } from "node:buffer";
import { KeyFormatError, UsageError } from "../errors/errors.ts";
import {
  decryptPrivateKeyPem,
  encryptPrivateKeyPem,
  isCosignEncryptedLabel,
} from "./cosign_encrypted.ts";
import type { PasswordProvider } from "./password.ts";
import { decodePem, encodePem } from "./pem.ts";

/** PEM label of a PKCS#8 private key. */
const PKCS8_LABEL = "PRIVATE KEY";
/** PEM label of a SEC 1 EC private key. */
const SEC1_LABEL = "EC PRIVATE KEY";
/** PEM label of an SPKI public key, as in `cosign.pub`. */
const PUBLIC_KEY_LABEL = "PUBLIC KEY";

function fromDer(der: Uint8Array, type: "pkcs8" | "sec1", source: string): KeyObject {
  try {
    return createPrivateKey({ key: Buffer.from(der), format: "der", type });
  } catch (e) {
    throw new KeyFormatError(`${source} does not hold a valid ${type.toUpperCase()} private key`, {
      cause: e,
    });
  }
}

/**
 * Parse a private key file's text. The password provider is only asked
 * for cosign encrypted keys.
 *
 * @param source what to call the key in errors, e.g. its path
 * @throws {KeyFormatError} for malformed or unsupported files
 * @throws {KeyDecryptError} for a wrong password or an altered encrypted key
 */
export async function parsePrivateKey(
  pemText: string,
  passwords: PasswordProvider,
  source = "the private key",
): Promise<KeyObject> {
  const block = decodePem(pemText, source);
  if (isCosignEncryptedLabel(block.label)) {
    const password = await passwords({ confirm: false });
    const der = await decryptPrivateKeyPem(pemText, password, source);
    try {
      return fromDer(der, "pkcs8", source);
    } finally {
      der.fill(0);
    }
  }
  if (block.label === PKCS8_LABEL) return fromDer(block.der, "pkcs8", source);
  if (block.label === SEC1_LABEL) return fromDer(block.der, "sec1", source);
  throw new KeyFormatError(`${source}: unsupported private key kind '${block.label}'`, {
    hint: "use a cosign key (ENCRYPTED SIGSTORE PRIVATE KEY) or a PKCS#8 'PRIVATE KEY' PEM",
  });
}

/**
 * Read and parse a private key file (see {@linkcode parsePrivateKey}).
 *
 * @throws {IoError} when the file does not exist
 * @throws {KeyFormatError} also when the file is implausibly large
 */
export async function readPrivateKeyFile(
  path: string,
  passwords: PasswordProvider,
): Promise<KeyObject> {
  const MAX = 64 * 1024;
  let text: string;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new UsageError(`private key file ${path} does not exist`, {
        hint: "give the path of the .key file written by generate-key-pair",
      });
    }
    throw e;
  }
  try {
    const info = await file.stat();
    if (!info.isFile) throw new KeyFormatError(`${path} is not a regular file`);
    if (info.size > MAX) throw new KeyFormatError(`${path} is too large to be a key file`);
    const buf = new Uint8Array(info.size);
    let off = 0;
    while (off < buf.length) {
      const n = await file.read(buf.subarray(off));
      if (n === null) break;
      off += n;
    }
    text = new TextDecoder().decode(buf.subarray(0, off));
  } finally {
    file.close();
  }
  return await parsePrivateKey(text, passwords, path);
}

/** SPKI DER of a key's public half (works for private and public KeyObjects). */
export function publicKeyDer(key: KeyObject): Uint8Array {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return new Uint8Array(pub.export({ type: "spki", format: "der" }));
}

/** The public key PEM cosign writes as `cosign.pub` (`PUBLIC KEY`, SPKI). */
export function publicKeyPem(key: KeyObject): string {
  return encodePem(PUBLIC_KEY_LABEL, publicKeyDer(key));
}

/** Is this an ECDSA key on P-256 (cosign's default algorithm)? */
export function isEcP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === "ec" &&
    key.asymmetricKeyDetails?.namedCurve === "prime256v1";
}

/** A new key pair in cosign's file formats. */
export interface CosignKeyPair {
  /** `ENCRYPTED SIGSTORE PRIVATE KEY` PEM. */
  privateKeyPem: string;
  /** `PUBLIC KEY` PEM. */
  publicKeyPem: string;
}

/**
 * Generate an ECDSA P-256 key pair and encode it as `cosign
 * generate-key-pair` does: the PKCS#8 private key encrypted under
 * `password`, the public key as SPKI PEM.
 */
export async function generateCosignKeyPair(password: string): Promise<CosignKeyPair> {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const der = new Uint8Array(privateKey.export({ type: "pkcs8", format: "der" }));
  try {
    return {
      privateKeyPem: await encryptPrivateKeyPem(der, password),
      publicKeyPem: publicKeyPem(privateKey),
    };
  } finally {
    der.fill(0);
  }
}
