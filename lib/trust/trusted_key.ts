/**
 * The trusted cosign public key (`--key`, default: Dangerzone's published
 * key, embedded). Trust comes only from this machine: the key is read from a
 * local file or the binary, never from a registry or an archive.
 *
 * @module
 */

import crypto from "node:crypto";
import { TrustMaterialError, UsageError } from "../errors/errors.ts";
import { DANGERZONE_KEY_NAME, DANGERZONE_PUBLIC_KEY_PEM } from "./dangerzone_key.ts";
import { readLocalFile } from "../fs/read_file.ts";

/** A public key the user trusts to sign images. */
export interface TrustedKey {
  /** Where it came from: a file path, or `embedded:freedomofpress-dangerzone.pub`. */
  source: string;
  /** The exact bytes of the key file. */
  bytes: Uint8Array;
  /** sha256 hex of {@linkcode bytes}: the folder name in the signature store. */
  keyId: string;
  /** The parsed key. */
  publicKey: crypto.KeyObject;
  /** DER SubjectPublicKeyInfo of the key. */
  spki: Uint8Array;
  /** `ec`, `ed25519` or `rsa`. */
  keyType: string;
}

const PEM_PUBLIC =
  /^-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\s*$/;
const ALLOWED_TYPES = new Set(["ec", "ed25519", "rsa"]);
/** A PEM public key is well under a KiB; anything past this is not one. */
const KEY_FILE_LIMIT = 1024 * 1024;

/** sha256 hex of some bytes. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return crypto.createHash("sha256").update(bytes).digest("hex");
}

/**
 * Parse a PEM public key file (exactly one `PUBLIC KEY` block: ECDSA, Ed25519
 * or RSA). A private key is refused, never turned into its public half.
 * @throws TrustMaterialError when it is not a usable public key.
 */
export function parseTrustedKey(bytes: Uint8Array, source: string): TrustedKey {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes).trimStart();
  if (/^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    throw new UsageError(`${source} is a private key; --key here takes the public key`, {
      hint: "pass the .pub file of the key pair (cosign.pub), never the private key",
    });
  }
  if (!PEM_PUBLIC.test(text)) {
    throw new TrustMaterialError(`${source} is not a PEM public key (one PUBLIC KEY block)`, {
      hint: "pass the .pub file of a cosign key pair with --key",
    });
  }
  let publicKey: crypto.KeyObject;
  try {
    publicKey = crypto.createPublicKey({ key: text, format: "pem" });
  } catch (cause) {
    throw new TrustMaterialError(`${source}: cannot parse the public key`, { cause });
  }
  const keyType = publicKey.asymmetricKeyType ?? "unknown";
  if (publicKey.type !== "public" || !ALLOWED_TYPES.has(keyType)) {
    throw new TrustMaterialError(`${source}: unsupported key type '${keyType}'`, {
      hint: "cosign keys are ECDSA, Ed25519 or RSA public keys",
    });
  }
  const spki = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
  return { source, bytes, keyId: sha256Hex(bytes), publicKey, spki, keyType };
}

/** Dangerzone's published key, embedded in the program. */
export function defaultTrustedKey(): TrustedKey {
  return parseTrustedKey(
    new TextEncoder().encode(DANGERZONE_PUBLIC_KEY_PEM),
    `embedded:${DANGERZONE_KEY_NAME}`,
  );
}

/**
 * Load the trusted key from `path` (`--key`), or the embedded default.
 * @throws IoError when the file cannot be read; TrustMaterialError when it is not a key.
 */
export async function loadTrustedKey(path?: string): Promise<TrustedKey> {
  if (path === undefined) return defaultTrustedKey();
  const bytes = await readLocalFile(path, {
    what: "key file",
    limit: KEY_FILE_LIMIT,
    missing: (cause) =>
      new UsageError(`key file ${path} does not exist`, {
        hint: "pass the trusted public key's path with --key (omit --key for Dangerzone's own key)",
        cause,
      }),
  });
  return parseTrustedKey(bytes, path);
}
