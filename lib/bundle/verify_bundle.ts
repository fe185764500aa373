/**
 * Verify a Sigstore bundle (v0.1–v0.3; message signature or DSSE envelope;
 * Rekor v1 and v2 entries; RFC 3161 timestamps) for a file or a `sha256:`
 * digest, fully offline, with `@sigstore/verify`. On top of the library:
 *
 * - the trusted root goes through `parseTrustedRoot` (a transparency log
 *   without `validFor.start` is refused);
 * - the bundle must match the mode: `--key` needs a public-key bundle,
 *   keyless needs a certificate (the library would otherwise trust a Fulcio
 *   certificate when the user asked for a key, or look up a key by hint);
 * - message signature for a file: the bundle's `messageDigest` must be the
 *   file's digest; for a `sha256:` digest: the bundle's `messageDigest` must
 *   equal it and the signature is checked over the digest
 *   (`prehashed.ts`, the same thing sigstore-js' conformance client does;
 *   ECDSA only: other keys are a usage error, pass the file);
 * - DSSE: exactly one signature, an in-toto statement of known `_type`
 *   whose subjects include the artifact's SHA-256;
 * - every transparency-log entry body names this signer, this signature and
 *   this digest (`tlog_body.ts`, including Rekor v2 hashedrekord-over-DSSE);
 * - identities are exact: escaped and anchored (`toVerificationPolicy`).
 *
 * Thresholds: keyless requires one verified transparency-log entry, one SCT
 * and one verified timestamp (Rekor integrated time or RFC 3161). With a
 * trusted key, a transparency-log entry is required whenever the trusted
 * root lists a transparency log; certificate-validity timestamps do not
 * apply. Entries and timestamps present in a bundle are always verified.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import { type Bundle, bundleFromJSON } from "../npm/sigstore_bundle.ts";
import { dsse } from "../npm/sigstore_core.ts";
import { HashAlgorithm } from "../npm/sigstore_protobuf_specs.ts";
import {
  type SignedEntity,
  type Signer,
  toSignedEntity,
  verifyEntity,
} from "../sigstore/adapter.ts";
import { refuse, SignatureFormatError, UsageError, VerificationError } from "../errors/errors.ts";
import { type IdentityPolicy, issuerAccepted, toVerificationPolicy } from "../sigstore/identity.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import type { TrustedKey } from "../trust/trusted_key.ts";
import type { Artifact } from "./artifact.ts";
import { assertPrehashKeySupported, prehashKeySupported, verifyPrehashed } from "./prehashed.ts";
import { checkStatementSubject } from "./statement.ts";
import { checkTlogBodies, type SignedContent, type SignerIdentity } from "./tlog_body.ts";
import { authenticatedEntries, earliestTimestamp } from "./tlog_position.ts";

/** What to trust. Exactly one of `key` or `identity`. */
export interface BundleVerifyOptions {
  trustedRoot: LoadedTrustedRoot;
  /** The trusted public key (`--key`). */
  key?: TrustedKey;
  /** Keyless: the exact certificate identity and issuer. */
  identity?: IdentityPolicy;
}

/** One verified transparency-log entry, as far as it is authenticated (`tlog_position.ts`). */
export interface BundleTlogInfo {
  /** Log ID, lowercase hex. */
  logID: string;
  /** The entry's index (equal to its inclusion proof's, when it has one). */
  logIndex: string;
  /**
   * Seconds since the epoch, only when a signed entry timestamp covers it;
   * 0 otherwise (a proof-only entry, e.g. Rekor v2: its time is unauthenticated).
   */
  integratedTime: number;
  kind: string;
  kindVersion: string;
}

/** A bundle that verified for the artifact. */
export interface VerifiedBundle {
  mediaType: string;
  content: "messageSignature" | "dsseEnvelope";
  signer:
    | { type: "key"; keyId: string; source: string }
    | { type: "certificate"; subjectAlternativeName?: string; issuer?: string };
  tlog: BundleTlogInfo[];
  /** Number of RFC 3161 timestamps in the bundle (all verified). */
  rfc3161Timestamps: number;
  /** Earliest verified RFC 3161 signing time (seconds), if any. */
  rfc3161Time?: number;
  /** DSSE only: the in-toto statement. */
  statement?: Record<string, unknown>;
}

const HASHES: Partial<Record<HashAlgorithm, string>> = {
  [HashAlgorithm.SHA2_256]: "sha256",
  [HashAlgorithm.SHA2_384]: "sha384",
  [HashAlgorithm.SHA2_512]: "sha512",
};

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/**
 * Parse a bundle's JSON with `@sigstore/bundle` (checks the shape for its
 * media type).
 * @throws SignatureFormatError (exit 1).
 */
export function parseBundle(json: unknown): Bundle {
  try {
    return bundleFromJSON(json);
  } catch (cause) {
    throw new SignatureFormatError(
      `not a valid Sigstore bundle: ${(cause as Error).message ?? cause}`,
      { cause },
    );
  }
}

function leafCertificate(bundle: Bundle): Uint8Array | undefined {
  const m = bundle.verificationMaterial.content;
  if (m.$case === "certificate") return new Uint8Array(m.certificate.rawBytes);
  if (m.$case === "x509CertificateChain") {
    const first = m.x509CertificateChain.certificates[0];
    return first ? new Uint8Array(first.rawBytes) : undefined;
  }
  return undefined;
}

/** The signer named by the options, checked against the bundle's verification material. */
function signerIdentity(bundle: Bundle, opts: BundleVerifyOptions): SignerIdentity {
  const material = bundle.verificationMaterial.content.$case;
  if (opts.key) {
    if (material !== "publicKey") {
      refuse("SIGNER_MISMATCH", "a key was given but the bundle is signed with a certificate");
    }
    return { spki: opts.key.spki };
  }
  const cert = leafCertificate(bundle);
  if (!cert) {
    refuse(
      "SIGNER_MISMATCH",
      "a certificate identity was given but the bundle is signed with a key",
    );
  }
  return { certificate: cert };
}

/** Signature content for a message signature known only by its SHA-256 digest. */
function digestSignatureContent(
  base: SignedEntity["signature"],
  digest: Uint8Array,
): SignedEntity["signature"] {
  return {
    signature: base.signature,
    compareSignature: (s) => base.compareSignature(s),
    compareDigest: (d) => base.compareDigest(d),
    compareSignedDigest: (d) => base.compareSignedDigest(d),
    verifySignature: (key) => verifyPrehashed(key, "sha256", digest, base.signature),
  };
}

interface Prepared {
  entity: SignedEntity;
  content: SignedContent;
  statement?: Record<string, unknown>;
}

/** The key the signature must verify under: the trusted key, or the leaf certificate's. */
function signingKey(bundle: Bundle, opts: BundleVerifyOptions): crypto.KeyObject | undefined {
  if (opts.key) return opts.key.publicKey;
  const cert = leafCertificate(bundle);
  try {
    return cert ? new crypto.X509Certificate(cert).publicKey : undefined;
  } catch {
    return undefined; // the verifier refuses a malformed certificate
  }
}

function prepareMessage(bundle: Bundle, artifact: Artifact, opts: BundleVerifyOptions): Prepared {
  if (bundle.content.$case !== "messageSignature") throw new Error("unreachable");
  const ms = bundle.content.messageSignature;
  const algorithm = HASHES[ms.messageDigest?.algorithm ?? HashAlgorithm.HASH_ALGORITHM_UNSPECIFIED];
  const recorded = new Uint8Array(ms.messageDigest?.digest ?? []);
  if (!algorithm) {
    refuse("SIGNATURE_MALFORMED", "the bundle's message digest algorithm is not supported");
  }
  const content: SignedContent = {
    type: "message",
    signature: new Uint8Array(ms.signature),
    signedDigest: { algorithm, digest: recorded },
  };
  if (artifact.kind === "file") {
    const actual = new Uint8Array(crypto.createHash(algorithm).update(artifact.bytes).digest());
    if (!same(actual, recorded)) {
      refuse("DIGEST_MISMATCH", "the bundle's message digest is not the artifact's digest");
    }
    return { entity: toSignedEntity(bundle, Buffer.from(artifact.bytes)), content };
  }
  const key = signingKey(bundle, opts);
  if (key && opts.key) assertPrehashKeySupported(key); // the user's --key: a usage error
  else if (key && !prehashKeySupported(key)) {
    // The bundle's own (not yet verified) certificate: its key type is the sender's choice.
    refuse(
      "BUNDLE_INVALID",
      "the bundle's certificate key cannot be checked against a sha256 digest alone",
      { hint: "pass the artifact file instead of its digest" },
    );
  }
  if (algorithm !== "sha256" || !same(artifact.sha256, recorded)) {
    refuse("DIGEST_MISMATCH", "the bundle's message digest is not the given sha256 digest");
  }
  const entity = toSignedEntity(bundle);
  entity.signature = digestSignatureContent(entity.signature, artifact.sha256);
  return { entity, content };
}

function prepareDsse(bundle: Bundle, artifact: Artifact): Prepared {
  if (bundle.content.$case !== "dsseEnvelope") throw new Error("unreachable");
  const env = bundle.content.dsseEnvelope;
  if (env.signatures.length !== 1) {
    refuse("SIGNATURE_MALFORMED", "the DSSE envelope must hold exactly one signature");
  }
  const statement = checkStatementSubject(
    env.payloadType,
    new Uint8Array(env.payload),
    Buffer.from(artifact.sha256).toString("hex"),
  );
  const pae = dsse.preAuthEncoding(env.payloadType, env.payload);
  const content: SignedContent = {
    type: "dsse",
    signature: new Uint8Array(env.signatures[0].sig),
    signedDigest: {
      algorithm: "sha256",
      digest: new Uint8Array(crypto.createHash("sha256").update(pae).digest()),
    },
    payloadSha256: new Uint8Array(crypto.createHash("sha256").update(env.payload).digest()),
  };
  return { entity: toSignedEntity(bundle), content, statement };
}

function runVerifier(entity: SignedEntity, opts: BundleVerifyOptions): Signer {
  const policy = opts.identity ? toVerificationPolicy(opts.identity) : undefined;
  const key = opts.key;
  const thresholds = key
    ? {
      tlogThreshold: (opts.trustedRoot.root.tlogs?.length ?? 0) > 0 ? 1 : 0,
      ctlogThreshold: 0,
      timestampThreshold: 0,
    }
    : {};
  const signer = verifyEntity(entity, { trustedRoot: opts.trustedRoot, key, thresholds }, policy);
  const issuer = signer.identity?.extensions?.issuer;
  if (opts.identity && !issuerAccepted(opts.identity, issuer)) {
    refuse(
      "IDENTITY_MISMATCH",
      `the certificate's OIDC issuer ${issuer ?? "(none)"} is not accepted`,
    );
  }
  return signer;
}

/**
 * Verify `bundle` (JSON or parsed) for `artifact`.
 * @throws VerificationError (exit 1) with a specific code; SignatureFormatError
 *   for a malformed bundle; UsageError (exit 2) for a digest and a key that
 *   cannot verify from one; TypeError when not exactly one of key / identity.
 */
export function verifyBundle(
  bundleJson: unknown,
  artifact: Artifact,
  opts: BundleVerifyOptions,
): VerifiedBundle {
  if (!opts.key === !opts.identity) {
    throw new TypeError("verifyBundle: pass exactly one of `key` or `identity`");
  }
  const bundle = parseBundle(bundleJson);
  const signer = signerIdentity(bundle, opts);
  let prepared: Prepared;
  try {
    prepared = bundle.content.$case === "messageSignature"
      ? prepareMessage(bundle, artifact, opts)
      : prepareDsse(bundle, artifact);
  } catch (e) {
    if (e instanceof VerificationError || e instanceof UsageError) throw e;
    // e.g. an RFC 3161 timestamp that does not parse
    throw new SignatureFormatError(`malformed bundle: ${(e as Error).message ?? e}`, { cause: e });
  }
  const verified = runVerifier(prepared.entity, opts);
  checkTlogBodies(bundle.verificationMaterial.tlogEntries, prepared.content, signer);
  const timestamps = bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps ??
    [];
  const rfc3161Time = earliestTimestamp(timestamps);
  const tlog = authenticatedEntries(
    bundle.verificationMaterial.tlogEntries,
    opts.trustedRoot.root,
    rfc3161Time,
  );
  return {
    mediaType: bundle.mediaType,
    content: bundle.content.$case,
    signer: opts.key ? { type: "key", keyId: opts.key.keyId, source: opts.key.source } : {
      type: "certificate",
      subjectAlternativeName: verified.identity?.subjectAlternativeName,
      issuer: verified.identity?.extensions?.issuer,
    },
    tlog,
    rfc3161Timestamps: timestamps.length,
    ...(rfc3161Time !== undefined ? { rfc3161Time } : {}),
    ...(prepared.statement ? { statement: prepared.statement } : {}),
  };
}
