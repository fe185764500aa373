/**
 * cosign's encrypted private key format, as written by `cosign
 * generate-key-pair` (sigstore/cosign `pkg/cosign/keys.go`) through
 * go-securesystemslib's `encrypted` package:
 *
 * ```
 * -----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----   (or ENCRYPTED COSIGN PRIVATE KEY)
 * base64 of {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"<b64>"},
 *            "cipher":{"name":"nacl/secretbox","nonce":"<b64>"},"ciphertext":"<b64>"}
 * -----END ENCRYPTED SIGSTORE PRIVATE KEY-----
 * ```
 *
 * key = scrypt(password, salt, N, r, p, 32 bytes); ciphertext = NaCl
 * secretbox (XSalsa20-Poly1305, tag first) of the PKCS#8 DER private key
 * under that key and the 24-byte nonce. Like go-securesystemslib, only its
 * three scrypt parameter sets are accepted on reading (anything else could
 * be a memory-exhaustion trap), and we write its current default
 * ("Standard", N=65536), which is what cosign writes today.
 *
 * Primitives come from `@noble/hashes` (scrypt) and `@noble/ciphers`
 * (xsalsa20poly1305); nothing here is hand-written crypto.
 *
 * @module
 */

import { scryptAsync } from "../npm/noble_hashes_scrypt.ts";
import { xsalsa20poly1305 } from "../npm/noble_ciphers_salsa.ts";
import { KeyDecryptError, KeyFormatError } from "../errors/errors.ts";
import { decodePem, encodePem } from "./pem.ts";
import { decodeBase64Strict, encodeBase64 } from "../encoding/base64.ts";
import { isRecord } from "../json/record.ts";

/** PEM label cosign writes today. */
export const SIGSTORE_PRIVATE_KEY_LABEL = "ENCRYPTED SIGSTORE PRIVATE KEY";
/** PEM label older cosign versions wrote; still read. */
export const COSIGN_PRIVATE_KEY_LABEL = "ENCRYPTED COSIGN PRIVATE KEY";

/** scrypt cost parameters. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** go-securesystemslib "Legacy" parameters (older cosign). */
export const SCRYPT_LEGACY: Readonly<ScryptParams> = Object.freeze({ N: 32768, r: 8, p: 1 });
/** go-securesystemslib "Standard" parameters: current cosign default, what we write. */
const SCRYPT_STANDARD: Readonly<ScryptParams> = Object.freeze({ N: 65536, r: 8, p: 1 });
/** go-securesystemslib "OWASP" parameters. */
const SCRYPT_OWASP: Readonly<ScryptParams> = Object.freeze({ N: 131072, r: 8, p: 1 });

/** The only parameter sets accepted when decrypting (as go-securesystemslib). */
const ACCEPTED_SCRYPT_PARAMS: readonly Readonly<ScryptParams>[] = [
  SCRYPT_LEGACY,
  SCRYPT_STANDARD,
  SCRYPT_OWASP,
];

const KDF_NAME = "scrypt";
const CIPHER_NAME = "nacl/secretbox";
const SALT_LEN = 32;
const NONCE_LEN = 24;
const KEY_LEN = 32;
const TAG_LEN = 16;

/** The JSON envelope, fields in the order Go marshals them. */
export interface EncryptedEnvelope {
  kdf: { name: string; params: ScryptParams; salt: string };
  cipher: { name: string; nonce: string };
  ciphertext: string;
}

/** Options of {@linkcode sealEnvelope} / {@linkcode encryptPrivateKeyPem}. */
export interface SealOptions {
  /** scrypt parameters (default {@linkcode SCRYPT_STANDARD}). */
  params?: Readonly<ScryptParams>;
  /** Fixed salt (32 bytes); random by default. For tests only. */
  salt?: Uint8Array;
  /** Fixed nonce (24 bytes); random by default. For tests only. */
  nonce?: Uint8Array;
}

const encoder = new TextEncoder();

async function deriveKey(
  password: string,
  salt: Uint8Array,
  params: Readonly<ScryptParams>,
): Promise<Uint8Array> {
  return await scryptAsync(encoder.encode(password), salt, {
    N: params.N,
    r: params.r,
    p: params.p,
    dkLen: KEY_LEN,
  });
}

/**
 * Encrypt `plaintext` under `password` into the JSON envelope bytes
 * (go-securesystemslib `encrypted.Encrypt`).
 */
export async function sealEnvelope(
  plaintext: Uint8Array,
  password: string,
  options: SealOptions = {},
): Promise<Uint8Array> {
  const params = options.params ?? SCRYPT_STANDARD;
  const salt = options.salt ?? crypto.getRandomValues(new Uint8Array(SALT_LEN));
  const nonce = options.nonce ?? crypto.getRandomValues(new Uint8Array(NONCE_LEN));
  if (salt.length !== SALT_LEN) throw new TypeError(`salt must be ${SALT_LEN} bytes`);
  if (nonce.length !== NONCE_LEN) throw new TypeError(`nonce must be ${NONCE_LEN} bytes`);
  const key = await deriveKey(password, salt, params);
  try {
    const sealed = xsalsa20poly1305(key, nonce).encrypt(plaintext);
    const envelope: EncryptedEnvelope = {
      kdf: {
        name: KDF_NAME,
        params: { N: params.N, r: params.r, p: params.p },
        salt: encodeBase64(salt),
      },
      cipher: { name: CIPHER_NAME, nonce: encodeBase64(nonce) },
      ciphertext: encodeBase64(sealed),
    };
    return encoder.encode(JSON.stringify(envelope));
  } finally {
    key.fill(0);
  }
}

interface ParsedEnvelope {
  params: ScryptParams;
  salt: Uint8Array;
  nonce: Uint8Array;
  ciphertext: Uint8Array;
}

/**
 * Parse and check an envelope without decrypting it: known KDF and cipher
 * names, an accepted scrypt parameter set, well-formed base64, a 24-byte
 * nonce and a ciphertext at least as long as the authenticator.
 *
 * @throws {KeyFormatError} on anything else
 */
export function parseEnvelope(json: Uint8Array, source = "the encrypted key"): ParsedEnvelope {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
  } catch (e) {
    throw new KeyFormatError(`${source} is not a cosign encrypted key (its body is not JSON)`, {
      cause: e,
    });
  }
  const bad = (what: string) =>
    new KeyFormatError(`${source} is not a usable cosign encrypted key: ${what}`);
  if (!isRecord(doc) || !isRecord(doc.kdf) || !isRecord(doc.cipher)) {
    throw bad("missing 'kdf' or 'cipher'");
  }
  const { kdf, cipher } = doc;
  if (kdf.name !== KDF_NAME) throw bad(`unsupported KDF '${String(kdf.name)}'`);
  if (cipher.name !== CIPHER_NAME) throw bad(`unsupported cipher '${String(cipher.name)}'`);
  const p = kdf.params;
  if (!isRecord(p)) throw bad("missing scrypt parameters");
  const accepted = ACCEPTED_SCRYPT_PARAMS.find((a) => a.N === p.N && a.r === p.r && a.p === p.p);
  if (!accepted) {
    throw bad(`unsupported scrypt parameters N=${String(p.N)} r=${String(p.r)} p=${String(p.p)}`);
  }
  const b64 = (v: unknown) => (typeof v === "string" ? decodeBase64Strict(v) : undefined);
  const salt = b64(kdf.salt);
  const nonce = b64(cipher.nonce);
  const ciphertext = b64(doc.ciphertext);
  if (!salt || salt.length === 0) throw bad("malformed salt");
  if (!nonce || nonce.length !== NONCE_LEN) throw bad("malformed nonce");
  if (!ciphertext || ciphertext.length < TAG_LEN) throw bad("malformed ciphertext");
  return { params: { ...accepted }, salt, nonce, ciphertext };
}

/**
 * Decrypt envelope bytes (go-securesystemslib `encrypted.Decrypt`).
 *
 * @throws {KeyFormatError} when the envelope is malformed or unsupported
 * @throws {KeyDecryptError} when authentication fails (wrong password or altered data)
 */
export async function openEnvelope(
  json: Uint8Array,
  password: string,
  source = "the encrypted key",
): Promise<Uint8Array> {
  const env = parseEnvelope(json, source);
  const key = await deriveKey(password, env.salt, env.params);
  try {
    return xsalsa20poly1305(key, env.nonce).decrypt(env.ciphertext);
  } catch (e) {
    throw new KeyDecryptError(`cannot decrypt ${source}: wrong password or corrupt key`, {
      hint: "check the password (COSIGN_PASSWORD or the prompt) and that the key file is intact",
      cause: e,
    });
  } finally {
    key.fill(0);
  }
}

/** Is this PEM label one of cosign's encrypted private key labels? */
export function isCosignEncryptedLabel(label: string): boolean {
  return label === SIGSTORE_PRIVATE_KEY_LABEL || label === COSIGN_PRIVATE_KEY_LABEL;
}

/**
 * Encrypt a PKCS#8 DER private key into cosign's PEM format (label
 * `ENCRYPTED SIGSTORE PRIVATE KEY`, as current cosign writes).
 */
export async function encryptPrivateKeyPem(
  pkcs8Der: Uint8Array,
  password: string,
  options: SealOptions = {},
): Promise<string> {
  return encodePem(SIGSTORE_PRIVATE_KEY_LABEL, await sealEnvelope(pkcs8Der, password, options));
}

/**
 * Decrypt a cosign encrypted private key PEM to its PKCS#8 DER bytes.
 * Accepts both the `ENCRYPTED SIGSTORE PRIVATE KEY` and the older
 * `ENCRYPTED COSIGN PRIVATE KEY` labels.
 *
 * @param source what to call the key in errors, e.g. its path
 * @throws {KeyFormatError} when it is not such a key
 * @throws {KeyDecryptError} on a wrong password or an altered key
 */
export async function decryptPrivateKeyPem(
  pemText: string,
  password: string,
  source = "the private key",
): Promise<Uint8Array> {
  const block = decodePem(pemText, source);
  if (!isCosignEncryptedLabel(block.label)) {
    throw new KeyFormatError(`${source} is a '${block.label}', not a cosign encrypted private key`);
  }
  return await openEnvelope(block.der, password, source);
}
