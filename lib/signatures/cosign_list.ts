/**
 * Parse (and write) the signatures `cosign download signature` prints (one
 * JSON object per line; read as well as a JSON list): one object per signature with `Base64Signature`, `Payload`, `Cert`, `Chain`,
 * `Bundle` and `RFC3161Timestamp`. This is also the format of Dangerzone's
 * signature store. Parsing is strict: wrong types, bad base64 or malformed
 * Rekor entries are refused with {@linkcode SignatureFormatError}.
 *
 * @module
 */

import { SignatureFormatError } from "../errors/errors.ts";
import { encodeBase64 } from "../encoding/base64.ts";
import {
  b64Field,
  parseListCertificate,
  parseRekorBundle,
  parseRfc3161,
  rawBundle,
} from "./fields.ts";
import { isRecord } from "../json/record.ts";
import type { CosignDownloadEntry, CosignSignature } from "./model.ts";
import { JsonShapeError, parseBoundedJson } from "../json/bounded.ts";

/**
 * Parse one list entry. `field` prefixes error messages (e.g. `signature 2`).
 * @throws SignatureFormatError
 */
export function parseCosignEntry(value: unknown, field = "signature"): CosignSignature {
  if (!isRecord(value)) throw new SignatureFormatError(`${field} is not a JSON object`);
  const signature = b64Field(value.Base64Signature, `${field}: Base64Signature`);
  const payload = b64Field(value.Payload, `${field}: Payload`);
  const sig: CosignSignature = {
    signature,
    payload,
    raw: {
      Base64Signature: value.Base64Signature as string,
      Payload: value.Payload as string,
      Cert: null,
      Chain: null,
      Bundle: null,
      RFC3161Timestamp: null,
    },
  };
  if (value.Cert !== null && value.Cert !== undefined) {
    sig.certificate = parseListCertificate(value.Cert, `${field}: Cert`);
    sig.raw.Cert = value.Cert;
  }
  if (value.Chain !== null && value.Chain !== undefined) {
    if (!Array.isArray(value.Chain)) {
      throw new SignatureFormatError(`${field}: Chain is not a list`);
    }
    sig.chain = value.Chain.map((c, i) => parseListCertificate(c, `${field}: Chain[${i}]`));
    sig.raw.Chain = value.Chain;
  }
  if (value.Bundle !== null && value.Bundle !== undefined) {
    sig.bundle = parseRekorBundle(value.Bundle, `${field}: Bundle`);
    sig.raw.Bundle = rawBundle(sig.bundle);
  }
  if (value.RFC3161Timestamp !== null && value.RFC3161Timestamp !== undefined) {
    sig.rfc3161Timestamp = parseRfc3161(value.RFC3161Timestamp, `${field}: RFC3161Timestamp`);
    sig.raw.RFC3161Timestamp = { SignedRFC3161Timestamp: encodeBase64(sig.rfc3161Timestamp) };
  }
  return sig;
}

/** Outcome of parsing one entry of a list without stopping at the first bad one. */
export type ParsedEntry =
  | { index: number; ok: true; signature: CosignSignature }
  | { index: number; ok: false; error: SignatureFormatError };

/** One signature's JSON, or why it could not be read. */
type RawEntry = { ok: true; value: unknown } | { ok: false; error: SignatureFormatError };

function parseText(text: string, what: string): unknown {
  try {
    return parseBoundedJson(text);
  } catch (cause) {
    if (cause instanceof JsonShapeError) {
      throw new SignatureFormatError(`${what} ${cause.message}`, { cause });
    }
    throw new SignatureFormatError(`${what} is not JSON`, { cause });
  }
}

/**
 * The entries of a signature file: a JSON list (Dangerzone's store, our
 * own output), or the JSON lines `cosign download signature` prints (one
 * object per line; a single signature is a single object). Blank lines and
 * CRLF line ends are ignored; a line that is not JSON is a bad entry.
 */
function rawEntries(text: string): RawEntry[] {
  let whole: unknown;
  let wholeError: SignatureFormatError | undefined;
  try {
    whole = parseText(text, "the signature file");
  } catch (e) {
    wholeError = e as SignatureFormatError;
  }
  if (Array.isArray(whole)) return whole.map((value) => ({ ok: true, value }));
  if (wholeError === undefined && !isRecord(whole)) {
    throw new SignatureFormatError("the signature file is not a JSON list of signatures");
  }
  const out: RawEntry[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    try {
      out.push({ ok: true, value: parseText(line, `line ${i + 1}`) });
    } catch (e) {
      out.push({ ok: false, error: e as SignatureFormatError });
    }
  }
  if (out.length > 0 && out.every((e) => !e.ok) && wholeError) throw wholeError;
  return out;
}

/**
 * Parse a whole list, keeping going past bad entries so each can be reported.
 * A string is read as a JSON list or as JSON lines (see `rawEntries`).
 * @throws SignatureFormatError when the document is neither.
 */
export function parseCosignListEntries(input: string | unknown): ParsedEntry[] {
  const raw: RawEntry[] = typeof input === "string"
    ? rawEntries(input)
    : Array.isArray(input)
    ? input.map((value) => ({ ok: true, value }))
    : [];
  if (typeof input !== "string" && !Array.isArray(input)) {
    throw new SignatureFormatError("the signature file is not a JSON list of signatures");
  }
  return raw.map((entry, index) => {
    const field = `signature ${index + 1}`;
    if (!entry.ok) {
      return {
        index,
        ok: false,
        error: new SignatureFormatError(`${field}: ${entry.error.message}`),
      };
    }
    try {
      return { index, ok: true, signature: parseCosignEntry(entry.value, field) };
    } catch (e) {
      if (e instanceof SignatureFormatError) return { index, ok: false, error: e };
      throw e;
    }
  });
}

/**
 * Parse a whole list; every entry must be well-formed.
 * @throws SignatureFormatError for the first malformed entry.
 */
export function parseCosignSignatureList(input: string | unknown): CosignSignature[] {
  return parseCosignListEntries(input).map((e) => {
    if (!e.ok) throw e.error;
    return e.signature;
  });
}

/** Serialize signatures in the `cosign download signature` list format (one JSON document). */
export function toCosignDownloadJson(signatures: readonly CosignSignature[]): string {
  const list: CosignDownloadEntry[] = signatures.map((s) => s.raw);
  return JSON.stringify(list);
}
