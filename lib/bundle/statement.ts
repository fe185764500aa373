/**
 * The in-toto statement inside a DSSE bundle: for `verify-bundle` the
 * artifact (file or `sha256:` digest) must be one of the statement's
 * subjects. Only `application/vnd.in-toto+json` envelopes holding a
 * statement of a known `_type` are accepted; an unknown or missing `_type`
 * is refused rather than read as if it were a v1 statement.
 *
 * @module
 */

import { refuse } from "../errors/errors.ts";
import { isRecord } from "../json/record.ts";

/** DSSE payload type of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";

/** Statement `_type` values whose `subject` semantics are known. */
const STATEMENT_TYPES: readonly string[] = [
  "https://in-toto.io/Statement/v1",
  "https://in-toto.io/Statement/v0.1",
];

/**
 * Parse the envelope payload as an in-toto statement and check that one of
 * its subjects has the SHA-256 digest `sha256Hex` (lowercase hex).
 * @returns the parsed statement.
 * @throws VerificationError (`STATEMENT_INVALID`, `SUBJECT_MISMATCH`).
 */
export function checkStatementSubject(
  payloadType: string,
  payload: Uint8Array,
  sha256Hex: string,
): Record<string, unknown> {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    refuse(
      "STATEMENT_INVALID",
      `the DSSE payload type is ${JSON.stringify(payloadType)}, not ${IN_TOTO_PAYLOAD_TYPE}`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch {
    refuse("STATEMENT_INVALID", "the DSSE payload is not JSON");
  }
  if (!isRecord(doc)) refuse("STATEMENT_INVALID", "the DSSE payload is not a JSON object");
  if (typeof doc._type !== "string" || !STATEMENT_TYPES.includes(doc._type)) {
    refuse(
      "STATEMENT_INVALID",
      `the in-toto statement _type ${JSON.stringify(doc._type ?? null)} is not a known one`,
    );
  }
  if (!Array.isArray(doc.subject) || doc.subject.length === 0) {
    refuse("STATEMENT_INVALID", "the in-toto statement has no subjects");
  }
  const want = sha256Hex.toLowerCase();
  const found = doc.subject.some((s) =>
    isRecord(s) && isRecord(s.digest) && typeof s.digest.sha256 === "string" &&
    s.digest.sha256.toLowerCase() === want
  );
  if (!found) refuse("SUBJECT_MISMATCH", `sha256:${want} is not a subject of the statement`);
  return doc;
}
