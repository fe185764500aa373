/**
 * Strict parsers for the pieces cosign attaches to a signature: the Rekor
 * bundle, certificates (PEM or Go's `x509.Certificate` JSON with `Raw`), and
 * RFC 3161 timestamps. Each throws {@linkcode SignatureFormatError} naming
 * the field that is wrong.
 *
 * @module
 */

import { SignatureFormatError } from "../errors/errors.ts";
import { decodeBase64Strict, decodeHexStrict, encodeBase64 } from "../encoding/base64.ts";
import type { CosignDownloadEntry, RekorBundle } from "./model.ts";
import { isRecord } from "../json/record.ts";

/** Throw a format error for `field`. */
export function bad(field: string, what: string): never {
  throw new SignatureFormatError(`${field} ${what}`);
}

/** Decode a strict-base64 string field. */
export function b64Field(value: unknown, field: string): Uint8Array {
  if (typeof value !== "string") bad(field, "is not a string");
  const bytes = decodeBase64Strict(value);
  if (!bytes) bad(field, "is not valid base64");
  if (bytes.length === 0) bad(field, "is empty");
  return bytes;
}

function intField(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    bad(field, "is not a non-negative integer");
  }
  return value;
}

/** Parse a Rekor bundle (`{SignedEntryTimestamp, Payload: {body, integratedTime, logIndex, logID}}`). */
export function parseRekorBundle(value: unknown, field = "Bundle"): RekorBundle {
  if (!isRecord(value)) bad(field, "is not an object");
  const signedEntryTimestamp = b64Field(
    value.SignedEntryTimestamp,
    `${field}.SignedEntryTimestamp`,
  );
  const p = value.Payload;
  if (!isRecord(p)) bad(`${field}.Payload`, "is not an object");
  const body = b64Field(p.body, `${field}.Payload.body`);
  const integratedTime = intField(p.integratedTime, `${field}.Payload.integratedTime`);
  const logIndex = intField(p.logIndex, `${field}.Payload.logIndex`);
  const logIdBytes = decodeHexStrict(p.logID);
  if (!logIdBytes || logIdBytes.length !== 32) {
    bad(`${field}.Payload.logID`, "is not 64 lowercase hex digits");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    bad(`${field}.Payload.body`, "is not a JSON Rekor entry");
  }
  if (
    !isRecord(parsed) || typeof parsed.kind !== "string" || typeof parsed.apiVersion !== "string"
  ) {
    bad(`${field}.Payload.body`, "has no kind / apiVersion");
  }
  return {
    signedEntryTimestamp,
    body,
    integratedTime,
    logIndex,
    logID: p.logID as string,
    kind: parsed.kind,
    kindVersion: parsed.apiVersion,
  };
}

/** The `Bundle` of a download entry, re-encoded from a parsed bundle. */
export function rawBundle(b: RekorBundle): CosignDownloadEntry["Bundle"] {
  return {
    SignedEntryTimestamp: encodeBase64(b.signedEntryTimestamp),
    Payload: {
      body: encodeBase64(b.body),
      integratedTime: b.integratedTime,
      logIndex: b.logIndex,
      logID: b.logID,
    },
  };
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;

/** Decode every CERTIFICATE block of a PEM text (at least one). */
export function parsePemCertificates(value: unknown, field: string): Uint8Array[] {
  if (typeof value !== "string") bad(field, "is not a string");
  const out: Uint8Array[] = [];
  // One pass (linear in the text): only whitespace may stand between blocks.
  let last = 0;
  for (const m of value.matchAll(PEM_CERT)) {
    if (value.slice(last, m.index).trim() !== "") {
      bad(field, "holds text outside PEM certificate blocks");
    }
    const der = decodeBase64Strict(m[1].replace(/\s+/g, ""));
    if (!der || der.length === 0) bad(field, "holds a certificate that is not valid base64");
    out.push(der);
    last = m.index + m[0].length;
  }
  if (out.length === 0) bad(field, "holds no PEM certificate");
  if (value.slice(last).trim() !== "") bad(field, "holds text outside PEM certificate blocks");
  return out;
}

/** A certificate in the download list: Go's x509 JSON (`{Raw: base64 DER, …}`) or PEM. */
export function parseListCertificate(value: unknown, field: string): Uint8Array {
  if (typeof value === "string") {
    const certs = parsePemCertificates(value, field);
    if (certs.length !== 1) bad(field, "holds more than one certificate");
    return certs[0];
  }
  if (!isRecord(value)) bad(field, "is not a certificate");
  return b64Field(value.Raw, `${field}.Raw`);
}

/** `{SignedRFC3161Timestamp: base64}` → DER bytes. */
export function parseRfc3161(value: unknown, field: string): Uint8Array {
  if (!isRecord(value)) bad(field, "is not an object");
  return b64Field(value.SignedRFC3161Timestamp, `${field}.SignedRFC3161Timestamp`);
}
