/**
 * Belt-and-braces checks of transparency-log entry bodies, on top of
 * `@sigstore/verify`'s own.
 *
 * `@sigstore/verify@4.1.3` compares a body's signature and digest with the
 * bundle (for a DSSE envelope logged as a `hashedrekord`, the digest of the
 * DSSE pre-authentication encoding, through `compareSignedDigest`), but never
 * looks at the key or certificate the entry names. Here every `hashedrekord`
 * (0.0.1, Rekor v1; 0.0.2, Rekor v2) and `dsse` (0.0.1, 0.0.2) entry must
 * name exactly the signer being verified (the trusted key's SPKI, or the
 * bundle's leaf certificate) and hold this signature and this digest:
 *
 * - message signature: `hashedrekord` only, digest = the bundle's
 *   `messageDigest`;
 * - DSSE envelope: `hashedrekord` whose digest is SHA-256 of the envelope's
 *   PAE (computed with `@sigstore/core`'s `dsse.preAuthEncoding`, the bytes
 *   the signature covers: "hashedrekord-over-DSSE"), or `dsse` whose payload
 *   hash is SHA-256 of the payload, or `intoto` (left to the library: its
 *   body nests the envelope, and the library compares signature and payload
 *   hash).
 *
 * Anything else is refused.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import type { TransparencyLogEntry } from "../npm/sigstore_bundle.ts";
import { VerificationError } from "../errors/errors.ts";
import { isRecord } from "../json/record.ts";

/** What the signature covers, as the log entry must record it. */
export interface SignedContent {
  /** `message` (hashedrekord only) or `dsse`. */
  type: "message" | "dsse";
  /** The raw signature bytes. */
  signature: Uint8Array;
  /** Digest of the bytes the signature covers (artifact, or DSSE PAE). */
  signedDigest: { algorithm: string; digest: Uint8Array };
  /** DSSE only: SHA-256 of the envelope payload. */
  payloadSha256?: Uint8Array;
}

/** Who signed: the trusted key (DER SPKI) or the bundle's leaf certificate (DER). */
export type SignerIdentity = { spki: Uint8Array } | { certificate: Uint8Array };

/** Rekor v2 (protobuf JSON) hash algorithm names. */
const V2_ALGORITHMS: Readonly<Record<string, string>> = {
  SHA2_256: "sha256",
  SHA2_384: "sha384",
  SHA2_512: "sha512",
};

function mismatch(message: string): never {
  throw new VerificationError("TLOG_MISMATCH", message);
}

function same(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && crypto.timingSafeEqual(a, b);
}

function b64(v: unknown): Uint8Array | undefined {
  if (typeof v !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) return undefined;
  return new Uint8Array(Buffer.from(v, "base64"));
}

function hex(v: unknown): Uint8Array | undefined {
  if (typeof v !== "string" || !/^(?:[0-9a-fA-F]{2})*$/.test(v)) return undefined;
  return new Uint8Array(Buffer.from(v, "hex"));
}

function rec(v: unknown): Record<string, unknown> {
  return isRecord(v) ? v : {};
}

/** Does a PEM (public key or certificate, base64-wrapped as Rekor v1 stores it) name the signer? */
function pemNamesSigner(b64pem: unknown, signer: SignerIdentity): boolean {
  const bytes = b64(b64pem);
  if (!bytes) return false;
  const text = Buffer.from(bytes).toString("utf8");
  try {
    if ("spki" in signer) {
      if (!text.includes("-----BEGIN PUBLIC KEY-----")) return false;
      const der = crypto.createPublicKey(text).export({ format: "der", type: "spki" });
      return same(new Uint8Array(der), signer.spki);
    }
    if (!text.includes("-----BEGIN CERTIFICATE-----")) return false;
    return same(new Uint8Array(new crypto.X509Certificate(text).raw), signer.certificate);
  } catch {
    return false;
  }
}

/** Does a Rekor v2 `Verifier` (`{publicKey: {rawBytes}}` / `{x509Certificate: {rawBytes}}`) name the signer? */
function v2VerifierNamesSigner(verifier: unknown, signer: SignerIdentity): boolean {
  const v = rec(verifier);
  if ("spki" in signer) {
    const der = b64(rec(v.publicKey).rawBytes);
    if (!der) return false;
    try {
      const spki = crypto.createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" })
        .export({ format: "der", type: "spki" });
      return same(new Uint8Array(spki), signer.spki);
    } catch {
      return false;
    }
  }
  return same(b64(rec(v.x509Certificate).rawBytes), signer.certificate);
}

function checkDigest(
  algorithm: string | undefined,
  digest: Uint8Array | undefined,
  want: { algorithm: string; digest: Uint8Array },
  what: string,
): void {
  if (algorithm !== want.algorithm || !same(digest, want.digest)) {
    mismatch(`the transparency-log entry records another ${what}`);
  }
}

function checkSignature(sig: Uint8Array | undefined, content: SignedContent): void {
  if (!same(sig, content.signature)) {
    mismatch("the transparency-log entry records another signature");
  }
}

function checkHashedRekordV1(spec: Record<string, unknown>, c: SignedContent, s: SignerIdentity) {
  const hash = rec(rec(spec.data).hash);
  checkDigest(
    typeof hash.algorithm === "string" ? hash.algorithm : undefined,
    hex(hash.value),
    c.signedDigest,
    "digest",
  );
  const sig = rec(spec.signature);
  checkSignature(b64(sig.content), c);
  if (!pemNamesSigner(rec(sig.publicKey).content, s)) {
    mismatch("the transparency-log entry names another key or certificate");
  }
}

function checkHashedRekordV2(spec: Record<string, unknown>, c: SignedContent, s: SignerIdentity) {
  const inner = rec(spec.hashedRekordV002);
  const data = rec(inner.data);
  checkDigest(V2_ALGORITHMS[String(data.algorithm)], b64(data.digest), c.signedDigest, "digest");
  const sig = rec(inner.signature);
  checkSignature(b64(sig.content), c);
  if (!v2VerifierNamesSigner(sig.verifier, s)) {
    mismatch("the transparency-log entry names another key or certificate");
  }
}

function payloadDigest(c: SignedContent) {
  return { algorithm: "sha256", digest: c.payloadSha256 ?? new Uint8Array() };
}

function checkDsseV1(spec: Record<string, unknown>, c: SignedContent, s: SignerIdentity) {
  const ph = rec(spec.payloadHash);
  checkDigest(
    typeof ph.algorithm === "string" ? ph.algorithm : undefined,
    hex(ph.value),
    payloadDigest(c),
    "payload hash",
  );
  const sigs = spec.signatures;
  if (!Array.isArray(sigs) || sigs.length !== 1) {
    mismatch("the transparency-log entry does not hold exactly one signature");
  }
  const one = rec(sigs[0]);
  checkSignature(b64(one.signature), c);
  if (!pemNamesSigner(one.verifier, s)) {
    mismatch("the transparency-log entry names another key or certificate");
  }
}

function checkDsseV2(spec: Record<string, unknown>, c: SignedContent, s: SignerIdentity) {
  const inner = rec(spec.dsseV002);
  const ph = rec(inner.payloadHash);
  checkDigest(
    V2_ALGORITHMS[String(ph.algorithm)],
    b64(ph.digest),
    payloadDigest(c),
    "payload hash",
  );
  const sigs = inner.signatures;
  if (!Array.isArray(sigs) || sigs.length !== 1) {
    mismatch("the transparency-log entry does not hold exactly one signature");
  }
  const one = rec(sigs[0]);
  checkSignature(b64(one.content), c);
  if (!v2VerifierNamesSigner(one.verifier, s)) {
    mismatch("the transparency-log entry names another key or certificate");
  }
}

/**
 * Check one entry's body against the signed content and the signer.
 * @throws VerificationError (`TLOG_MISMATCH`).
 */
export function checkTlogBody(
  entry: TransparencyLogEntry,
  content: SignedContent,
  signer: SignerIdentity,
): void {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(entry.canonicalizedBody).toString("utf8"));
  } catch {
    mismatch("the transparency-log entry body is not JSON");
  }
  const b = rec(body);
  const kind = entry.kindVersion?.kind;
  const version = entry.kindVersion?.version;
  if (b.kind !== kind || b.apiVersion !== version) {
    mismatch(
      `the transparency-log entry body is ${b.kind}/${b.apiVersion}, not ${kind}/${version}`,
    );
  }
  const spec = rec(b.spec);
  const id = `${kind}/${version}`;
  if (id === "hashedrekord/0.0.1") return checkHashedRekordV1(spec, content, signer);
  if (id === "hashedrekord/0.0.2") return checkHashedRekordV2(spec, content, signer);
  if (content.type === "dsse") {
    if (id === "dsse/0.0.1") return checkDsseV1(spec, content, signer);
    if (id === "dsse/0.0.2") return checkDsseV2(spec, content, signer);
    if (id === "intoto/0.0.1" || id === "intoto/0.0.2") return;
  }
  mismatch(`unsupported transparency-log entry ${id} for a ${content.type} signature`);
}

/** {@linkcode checkTlogBody} for every entry. */
export function checkTlogBodies(
  entries: readonly TransparencyLogEntry[],
  content: SignedContent,
  signer: SignerIdentity,
): void {
  for (const e of entries) checkTlogBody(e, content, signer);
}
