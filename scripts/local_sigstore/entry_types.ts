/**
 * Rekor v1 entry types for the local stand-in: validate a proposed entry the
 * way real Rekor does (the signature must verify against the key or
 * certificate inside it) and produce its canonicalized body.
 *
 * Supported: `hashedrekord` 0.0.1 (signature over a digest) and `dsse` 0.0.1
 * (DSSE envelope, every signature checked over its PAE). Anything else is
 * rejected with {@linkcode EntryRejectedError}, which the HTTP layer maps to
 * 400 like Rekor.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import { dsse, json, pem } from "@sigstore/core";
import { DIGEST_LENGTHS, UnsupportedKeyError, verifyPrehashed } from "./prehashed_verify.ts";

/** A proposed entry Rekor would refuse (HTTP 400). */
export class EntryRejectedError extends Error {}

/** A validated entry, ready to be appended to the log. */
export interface CanonicalEntry {
  /** Entry kind, e.g. `hashedrekord`. */
  kind: string;
  /** Entry API version, e.g. `0.0.1`. */
  apiVersion: string;
  /** Canonical JSON (RFC 8785) of the entry: the log leaf. */
  body: Uint8Array;
  /** Values `/api/v1/index/retrieve` finds it by (`sha256:<hex>` of artifact / payload). */
  searchHashes: string[];
}

type Json = Record<string, unknown>;

function obj(v: unknown, what: string): Json {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new EntryRejectedError(`${what} must be an object`);
  }
  return v as Json;
}

function str(v: unknown, what: string): string {
  if (typeof v !== "string" || v.length === 0) {
    throw new EntryRejectedError(`${what} must be a non-empty string`);
  }
  return v;
}

function strictBase64(v: unknown, what: string): Uint8Array {
  const s = str(v, what);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) {
    throw new EntryRejectedError(`${what} is not valid base64`);
  }
  return new Uint8Array(Buffer.from(s, "base64"));
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

/** A public key or certificate as found in an entry, with its canonical PEM. */
interface Verifier {
  key: crypto.KeyObject;
  canonicalPem: string;
}

/** Parse the base64-encoded PEM (public key or X.509 certificate) of an entry. */
function parseVerifier(v: unknown, what: string): Verifier {
  const text = new TextDecoder().decode(strictBase64(v, what));
  try {
    if (text.includes("-----BEGIN CERTIFICATE-----")) {
      const cert = new crypto.X509Certificate(text);
      return { key: cert.publicKey, canonicalPem: pem.fromDER(Buffer.from(cert.raw)) };
    }
    const key = crypto.createPublicKey(text);
    return { key, canonicalPem: key.export({ type: "spki", format: "pem" }).toString() };
  } catch {
    throw new EntryRejectedError(`${what} is not a PEM public key or certificate`);
  }
}

/** The hash node:crypto must use to check a non-prehashed signature with this key. */
function hashForKey(key: crypto.KeyObject): string | null {
  switch (key.asymmetricKeyType) {
    case "ed25519":
    case "ed448":
      return null;
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === "secp384r1") return "sha384";
      if (curve === "secp521r1") return "sha512";
      return "sha256";
    }
    default:
      return "sha256";
  }
}

function canonical(entry: Json): Uint8Array {
  return new TextEncoder().encode(json.canonicalize(entry));
}

function hashedrekord001(spec: Json): CanonicalEntry {
  const signature = obj(spec.signature, "spec.signature");
  const sig = strictBase64(signature.content, "spec.signature.content");
  const verifier = parseVerifier(
    obj(signature.publicKey, "spec.signature.publicKey").content,
    "spec.signature.publicKey.content",
  );
  const hash = obj(obj(spec.data, "spec.data").hash, "spec.data.hash");
  const algorithm = str(hash.algorithm, "spec.data.hash.algorithm");
  const value = str(hash.value, "spec.data.hash.value");
  const length = DIGEST_LENGTHS[algorithm];
  if (length === undefined) {
    throw new EntryRejectedError(`unsupported hash algorithm ${algorithm}`);
  }
  if (!new RegExp(`^[0-9a-f]{${length * 2}}$`).test(value)) {
    throw new EntryRejectedError(`spec.data.hash.value is not a lowercase hex ${algorithm} digest`);
  }
  let ok: boolean;
  try {
    ok = verifyPrehashed(verifier.key, algorithm, Buffer.from(value, "hex"), sig);
  } catch (e) {
    if (e instanceof UnsupportedKeyError) throw new EntryRejectedError(e.message);
    throw e;
  }
  if (!ok) throw new EntryRejectedError("verifying signature: invalid signature");
  return {
    kind: "hashedrekord",
    apiVersion: "0.0.1",
    body: canonical({
      apiVersion: "0.0.1",
      kind: "hashedrekord",
      spec: {
        data: { hash: { algorithm, value } },
        signature: {
          content: b64(sig),
          publicKey: { content: b64(new TextEncoder().encode(verifier.canonicalPem)) },
        },
      },
    }),
    searchHashes: [`${algorithm}:${value}`],
  };
}

function dsse001(spec: Json): CanonicalEntry {
  const proposed = obj(spec.proposedContent, "spec.proposedContent");
  const envelopeText = str(proposed.envelope, "spec.proposedContent.envelope");
  let envelope: Json;
  try {
    envelope = obj(JSON.parse(envelopeText), "envelope");
  } catch (e) {
    if (e instanceof EntryRejectedError) throw e;
    throw new EntryRejectedError("spec.proposedContent.envelope is not JSON");
  }
  const payloadType = str(envelope.payloadType, "envelope.payloadType");
  const payload = strictBase64(envelope.payload, "envelope.payload");
  if (!Array.isArray(envelope.signatures) || envelope.signatures.length === 0) {
    throw new EntryRejectedError("envelope.signatures must be a non-empty array");
  }
  if (!Array.isArray(proposed.verifiers) || proposed.verifiers.length === 0) {
    throw new EntryRejectedError("spec.proposedContent.verifiers must be a non-empty array");
  }
  const verifiers = proposed.verifiers.map((v, i) =>
    parseVerifier(v, `spec.proposedContent.verifiers[${i}]`)
  );
  const pae = dsse.preAuthEncoding(payloadType, Buffer.from(payload));
  const signatures = envelope.signatures.map((s, i) => {
    const sig = strictBase64(
      obj(s, `envelope.signatures[${i}]`).sig,
      `envelope.signatures[${i}].sig`,
    );
    const match = verifiers.find((v) => {
      try {
        return crypto.verify(hashForKey(v.key), pae, v.key, sig);
      } catch {
        return false;
      }
    });
    if (!match) {
      throw new EntryRejectedError(`envelope.signatures[${i}] does not verify with any verifier`);
    }
    return {
      signature: b64(sig),
      verifier: b64(new TextEncoder().encode(match.canonicalPem)),
    };
  });
  const sha256 = (data: Uint8Array) => crypto.createHash("sha256").update(data).digest("hex");
  const payloadHash = sha256(payload);
  return {
    kind: "dsse",
    apiVersion: "0.0.1",
    body: canonical({
      apiVersion: "0.0.1",
      kind: "dsse",
      spec: {
        envelopeHash: {
          algorithm: "sha256",
          value: sha256(new TextEncoder().encode(envelopeText)),
        },
        payloadHash: { algorithm: "sha256", value: payloadHash },
        signatures,
      },
    }),
    searchHashes: [`sha256:${payloadHash}`],
  };
}

/**
 * Validate a proposed Rekor v1 entry (the parsed JSON of a
 * `POST /api/v1/log/entries` body) and canonicalize it.
 *
 * @throws {EntryRejectedError} malformed entry, unsupported kind, or a
 *   signature that does not verify.
 */
export function canonicalizeProposedEntry(proposed: unknown): CanonicalEntry {
  const entry = obj(proposed, "proposed entry");
  const kind = str(entry.kind, "kind");
  const apiVersion = str(entry.apiVersion, "apiVersion");
  const spec = obj(entry.spec, "spec");
  if (kind === "hashedrekord" && apiVersion === "0.0.1") return hashedrekord001(spec);
  if (kind === "dsse" && apiVersion === "0.0.1") return dsse001(spec);
  throw new EntryRejectedError(`unsupported entry type ${kind} ${apiVersion}`);
}
