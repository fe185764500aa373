/**
 * Error classes for failures a user can act on.
 *
 * Every class carries a stable `code`, the process exit status the command
 * edge maps it to (see `../shared/cli.md`: 1 refused / not verified, 2 usage,
 * 3 anything else), an optional `hint` (what to do), and the standard
 * `cause`. Only `lib/cli/command.ts` turns them into output.
 *
 * @module
 */

/** Exit status when a check refused the input (bad signature, rollback, tampered data). */
export const EXIT_REFUSED = 1;
/** Exit status for a usage error (bad flags, bad reference syntax). */
export const EXIT_USAGE = 2;
/** Exit status for everything else: network, registry, runtime, I/O, not built yet. */
export const EXIT_OTHER = 3;

/** Options common to every {@linkcode DzError}. */
export interface DzErrorOptions {
  /** What the user can do about it; printed after the message. */
  hint?: string;
  /** The underlying error. */
  cause?: unknown;
}

/** Base class of every error this tool reports to users. */
export class DzError extends Error {
  /** Stable machine-readable code, e.g. `REFERENCE_INVALID`. */
  readonly code: string;
  /** Process exit status this error maps to. */
  readonly exitCode: number;
  /** What the user can do about it. */
  readonly hint?: string;

  constructor(code: string, exitCode: number, message: string, options: DzErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    this.hint = options.hint;
  }
}

/** Bad command-line usage: unknown flag, missing argument, malformed value. */
export class UsageError extends DzError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("USAGE", EXIT_USAGE, message, options);
  }
}

/** An image reference that does not follow the docker grammar. */
export class InvalidReferenceError extends DzError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("REFERENCE_INVALID", EXIT_USAGE, message, options);
  }
}

/** Something was not verified or was refused by policy: exit 1. */
export class VerificationError extends DzError {
  constructor(code: string, message: string, options: DzErrorOptions = {}) {
    super(code, EXIT_REFUSED, message, options);
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
    super("NETWORK", EXIT_OTHER, message, options);
  }
}

/** The registry answered with an error status. */
export class RegistryError extends DzError {
  /** HTTP status the registry answered with (0 when none). */
  readonly status: number;
  constructor(status: number, message: string, options: DzErrorOptions = {}) {
    super(status === 404 ? "NOT_FOUND" : "REGISTRY", EXIT_OTHER, message, options);
    this.status = status;
  }
}

/** The registry refused our credentials (401/403 after authenticating). */
export class AuthError extends DzError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("UNAUTHORIZED", EXIT_OTHER, message, options);
  }
}

/** Reading or writing local files failed. */
export class IoError extends DzError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("IO", EXIT_OTHER, message, options);
  }
}

/** A container runtime (podman, docker) failed. */
export class RuntimeError extends DzError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("RUNTIME", EXIT_OTHER, message, options);
  }
}

/** A capability that is not built yet: says so and exits 3, never a fake success. */
export class NotImplementedError extends DzError {
  constructor(what: string) {
    super("NOT_IMPLEMENTED", EXIT_OTHER, `${what} is not implemented yet in this version`, {
      hint: "track the project's issues for its arrival",
    });
  }
}

/** A signature (cosign list entry, `.sig` layer, bundle) that is malformed: exit 1. */
export class SignatureFormatError extends VerificationError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("SIGNATURE_MALFORMED", message, options);
  }
}

/** A trusted key or trusted root that cannot be used (malformed, unsafe): exit 1. */
export class TrustMaterialError extends VerificationError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("TRUST_MATERIAL_INVALID", message, options);
  }
}

/** A transparency-log position older than the one already recorded: exit 1. */
export class RollbackError extends VerificationError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("ROLLBACK", message, options);
  }
}

/**
 * A private key that cannot be decrypted: wrong password, or the encrypted
 * key was altered (the secretbox authenticator failed). The two cannot be
 * told apart by design. Exit 3: nothing was verified or refused, the key
 * simply could not be used.
 */
export class KeyDecryptError extends DzError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("KEY_DECRYPT", EXIT_OTHER, message, options);
  }
}

/**
 * A private or public key file that is malformed or of the wrong kind (a
 * public key given to sign with): a usage error, exit 2.
 */
export class KeyFormatError extends DzError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("KEY_FORMAT", EXIT_USAGE, message, options);
  }
}

/** A key password is needed but none can be obtained (no COSIGN_PASSWORD, no TTY): exit 2. */
export class PasswordUnavailableError extends DzError {
  constructor(message: string, options: DzErrorOptions = {}) {
    super("PASSWORD_REQUIRED", EXIT_USAGE, message, options);
  }
}

/**
 * A PKCS#11 token or module failed or refused: module not loadable, token
 * or key not found, wrong PIN, signing failed. Exit 3. `rv` is the
 * PKCS#11 return value name (e.g. `CKR_PIN_INCORRECT`) when one applies.
 */
export class Pkcs11Error extends DzError {
  /** The PKCS#11 `CKR_*` name the module returned, if any. */
  readonly rv?: string;
  constructor(message: string, options: DzErrorOptions & { rv?: string } = {}) {
    super("PKCS11", EXIT_OTHER, message, options);
    this.rv = options.rv;
  }
}
