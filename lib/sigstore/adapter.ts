/**
 * The one adapter to `@sigstore/verify`: every product verification goes
 * through here, so there is
 *
 * - one verifier factory ({@linkcode verifierFor}), with a cache per trusted
 *   root (building trust material parses every root key and CA);
 * - one error translation ({@linkcode refuseSigstoreError}) from the
 *   library's codes to ours, with one message text per code;
 * - one place that installs the Deno `node:crypto` verify shim
 *   (`lib/crypto/node_verify_shim.ts`), before the first verifier is used;
 * - one import of the library's private `dist/tlog` path
 *   ({@linkcode verifyTlogInclusion}: the public API has no way to check an
 *   inclusion promise on its own, which the `intoto` 0.0.1 path needs).
 *
 * @module
 */

import {
  PolicyError,
  type SignedEntity,
  type Signer,
  toSignedEntity,
  toTrustMaterial,
  type TrustMaterial,
  VerificationError as SigstoreVerificationError,
  type VerificationPolicy,
  Verifier,
  type VerifierOptions,
} from "../npm/sigstore_verify.ts";
import { verifyTLogInclusion } from "../npm/sigstore_verify_tlog.ts";
import type { TransparencyLogEntry } from "../npm/sigstore_bundle.ts";
import { type RefusalCode, VerificationError } from "../errors/errors.ts";
import { installNodeVerifyShim } from "../crypto/node_verify_shim.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import type { TrustedKey } from "../trust/trusted_key.ts";

export { toSignedEntity };
export type { SignedEntity, Signer, VerificationPolicy };

/** Which verifier: the root, the trusted key (absent: keyless) and the thresholds. */
export interface VerifierSpec {
  trustedRoot: LoadedTrustedRoot;
  /** The trusted key; it verifies whatever key hint the bundle claims. */
  key?: TrustedKey;
  /** `@sigstore/verify` thresholds (tlog, ctlog, timestamp); `{}` is the library's default. */
  thresholds: VerifierOptions;
}

let shimInstalled = false;

/** Install the Deno verify shim, once, before anything is verified. */
function ensureShim(): void {
  if (!shimInstalled) shimInstalled = installNodeVerifyShim();
}

const materials = new WeakMap<LoadedTrustedRoot, TrustMaterial>();
const verifiers = new WeakMap<LoadedTrustedRoot, Map<string, Verifier>>();

/** The root's trust material without any key (cached per root). */
function rootMaterial(root: LoadedTrustedRoot): TrustMaterial {
  let m = materials.get(root);
  if (!m) materials.set(root, m = toTrustMaterial(root.root));
  return m;
}

/**
 * The verifier for `spec`, cached per trusted root, key and thresholds (a
 * key's id is the digest of the key, so equal ids are equal keys).
 */
function verifierFor(spec: VerifierSpec): Verifier {
  ensureShim();
  let perRoot = verifiers.get(spec.trustedRoot);
  if (!perRoot) verifiers.set(spec.trustedRoot, perRoot = new Map());
  const t = spec.thresholds;
  const id = [
    spec.key ? `key:${spec.key.keyId}` : "keyless",
    t.tlogThreshold,
    t.ctlogThreshold,
    t.timestampThreshold,
  ].join(":");
  let v = perRoot.get(id);
  if (!v) {
    const key = spec.key;
    const material = toTrustMaterial(spec.trustedRoot.root, () => {
      if (!key) {
        throw new SigstoreVerificationError({
          code: "PUBLIC_KEY_ERROR",
          message: "no trusted key was given",
        });
      }
      // The hint is the bundle's claim; the trusted key is what must verify.
      return { publicKey: key.publicKey, validFor: () => true };
    });
    v = new Verifier(material, t);
    perRoot.set(id, v);
  }
  return v;
}

/** Our code and text for each `@sigstore/verify` error code. */
const REASONS: Record<string, [code: RefusalCode, text: string]> = {
  TLOG_INCLUSION_PROMISE_ERROR: [
    "TLOG_INVALID",
    "the transparency-log signed entry timestamp does not verify with any log key of the trusted root valid at the integrated time",
  ],
  TLOG_INCLUSION_PROOF_ERROR: [
    "TLOG_INVALID",
    "the transparency-log inclusion proof does not verify",
  ],
  TLOG_MISSING_INCLUSION_ERROR: [
    "TLOG_INVALID",
    "a transparency-log entry has no verifiable inclusion",
  ],
  CHECKPOINT_ERROR: ["TLOG_INVALID", "the transparency-log checkpoint does not verify"],
  TLOG_BODY_ERROR: ["TLOG_MISMATCH", "a transparency-log entry is not for this signature"],
  TLOG_ERROR: ["TLOG_INVALID", "transparency-log check failed"],
  SIGNATURE_ERROR: ["SIGNATURE_INVALID", "the signature does not verify"],
  PUBLIC_KEY_ERROR: ["KEY_UNTRUSTED", "not signed with the trusted key"],
  CERTIFICATE_ERROR: ["CERTIFICATE_INVALID", "the certificate is not trusted"],
  TIMESTAMP_ERROR: ["TIMESTAMP_INVALID", "no valid trusted timestamp"],
  UNTRUSTED_SIGNER_ERROR: ["IDENTITY_MISMATCH", "the certificate identity does not match"],
};

/** How to word a refusal. */
export interface RefusalContext {
  /** A trusted key was used: a bad signature "does not verify with the trusted key". */
  withKey?: boolean;
  /** Say this instead of the code's own text (the code stays the code's). */
  what?: string;
  /** The log's name in the text (default "transparency-log"; cosign signatures say "Rekor"). */
  log?: string;
}

/**
 * Throw the {@linkcode VerificationError} for an error `@sigstore/verify`
 * (or code run on its behalf) threw. Our own `VerificationError`s pass
 * through; anything else is `NOT_VERIFIED`.
 * @throws VerificationError, always.
 */
export function refuseSigstoreError(e: unknown, ctx: RefusalContext = {}): never {
  if (e instanceof VerificationError) throw e;
  if (e instanceof SigstoreVerificationError || e instanceof PolicyError) {
    const code = (e as { code?: string }).code ?? "";
    let [ours, text] = REASONS[code] ?? ["NOT_VERIFIED", "verification failed"];
    if (code === "SIGNATURE_ERROR" && ctx.withKey) text = `${text} with the trusted key`;
    if (ctx.log) text = text.replace("transparency-log", ctx.log);
    throw new VerificationError(ours, `${ctx.what ?? text} (${e.message})`, { cause: e });
  }
  throw new VerificationError(
    "NOT_VERIFIED",
    `${ctx.what ?? "verification failed"}: ${(e as Error)?.message ?? e}`,
    { cause: e },
  );
}

/**
 * Verify `entity` with the verifier for `spec` and `policy`.
 * @returns the verified signer.
 * @throws VerificationError (translated by {@linkcode refuseSigstoreError}).
 */
export function verifyEntity(
  entity: SignedEntity,
  spec: VerifierSpec,
  policy?: VerificationPolicy,
  ctx: RefusalContext = { withKey: spec.key !== undefined },
): Signer {
  try {
    return verifierFor(spec).verify(entity, policy);
  } catch (e) {
    refuseSigstoreError(e, ctx);
  }
}

/**
 * Check one entry's inclusion promise (signed entry timestamp) against the
 * root's transparency-log keys valid at its integrated time, and nothing
 * else (not its body).
 * @throws VerificationError
 */
export function verifyTlogInclusion(
  entry: TransparencyLogEntry,
  root: LoadedTrustedRoot,
  ctx: RefusalContext = {},
): void {
  ensureShim();
  try {
    verifyTLogInclusion(entry, rootMaterial(root).tlogs);
  } catch (e) {
    refuseSigstoreError(e, ctx);
  }
}
