/**
 * Error classes for failures a user can act on.
 *
 * Every class carries a stable `code` from the catalogue (`codes.ts`, which
 * also gives the code's category: refused, usage, failure, interrupted), an
 * optional `hint` (what to do), and the standard `cause`. Nothing here knows
 * exit statuses: only the command edge (`lib/cli/exit_codes.ts`,
 * `lib/cli/error_output.ts`) turns errors into a status and one line.
 *
 * @module
 */

import { categoryOf, type ErrorCategory, type ErrorCode, type RefusalCode } from "./codes.ts";

export type { ErrorCategory, ErrorCode, RefusalCode };

/** Options common to every {@linkcode DzError}. */
export interface DzErrorOptions {
  /** What the user can do about it; printed after the message. */
  hint?: string;
  /** The underlying error. */
  cause?: unknown;
}

/** Base class of every error this tool reports to users. */
export class DzError extends Error {
  /** Stable machine-readable code of the catalogue, e.g. `REFERENCE_INVALID`. */
  readonly code: ErrorCode;
  /** What the user can do about it. */
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, options: DzErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
  }

  /** The code's category (the catalogue's, never per error). */
  get category(): ErrorCategory {
    return categoryOf(this.code);
  }
}

/**
 * Throw a refusal: a {@linkcode VerificationError} with `code`, `message` and
 * the optional `hint` and `cause`. The one helper for "this check failed".
 */
export function refuse(code: RefusalCode, message: string, options: DzErrorOptions = {}): never {
  throw new VerificationError(code, message, options);
}

/** Bad command-line usage: unknown flag, missing argument, malformed value. */
export class UsageError extends DzError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("USAGE", message, options);
  }
}

/** An image reference that does not follow the docker grammar. */
export class InvalidReferenceError extends DzError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("REFERENCE_INVALID", message, options);
  }
}

/** Something was not verified or was refused by policy (a `refused` code). */
export class VerificationError extends DzError {
  declare readonly code: RefusalCode;
  constructor(code: RefusalCode, message: string, options: DzErrorOptions = {}) {
    super(code, message, options);
  }
}

/** Content whose bytes do not match the digest or size that named it. */
export class DigestMismatchError extends VerificationError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("DIGEST_MISMATCH", message, options);
  }
}

/** The network could not be reached or a request timed out. */
export class NetworkError extends DzError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("NETWORK", message, options);
  }
}

/** The registry answered with an error status. */
export class RegistryError extends DzError {
  /** HTTP status the registry answered with (0 when none). */
  readonly status: number;
  constructor(status: number, message: string, options: DzErrorOptions = {}) {
    super(status === 404 ? "NOT_FOUND" : "REGISTRY", message, options);
    this.status = status;
  }
}

/** The registry refused our credentials (401/403 after authenticating). */
export class AuthError extends DzError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("UNAUTHORIZED", message, options);
  }
}

/** Reading or writing local files failed. */
export class IoError extends DzError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("IO", message, options);
  }
}

/** A container runtime (podman, docker) failed. */
export class RuntimeError extends DzError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("RUNTIME", message, options);
  }
}

/** A capability that is not built yet: says so (a failure), never a fake success. */
export class NotImplementedError extends DzError {
  constructor(what: string) {
    super("NOT_IMPLEMENTED", `${what} is not implemented yet in this version`, {
      hint: "track the project's issues for its arrival",
    });
  }
}

/** A signature (cosign list entry, `.sig` layer, bundle) that is malformed (refused). */
export class SignatureFormatError extends VerificationError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("SIGNATURE_MALFORMED", message, options);
  }
}

/** A trusted key or trusted root that cannot be used (malformed, unsafe) (refused). */
export class TrustMaterialError extends VerificationError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("TRUST_MATERIAL_INVALID", message, options);
  }
}

/**
 * Local state we would otherwise trust (an install record, the rollback
 * state, `last_log_index`) that is corrupt or does not match itself:
 * `LOCAL_STATE_TAMPERED`, refused like any tampered data, never read as absent.
 */
export class LocalStateError extends VerificationError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("LOCAL_STATE_TAMPERED", message, options);
  }
}

/** A transparency-log position older than the one already recorded (refused). */
export class RollbackError extends VerificationError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("ROLLBACK", message, options);
  }
}

/**
 * A private key that cannot be decrypted: wrong password, or the encrypted
 * key was altered (the secretbox authenticator failed). The two cannot be
 * told apart by design. A failure: nothing was verified or refused, the key
 * simply could not be used.
 */
export class KeyDecryptError extends DzError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("KEY_DECRYPT", message, options);
  }
}

/**
 * A private or public key file that is malformed or of the wrong kind (a
 * public key given to sign with): a usage error.
 */
export class KeyFormatError extends DzError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("KEY_FORMAT", message, options);
  }
}

/** A key password is needed but none can be obtained (no COSIGN_PASSWORD, no TTY): usage. */
export class PasswordUnavailableError extends DzError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("PASSWORD_REQUIRED", message, options);
  }
}

/**
 * A PKCS#11 token or module failed or refused: module not loadable, token
 * or key not found, wrong PIN, signing failed (a failure). `rv` is the
 * PKCS#11 return value name (e.g. `CKR_PIN_INCORRECT`) when one applies.
 */
export class Pkcs11Error extends DzError {
  /** The PKCS#11 `CKR_*` name the module returned, if any. */
  readonly rv?: string;
  constructor(message: string, options: DzErrorOptions & { rv?: string } = {}) {
    super("PKCS11", message, options);
    this.rv = options.rv;
  }
}
