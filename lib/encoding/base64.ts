/**
 * Strict base64 (RFC 4648 §4, padded) and hex decoding for signature
 * material: no whitespace, no URL alphabet, no missing padding. Lenient
 * decoders (`Buffer.from(s, "base64")`) silently skip bad characters, which
 * would let "Invalid base64 signature" decode to garbage bytes.
 *
 * @module
 */

import { Buffer } from "node:buffer";

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const HEX = /^(?:[0-9a-f]{2})*$/;

/** Is `s` canonical padded standard base64? */
function isStrictBase64(s: unknown): s is string {
  return typeof s === "string" && B64.test(s);
}

/** Decode strict base64; undefined when `s` is not strict base64. */
export function decodeBase64Strict(s: unknown): Uint8Array | undefined {
  if (!isStrictBase64(s)) return undefined;
  return new Uint8Array(Buffer.from(s, "base64"));
}

/** Encode bytes as standard padded base64. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** Decode lowercase hex; undefined when not lowercase hex of even length. */
export function decodeHexStrict(s: unknown): Uint8Array | undefined {
  if (typeof s !== "string" || !HEX.test(s)) return undefined;
  return new Uint8Array(Buffer.from(s, "hex"));
}
