/**
 * The signer a `--key` value names: a key file (`signer.ts`) or a PKCS#11
 * token (`pkcs11/signer.ts`). Kept apart from `signer.ts`, which the token
 * signer builds on, so the two do not import each other.
 *
 * @module
 */

import type { PasswordProvider } from "./password.ts";
import { type Signer, signerFromKeyFile } from "./signer.ts";
import { signerFromPkcs11Uri } from "./pkcs11/signer.ts";
import { type EnvReader, isPkcs11Uri } from "./pkcs11/uri.ts";

/**
 * The signer a `--key` value names: a key file path, or a `pkcs11:` URI
 * (RFC 7512) for a hardware token (PIN from the URI or `COSIGN_PKCS11_PIN`,
 * else a prompt; `passwords` is not asked). `env` reads those variables
 * (default: this process's environment).
 *
 * @throws {UsageError} for a malformed `pkcs11:` URI
 * @throws {Pkcs11Error} when the token or its key cannot be used
 */
export function signerFromKeyRef(
  ref: string,
  passwords: PasswordProvider,
  env?: EnvReader,
): Promise<Signer> {
  if (isPkcs11Uri(ref)) return signerFromPkcs11Uri(ref, env ? { env, pins: { env } } : {});
  return signerFromKeyFile(ref, passwords);
}
