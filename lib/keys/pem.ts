/**
 * PEM armour (RFC 7468) for key files: one block in, one block out, strict
 * base64, no RFC 1421 headers. Output matches Go's `pem.EncodeToMemory`
 * (64-character lines, trailing newline), which is what cosign writes.
 *
 * @module
 */

import { KeyFormatError } from "../errors/errors.ts";
import { decodeBase64Strict, encodeBase64 } from "../encoding/base64.ts";

/** One decoded PEM block. */
export interface PemBlock {
  /** The label between `BEGIN ` and the dashes, e.g. `PUBLIC KEY`. */
  label: string;
  /** The decoded body. */
  der: Uint8Array;
}

const LABEL_RE = /^[\x21-\x2c\x2e-\x7e](?:[\x20-\x2c\x2e-\x7e]*[\x21-\x2c\x2e-\x7e])?$/;

/**
 * Decode the single PEM block in `text`. Text outside the block is ignored
 * (as OpenSSL and Go do); a second block, RFC 1421 headers (legacy
 * OpenSSL encryption) or bad base64 are refused.
 *
 * @param text the file content
 * @param source what to call the input in errors, e.g. its path
 * @throws {KeyFormatError} when there is not exactly one well-formed block
 */
export function decodePem(text: string, source: string): PemBlock {
  const lines = text.replace(/\r\n?/g, "\n").split("\n").map((l) => l.trim());
  const begins = lines.flatMap((l, i) => (l.startsWith("-----BEGIN ") ? [i] : []));
  if (begins.length === 0) {
    throw new KeyFormatError(`${source} is not a PEM file (no -----BEGIN line)`);
  }
  if (begins.length > 1) {
    throw new KeyFormatError(`${source} holds more than one PEM block`, {
      hint: "give a file with exactly one key",
    });
  }
  const start = begins[0];
  const m = /^-----BEGIN (.+)-----$/.exec(lines[start]);
  const label = m?.[1];
  if (!label || !LABEL_RE.test(label)) {
    throw new KeyFormatError(`${source} has a malformed PEM BEGIN line`);
  }
  const end = lines.indexOf(`-----END ${label}-----`, start + 1);
  if (end < 0) {
    throw new KeyFormatError(`${source} has no '-----END ${label}-----' line`);
  }
  const body = lines.slice(start + 1, end);
  if (body.some((l) => l.includes(":"))) {
    throw new KeyFormatError(`${source} uses PEM headers (legacy OpenSSL encryption)`, {
      hint: "convert it to PKCS#8, e.g. 'openssl pkcs8 -topk8', or import it with cosign",
    });
  }
  const der = decodeBase64Strict(body.join(""));
  if (!der || der.length === 0) {
    throw new KeyFormatError(`${source}: the PEM body is not valid base64`);
  }
  return { label, der };
}

/** Armour `der` as one PEM block with 64-character lines and a final newline. */
export function encodePem(label: string, der: Uint8Array): string {
  if (!LABEL_RE.test(label)) throw new TypeError(`invalid PEM label '${label}'`);
  const b64 = encodeBase64(der);
  const lines = [`-----BEGIN ${label}-----`];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  lines.push(`-----END ${label}-----`, "");
  return lines.join("\n");
}
