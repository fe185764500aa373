/**
 * The signature verification core: cosign signatures (simple signing) and
 * attestations (DSSE), verified fully offline with `@sigstore/verify`
 * against the trusted root and either the trusted key or a Fulcio
 * certificate plus an identity policy. On top of the library it:
 *
 * - requires a transparency-log entry by default (Rekor SET checked against
 *   the trusted root's log keys valid at the integrated time);
 * - re-checks that the Rekor entry body names this very signature, payload
 *   hash and key / certificate (the library checks signature and hash);
 * - binds a signature to the image: the simple-signing payload's
 *   `critical.type` is `cosign container image signature` and
 *   `critical.image.docker-manifest-digest` equals the expected digest.
 *
 * The verifier, the translation of the library's errors and the Deno verify
 * shim are `lib/sigstore/adapter.ts`'s.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import {
  refuseSigstoreError,
  type Signer,
  toSignedEntity,
  type VerificationPolicy,
  verifyEntity,
} from "../sigstore/adapter.ts";
import type { Bundle } from "../npm/sigstore_bundle.ts";
import {
  type RefusalCode,
  refuse,
  SignatureFormatError,
  VerificationError,
} from "../errors/errors.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import type { TrustedKey } from "../trust/trusted_key.ts";
import { encodeBase64 } from "../encoding/base64.ts";
import {
  cosignAttestationToBundle,
  cosignSignatureToBundle,
  type SignerMaterial,
} from "./bundle_convert.ts";
import { parseCosignListEntries, type ParsedEntry } from "./cosign_list.ts";
import { isRecord } from "../json/record.ts";
import { type IdentityPolicy, toVerificationPolicy } from "../sigstore/identity.ts";
import type { CosignAttestation, CosignSignature, RekorBundle } from "./model.ts";
import { isDigest } from "../digest/digest.ts";

/** `critical.type` of a cosign image signature payload. */
const COSIGN_SIGNATURE_TYPE = "cosign container image signature";

/** What to trust and what to require. */
export interface VerifyOptions {
  /** The trusted root (Rekor keys, Fulcio CAs, CT logs, TSAs). */
  trustedRoot: LoadedTrustedRoot;
  /** Trusted key: the signature must verify with it. Exclusive with `identity`. */
  key?: TrustedKey;
  /** Keyless: a Fulcio certificate chained to the root, with this identity. */
  identity?: IdentityPolicy;
  /** Require a transparency-log entry (default true). */
  requireTlog?: boolean;
}

/** Where the signature was logged. */
export interface TlogInfo {
  /** Log ID, lowercase hex. */
  logID: string;
  logIndex: number;
  /** Seconds since the epoch. */
  integratedTime: number;
  /** Rekor entry kind / apiVersion (e.g. `hashedrekord` / `0.0.1`). */
  kind: string;
  kindVersion: string;
}

/** Who signed. */
export type SignerInfo =
  | { type: "key"; keyId: string; source: string }
  | { type: "certificate"; subjectAlternativeName?: string; issuer?: string };

/** A cosign signature that verified and is bound to `digest`. */
export interface VerifiedSignature {
  /** The image digest the payload names (= the expected digest). */
  digest: string;
  /** `critical.identity.docker-reference` of the payload, if any. */
  dockerReference?: string;
  /** Undefined only when `requireTlog: false` and no entry was attached. */
  tlog?: TlogInfo;
  signer: SignerInfo;
  /** The signature itself (for storing). */
  signature: CosignSignature;
}

/** A verified attestation. */
export interface VerifiedAttestation {
  payloadType: string;
  /** The parsed DSSE payload (an in-toto statement for `application/vnd.in-toto+json`). */
  statement: unknown;
  tlog?: TlogInfo;
  signer: SignerInfo;
}

/** Per-signature outcome in a list. */
export type SignatureReport =
  | { index: number; ok: true; result: VerifiedSignature }
  | { index: number; ok: false; code: RefusalCode; reason: string };

/** Outcome of a whole list: `ok` only when it is non-empty and every entry verified. */
export interface ListVerification {
  ok: boolean;
  reports: SignatureReport[];
}

function runVerifier(
  bundle: Bundle,
  artifact: Uint8Array | undefined,
  opts: VerifyOptions,
  withTlog: boolean,
  policy: VerificationPolicy | undefined,
): Signer {
  let entity;
  try {
    entity = toSignedEntity(bundle, artifact ? Buffer.from(artifact) : undefined);
  } catch (e) {
    refuseSigstoreError(e, { withKey: opts.key !== undefined, log: "Rekor" });
  }
  const thresholds = withTlog ? {} : { tlogThreshold: 0, timestampThreshold: 0 };
  return verifyEntity(
    entity,
    { trustedRoot: opts.trustedRoot, key: opts.key, thresholds },
    policy,
    { withKey: opts.key !== undefined, log: "Rekor" },
  );
}

function tlogInfo(b: RekorBundle): TlogInfo {
  return {
    logID: b.logID,
    logIndex: b.logIndex,
    integratedTime: b.integratedTime,
    kind: b.kind,
    kindVersion: b.kindVersion,
  };
}

function signerInfo(opts: VerifyOptions, signer: Signer): SignerInfo {
  if (opts.key) return { type: "key", keyId: opts.key.keyId, source: opts.key.source };
  return {
    type: "certificate",
    subjectAlternativeName: signer.identity?.subjectAlternativeName,
    issuer: signer.identity?.extensions?.issuer,
  };
}

function checkMode(opts: VerifyOptions): void {
  if (!opts.key === !opts.identity) {
    throw new TypeError("verify: pass exactly one of `key` or `identity`");
  }
}

function signerMaterial(
  opts: VerifyOptions,
  certificate: Uint8Array | undefined,
): SignerMaterial {
  if (opts.key) return { keyHint: opts.key.keyId };
  if (!certificate) {
    refuse("CERTIFICATE_MISSING", "keyless verification needs a certificate and there is none");
  }
  return { certificate };
}

function bodyOf(b: RekorBundle): Record<string, unknown> {
  const body = JSON.parse(new TextDecoder().decode(b.body));
  return isRecord(body) ? body : {};
}

function pemDecode(b64pem: unknown): string | undefined {
  if (typeof b64pem !== "string") return undefined;
  return Buffer.from(b64pem, "base64").toString("utf8");
}

function sameSigner(pem: string | undefined, opts: VerifyOptions, cert?: Uint8Array): boolean {
  if (pem === undefined) return false;
  try {
    if (opts.key) {
      const der = crypto.createPublicKey(pem).export({ format: "der", type: "spki" });
      return Buffer.compare(der, Buffer.from(opts.key.spki)) === 0;
    }
    const der = new crypto.X509Certificate(pem).raw;
    return cert !== undefined && Buffer.compare(der, Buffer.from(cert)) === 0;
  } catch {
    return false;
  }
}

/**
 * Belt and braces over the library's body check: the hashedrekord entry must
 * hold this exact signature, the sha256 of this payload, and the trusted key
 * (or this certificate).
 */
function checkHashedRekordBody(sig: CosignSignature, opts: VerifyOptions): void {
  const b = sig.bundle!;
  if (b.kind !== "hashedrekord" || b.kindVersion !== "0.0.1") {
    refuse(
      "TLOG_MISMATCH",
      `unsupported Rekor entry ${b.kind}/${b.kindVersion} for a cosign signature`,
    );
  }
  const spec = bodyOf(b).spec as {
    data?: { hash?: { algorithm?: unknown; value?: unknown } };
    signature?: { content?: unknown; publicKey?: { content?: unknown } };
  } | undefined;
  const payloadHash = crypto.createHash("sha256").update(sig.payload).digest("hex");
  if (spec?.data?.hash?.algorithm !== "sha256" || spec.data.hash.value !== payloadHash) {
    refuse("TLOG_MISMATCH", "the Rekor entry is for another payload");
  }
  if (spec.signature?.content !== encodeBase64(sig.signature)) {
    refuse("TLOG_MISMATCH", "the Rekor entry is for another signature");
  }
  if (!sameSigner(pemDecode(spec.signature?.publicKey?.content), opts, sig.certificate)) {
    refuse("TLOG_MISMATCH", "the Rekor entry names another key or certificate");
  }
}

function checkDsseBody(att: CosignAttestation, opts: VerifyOptions): void {
  const b = att.bundle!;
  const body = bodyOf(b);
  if (b.kind === "dsse") {
    const sigs = (body.spec as { signatures?: { verifier?: unknown }[] } | undefined)?.signatures;
    if (
      !Array.isArray(sigs) || sigs.length !== 1 ||
      !sameSigner(pemDecode(sigs[0].verifier), opts, att.certificate)
    ) {
      refuse("TLOG_MISMATCH", "the Rekor entry names another key or certificate");
    }
  } else if (b.kind !== "intoto") {
    refuse(
      "TLOG_MISMATCH",
      `unsupported Rekor entry ${b.kind}/${b.kindVersion} for an attestation`,
    );
  }
}

/** The parsed simple-signing payload, bound to `digest`. */
function checkPayloadBinding(
  payload: Uint8Array,
  digest: string,
): { dockerReference?: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch {
    refuse("PAYLOAD_INVALID", "the signed payload is not simple-signing JSON");
  }
  const critical = isRecord(doc) ? doc.critical : undefined;
  if (!isRecord(critical)) {
    refuse("PAYLOAD_INVALID", "the signed payload has no 'critical' section");
  }
  if (critical.type !== COSIGN_SIGNATURE_TYPE) {
    refuse(
      "PAYLOAD_INVALID",
      `the signed payload type is ${JSON.stringify(critical.type)}, not '${COSIGN_SIGNATURE_TYPE}'`,
    );
  }
  const image = critical.image;
  const signed = isRecord(image) ? image["docker-manifest-digest"] : undefined;
  if (typeof signed !== "string") {
    refuse("PAYLOAD_INVALID", "the signed payload names no docker-manifest-digest");
  }
  if (signed !== digest) {
    refuse("DIGEST_NOT_SIGNED", `the signature covers ${signed}, not ${digest}`);
  }
  const identity = critical.identity;
  const ref = isRecord(identity) ? identity["docker-reference"] : undefined;
  return typeof ref === "string" ? { dockerReference: ref } : {};
}

/**
 * Verify one cosign signature for `digest` (`sha256:<hex>`).
 * @returns the verified signature, bound to `digest`.
 * @throws VerificationError (exit 1) with a specific `code` and reason.
 */
export function verifyCosignSignature(
  sig: CosignSignature,
  digest: string,
  opts: VerifyOptions,
): VerifiedSignature {
  checkMode(opts);
  if (!isDigest(digest)) throw new TypeError(`not a sha256 digest: ${digest}`);
  const withTlog = opts.requireTlog !== false;
  if (withTlog && !sig.bundle) {
    refuse(
      "TLOG_MISSING",
      "the signature has no transparency-log entry (Bundle is empty); entries are required",
    );
  }
  const bundle = cosignSignatureToBundle(sig, signerMaterial(opts, sig.certificate));
  const policy = opts.identity ? toVerificationPolicy(opts.identity) : undefined;
  const signer = runVerifier(bundle, sig.payload, opts, withTlog, policy);
  if (sig.bundle) checkHashedRekordBody(sig, opts);
  const { dockerReference } = checkPayloadBinding(sig.payload, digest);
  return {
    digest,
    ...(dockerReference ? { dockerReference } : {}),
    ...(sig.bundle ? { tlog: tlogInfo(sig.bundle) } : {}),
    signer: signerInfo(opts, signer),
    signature: sig,
  };
}

/**
 * Verify every signature of a list (parsed or not) for `digest`; never stops
 * at the first failure, so each one gets its reason.
 */
export function verifyCosignSignatures(
  entries: readonly (CosignSignature | ParsedEntry)[],
  digest: string,
  opts: VerifyOptions,
): ListVerification {
  const reports: SignatureReport[] = entries.map((e, index) => {
    if ("ok" in e && !e.ok) {
      return { index, ok: false, code: e.error.code, reason: e.error.message };
    }
    const sig = "ok" in e ? e.signature : e;
    try {
      return { index, ok: true, result: verifyCosignSignature(sig, digest, opts) };
    } catch (err) {
      if (err instanceof VerificationError) {
        return { index, ok: false, code: err.code, reason: err.message };
      }
      throw err;
    }
  });
  return { ok: reports.length > 0 && reports.every((r) => r.ok), reports };
}

/**
 * Parse a `cosign download signature` document and verify it for `digest`.
 * @throws SignatureFormatError only when the document is not a JSON list.
 */
export function verifySignatureListText(
  text: string,
  digest: string,
  opts: VerifyOptions,
): ListVerification {
  return verifyCosignSignatures(parseCosignListEntries(text), digest, opts);
}

/**
 * The in-toto `statement` must list a subject whose `sha256` is `digest`.
 * @throws VerificationError `SUBJECT_MISMATCH`
 */
export function requireSubject(statement: unknown, digest: string): void {
  const hex = digest.replace(/^sha256:/, "");
  const subjects = isRecord(statement) && Array.isArray(statement.subject) ? statement.subject : [];
  const found = subjects.some((s) => isRecord(s) && isRecord(s.digest) && s.digest.sha256 === hex);
  if (!found) refuse("SUBJECT_MISMATCH", `the attestation is not about ${digest}`);
}

/**
 * Verify one cosign attestation (DSSE). Keyless needs `identity`; with `key`
 * the envelope must be signed by that key. When `subjectDigest` is given, the
 * in-toto statement must list a subject with that `sha256` digest.
 * @throws VerificationError
 */
export function verifyCosignAttestation(
  att: CosignAttestation,
  opts: VerifyOptions & { subjectDigest?: string },
): VerifiedAttestation {
  checkMode(opts);
  const withTlog = opts.requireTlog !== false;
  if (withTlog && !att.bundle) {
    refuse("TLOG_MISSING", "the attestation has no transparency-log entry; entries are required");
  }
  const bundle = cosignAttestationToBundle(att, signerMaterial(opts, att.certificate));
  const policy = opts.identity ? toVerificationPolicy(opts.identity) : undefined;
  const signer = runVerifier(bundle, undefined, opts, withTlog, policy);
  if (att.bundle) checkDsseBody(att, opts);
  let statement: unknown;
  try {
    statement = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(att.envelope.payload));
  } catch (cause) {
    throw new SignatureFormatError("the attestation payload is not JSON", { cause });
  }
  if (opts.subjectDigest !== undefined) requireSubject(statement, opts.subjectDigest);
  return {
    payloadType: att.envelope.payloadType,
    statement,
    ...(att.bundle ? { tlog: tlogInfo(att.bundle) } : {}),
    signer: signerInfo(opts, signer),
  };
}
