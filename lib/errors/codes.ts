/**
 * The catalogue of error codes: every stable, machine-readable `code` a
 * {@linkcode DzError} can carry (and `--json` prints as `error.code`), each
 * with one line saying what it means and its {@linkcode ErrorCategory}.
 *
 * The catalogue holds no exit statuses: the command edge (`lib/cli/`) maps a
 * category to one. Adding a code means adding it here; the compiler then
 * accepts it in `new DzError(code, …)` and `refuse(code, …)`.
 *
 * Corrupt local state: a file of ours (or Dangerzone's) that we would
 * otherwise trust (an install record, the rollback state, `last_log_index`)
 * that does not parse or does not match itself is one code,
 * `LOCAL_STATE_TAMPERED`, refused like any tampered data: it is never read
 * as absent, and it cannot be told apart from an edit by someone else.
 * Failing to read such a file at all (permissions, a disk error) stays `IO`.
 *
 * @module
 */

/**
 * What kind of failure a code is:
 * - `refused`: a check refused the input (not verified, rollback, tampered data);
 * - `usage`: the command line or a file it names is wrong;
 * - `failure`: anything else (network, registry, runtime, I/O, a bug);
 * - `interrupted`: SIGINT / SIGTERM stopped the work.
 */
export type ErrorCategory = "refused" | "usage" | "failure" | "interrupted";

/** One catalogue entry. */
export interface ErrorCodeInfo {
  /** Its category (the command edge maps it to an exit status). */
  readonly category: ErrorCategory;
  /** One line: what the code means. */
  readonly description: string;
}

const refused = (description: string) => ({ category: "refused", description }) as const;
const usage = (description: string) => ({ category: "usage", description }) as const;
const failure = (description: string) => ({ category: "failure", description }) as const;

/** Every error code, by name. */
export const ERROR_CODES = {
  // --- usage ---
  USAGE: usage(
    "bad command-line usage: unknown option, missing argument, malformed value, a named file that does not exist",
  ),
  REFERENCE_INVALID: usage("an image reference that does not follow the docker grammar"),
  PLATFORM_MISSING: usage("the image has no manifest for the requested --platform"),
  KEY_FORMAT: usage(
    "a key file that is malformed or of the wrong kind (a private key given as --key)",
  ),
  PASSWORD_REQUIRED: usage(
    "a key password is needed and none can be obtained (no COSIGN_PASSWORD, no terminal)",
  ),

  // --- refused: signatures and their verification ---
  NOT_VERIFIED: refused("a signature did not verify, for a reason not listed more precisely"),
  NO_SIGNATURE: refused("the image has no signatures at all"),
  NO_SIGNATURES: refused("the archive carries no signatures for the signed digest"),
  NO_VALID_SIGNATURE: refused("none of the image's signatures verifies with the trusted key"),
  SIGNATURE_INVALID: refused("a signature does not verify"),
  SIGNATURE_MALFORMED: refused("a signature (cosign entry, .sig layer, bundle) is malformed"),
  KEY_UNTRUSTED: refused("not signed with the trusted key"),
  SIGNER_MISMATCH: refused(
    "the signature is made with another kind of signer than the one trusted (key vs certificate)",
  ),
  IDENTITY_MISMATCH: refused(
    "the signed identity (repository, certificate identity) is not the one expected",
  ),
  IDENTITY_MISSING: refused("the signatures name no identity (critical.identity.docker-reference)"),
  DIGEST_MISMATCH: refused("content whose bytes do not match the digest or size that named it"),
  DIGEST_NOT_SIGNED: refused("the signature covers another digest than the image's"),
  PAYLOAD_INVALID: refused("the signed payload is not a valid simple-signing document"),
  STATEMENT_INVALID: refused("the DSSE payload is not a valid in-toto statement"),
  SUBJECT_MISMATCH: refused("the image digest is not a subject of the signed statement"),
  PREDICATE_MISMATCH: refused("the signed statement has another predicate type than expected"),
  BUNDLE_INVALID: refused("a Sigstore bundle that cannot be used (malformed, wrong media type)"),
  BUNDLE_NOT_DSSE: refused(
    "a bundle holding a bare message signature where a DSSE statement is required",
  ),
  CERTIFICATE_INVALID: refused("the signing certificate does not chain to a trusted Fulcio root"),
  CERTIFICATE_MISSING: refused("keyless verification needs a certificate and there is none"),
  TIMESTAMP_INVALID: refused("no valid trusted timestamp for the signature"),
  TLOG_INVALID: refused("a transparency-log entry or checkpoint does not verify"),
  TLOG_MISMATCH: refused("a transparency-log entry is for another payload, signature or key"),
  TLOG_MISSING: refused("the signature has no transparency-log entry"),
  REKOR_RESPONSE: refused("the transparency log (Rekor) answered something unusable"),
  TRUST_MATERIAL_INVALID: refused(
    "a trusted key or trusted root that cannot be used (malformed, unsafe)",
  ),
  ATTESTATION_INVALID: refused("a cosign attestation (.att) that is malformed"),

  // --- refused: provenance (attest-provenance) ---
  PROVENANCE_MISSING: refused("no SLSA provenance attestation found for the image"),
  PROVENANCE_INVALID: refused("the SLSA provenance predicate is malformed"),
  PROVENANCE_TYPE: refused("the attestation is not an in-toto SLSA provenance statement"),
  PROVENANCE_BUILDER: refused("the provenance was not signed by the trusted builder"),
  PROVENANCE_CERTIFICATE: refused("the provenance certificate lacks a claim the check needs"),
  PROVENANCE_CERTIFICATE_INCONSISTENT: refused(
    "the provenance certificate names two different values for one claim",
  ),
  PROVENANCE_INCONSISTENT: refused("the provenance predicate and its certificate disagree"),
  PROVENANCE_REPOSITORY: refused(
    "the provenance names another source repository than --repository",
  ),
  PROVENANCE_WORKFLOW: refused("the provenance names another workflow than --workflow"),
  PROVENANCE_BRANCH: refused("the provenance names another git branch than --branch"),

  // --- refused: images, archives, local state ---
  ROLLBACK: refused("an image older (by transparency-log position) than the one already installed"),
  MANIFEST_INVALID: refused(
    "an image manifest or index that cannot be used (nested index, wrong shape)",
  ),
  MANIFEST_MALFORMED: refused("an image manifest or index that does not parse"),
  CONFIG_TOO_LARGE: refused("the image config claims more bytes than any real one has"),
  LISTING_TOO_LONG: refused("a registry listing longer than accepted (broken or hostile registry)"),
  LAYOUT_INVALID: refused("an OCI image layout that is malformed or unsafe"),
  ARCHIVE_INVALID: refused("an archive that is malformed or unsafe"),
  IMAGE_MISSING: refused("the runtime holds no image of that name"),
  IMAGE_MISMATCH: refused("the runtime's image is not the verified one (modified or re-tagged)"),
  IMAGE_CONTENT_MISMATCH: refused(
    "the runtime's copy of the image does not match its verified content",
  ),
  NOT_INSTALLED: refused(
    "no verified installation of the image is recorded and the runtime holds none",
  ),
  LOCAL_STATE_TAMPERED: refused(
    "local state we would trust (install record, rollback state, last_log_index) is corrupt or does not match itself; treated as tampered, never as absent",
  ),

  // --- failure ---
  NETWORK: failure("the network could not be reached or a request timed out"),
  REGISTRY: failure("the registry answered with an error status"),
  NOT_FOUND: failure("no such image, tag or blob in the registry, or a path that does not exist"),
  UNAUTHORIZED: failure("the registry refused our credentials"),
  IO: failure("reading or writing local files failed"),
  NO_SPACE: failure("no space left on the device"),
  PERMISSION_DENIED: failure("a Deno permission or an OS permission was denied"),
  RUNTIME: failure("a container runtime (podman, docker) failed"),
  KEY_DECRYPT: failure(
    "a private key that cannot be decrypted (wrong password, or the key was altered)",
  ),
  PKCS11: failure("a PKCS#11 token or module failed or refused"),
  NOT_IMPLEMENTED: failure("a capability that is not built yet"),
  INTERNAL: failure("an unexpected error (a bug: rerun with --debug and report it)"),

  // --- interrupted ---
  INTERRUPTED: { category: "interrupted", description: "SIGINT / SIGTERM stopped the work" },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A code of the catalogue. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes of one category, e.g. `CodeOf<"refused">`. */
export type CodeOf<C extends ErrorCategory> = {
  [K in ErrorCode]: (typeof ERROR_CODES)[K]["category"] extends C ? K : never;
}[ErrorCode];

/** A code that refuses the input (what {@linkcode VerificationError} and `refuse` take). */
export type RefusalCode = CodeOf<"refused">;

/** The category of `code`. */
export function categoryOf(code: ErrorCode): ErrorCategory {
  return ERROR_CODES[code].category;
}

/** Is `s` a code of the catalogue? */
export function isErrorCode(s: string): s is ErrorCode {
  return Object.hasOwn(ERROR_CODES, s);
}
