/**
 * Byte and text helpers for building mutants: canonical base64, bit flips,
 * truncation, ECDSA signature malleation (high-S twin, same validity for a
 * lax verifier), and unicode lookalikes. Written independently of `lib/`
 * on purpose: the mutation campaign must not judge the code under test with
 * that same code.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import type { Rng } from "./prng.ts";

/** Canonical padded base64. */
export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

const STRICT_B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decode base64 the way a correct strict decoder sees it: undefined when the
 * text is not padded standard base64 (whitespace, other alphabet, bad length).
 * Non-zero padding bits decode to the same bytes as the canonical form.
 */
export function unb64(s: unknown): Uint8Array | undefined {
  if (typeof s !== "string" || !STRICT_B64.test(s)) return undefined;
  return new Uint8Array(Buffer.from(s, "base64"));
}

/** Lowercase hex. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** sha256 of bytes, lowercase hex. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return crypto.createHash("sha256").update(bytes).digest("hex");
}

/** UTF-8 encode / decode. */
export const utf8 = {
  encode: (s: string): Uint8Array => new TextEncoder().encode(s),
  decode: (b: Uint8Array): string => new TextDecoder().decode(b),
};

/** A copy of `bytes` with bit `bit` (0 … 8·len−1) flipped. */
export function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3] ^= 1 << (bit & 7);
  return out;
}

/** A copy with one random bit flipped; returns the bit index too. */
export function flipRandomBit(bytes: Uint8Array, rng: Rng): { bytes: Uint8Array; bit: number } {
  const bit = rng.int(bytes.length * 8);
  return { bytes: flipBit(bytes, bit), bit };
}

/** A proper prefix of `bytes` (possibly empty) or, sometimes, a suffix. */
export function truncate(bytes: Uint8Array, rng: Rng): { bytes: Uint8Array; how: string } {
  if (bytes.length <= 1) return { bytes: new Uint8Array(0), how: "emptied" };
  if (rng.chance(0.2)) {
    const from = 1 + rng.int(bytes.length - 1);
    return { bytes: bytes.slice(from), how: `first ${from} bytes cut` };
  }
  const keep = rng.int(bytes.length);
  return { bytes: bytes.slice(0, keep), how: `cut to ${keep}/${bytes.length} bytes` };
}

/** P-256 group order. */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

function derLen(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x100) return [0x81, n];
  return [0x82, n >> 8, n & 0xff];
}

function derInt(v: bigint): number[] {
  let h = v.toString(16);
  if (h.length % 2) h = `0${h}`;
  const bytes = [...Buffer.from(h, "hex")];
  if (bytes[0] & 0x80) bytes.unshift(0);
  return [0x02, ...derLen(bytes.length), ...bytes];
}

function readDerInt(der: Uint8Array, at: number): { value: bigint; next: number } {
  if (der[at] !== 0x02) throw new Error("not a DER INTEGER");
  const len = der[at + 1];
  if (len & 0x80) throw new Error("long INTEGER length");
  const body = der.slice(at + 2, at + 2 + len);
  return { value: BigInt(`0x${hex(body) || "0"}`), next: at + 2 + len };
}

/**
 * The other valid ECDSA P-256 signature over the same message: (r, n − s).
 * OpenSSL accepts both; only a check that the logged signature is this exact
 * signature can tell them apart.
 */
export function malleateEcdsaP256(der: Uint8Array): Uint8Array {
  if (der[0] !== 0x30) throw new Error("not a DER SEQUENCE");
  const start = der[1] & 0x80 ? 2 + (der[1] & 0x7f) : 2;
  const r = readDerInt(der, start);
  const s = readDerInt(der, r.next);
  const body = [...derInt(r.value), ...derInt(P256_N - s.value)];
  return new Uint8Array([0x30, ...derLen(body.length), ...body]);
}

/** Unicode lookalikes of ASCII characters (Cyrillic, Greek, fullwidth, punctuation). */
export const LOOKALIKES: Record<string, string[]> = {
  a: ["\u0430", "\u0251"],
  c: ["\u0441"],
  e: ["\u0435", "\uff45"],
  i: ["\u0456", "\u0131"],
  k: ["\u03ba"],
  l: ["\u04cf", "\u0031"],
  m: ["\u043c"],
  o: ["\u043e", "\u03bf", "0"],
  p: ["\u0440"],
  s: ["\u0455"],
  x: ["\u0445"],
  y: ["\u0443"],
  "-": ["\u2010", "\u2011", "\u2212"],
  "/": ["\u2215", "\u2044"],
  ".": ["\u2024", "\uff0e"],
  "0": ["O", "\u043e"],
  "1": ["l", "\u0399"],
};

/**
 * A lookalike variant of `s`: one character swapped for a lookalike, or an
 * invisible / spacing character inserted. Always differs from `s`.
 */
export function lookalike(s: string, rng: Rng): { text: string; how: string } {
  const positions = [...s].map((c, i) => [c, i] as const).filter(([c]) => LOOKALIKES[c]);
  const mode = rng.int(positions.length > 0 ? 4 : 1);
  if (mode === 0 || positions.length === 0) {
    const insert = rng.pick(["\u200b", "\u200d", "\u00a0", " ", "\u202e", "\ufeff"]);
    const at = rng.int(s.length + 1);
    return {
      text: s.slice(0, at) + insert + s.slice(at),
      how: `U+${insert.codePointAt(0)!.toString(16).padStart(4, "0")} inserted at ${at}`,
    };
  }
  const [c, i] = rng.pick(positions);
  const repl = rng.pick(LOOKALIKES[c]);
  return {
    text: s.slice(0, i) + repl + s.slice(i + 1),
    how: `'${c}' at ${i} → U+${repl.codePointAt(0)!.toString(16).padStart(4, "0")}`,
  };
}

/** Change one character of a lowercase hex string to another hex digit. */
export function flipHexChar(s: string, rng: Rng): string {
  const i = rng.int(s.length);
  const digits = "0123456789abcdef".replace(s[i], "");
  return s.slice(0, i) + rng.pick([...digits]) + s.slice(i + 1);
}

/** Change one character of a base64 text to another base64 character. */
export function flipB64Char(s: string, rng: Rng): { text: string; at: number } {
  const body = s.replace(/=+$/, "");
  const at = rng.int(Math.max(1, body.length));
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".replace(
    s[at],
    "",
  );
  return { text: s.slice(0, at) + rng.pick([...alphabet]) + s.slice(at + 1), at };
}
